import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parseManifestText } from './manifest.loader.js';
import { buildInventory, type PolicyInventory } from './policy-inventory.js';
import {
  parseProbe,
  parseProbeObject,
  PolicyTestInputError,
  renderMatrix,
  runPolicyTestCli,
  runProbes,
} from './policy-test.js';

const FIXTURES = path.resolve(process.cwd(), 'test/policy/fixtures');

function small(): PolicyInventory {
  const text = `
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Namespace, metadata: {name: x}}
- {apiVersion: v1, kind: Pod, metadata: {name: a, namespace: x, labels: {pod: a}}, status: {podIP: 10.0.1.1}}
- {apiVersion: v1, kind: Pod, metadata: {name: b, namespace: x, labels: {pod: b}}, status: {podIP: 10.0.1.2}}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: a-from-b, namespace: x}
  spec: {podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]}
`;
  return buildInventory(parseManifestText(text, 'c.yaml').objects);
}

describe('policy-test engine', () => {
  it('parses probes and names the bad field', () => {
    expect(parseProbe('x/a', '10.0.0.1', '80', 'udp')).toMatchObject({
      port: 80,
      protocol: 'UDP',
      src: { type: 'pod', namespace: 'x', name: 'a' },
      dst: { type: 'ip', ip: '10.0.0.1' },
    });
    expect(parseProbe('x/a', 'fd00::1', 443).protocol).toBe('TCP');
    expect(() => parseProbe('x/a', 'x/b', 0, 'TCP')).toThrow(
      new PolicyTestInputError('port', 'must be a port number 1-65535 or a port name (got 0)'),
    );
    expect(() => parseProbe('x', 'x/b', 80)).toThrow(/^from: "x" is neither NAMESPACE\/POD nor an IP address/);
    expect(() => parseProbe('x/a', 'x/b', 80, 'ICMP')).toThrow(/^protocol: must be TCP, UDP or SCTP/);
  });

  it('runs probes in input order with the JSON-lines shape', () => {
    const res = runProbes(small(), [
      parseProbe('x/b', 'x/a', 80),
      parseProbe('10.0.1.2', '10.0.1.1', 80),
      parseProbe('8.8.8.8', 'x/a', 80),
      parseProbe('x/a', 'x/b', 80),
    ]);
    expect(res[0]).toEqual({
      from: 'x/b',
      to: 'x/a',
      port: 80,
      protocol: 'TCP',
      allowed: true,
      egress: { allowed: true, isolatedBy: [], allowedBy: [] },
      ingress: {
        allowed: true,
        isolatedBy: ['x/a-from-b'],
        allowedBy: ['x/a-from-b'],
        admittedBy: [{ policy: 'x/a-from-b', direction: 'ingress', ruleIndex: 0 }],
      },
    });
    expect(res.map((r) => r.allowed)).toEqual([true, true, false, true]);
    expect(() => runProbes(small(), [parseProbe('x/zz', 'x/a', 80)])).toThrow(
      /^from: pod x\/zz is not in the cluster manifests/,
    );
  });

  it('parses probe objects and names the probe in errors', () => {
    const at = (i: number) => `probes[${i}].`;
    const probes = [
      parseProbeObject({ from: 'x/b', to: 'x/a', port: 80, expected: 'deny' }, 'probes[0].'),
      parseProbeObject({ from: 'x/b', to: 'x/q', port: 80 }, 'probes[1].'),
    ];
    expect(probes[0]).toMatchObject({ from: 'x/b', to: 'x/a', port: 80, protocol: 'TCP', expected: 'deny' });
    expect(runProbes(small(), probes.slice(0, 1), at)[0]).toMatchObject({ allowed: true, expected: 'deny' });
    expect(() => runProbes(small(), probes, at)).toThrow(/^probes\[1\]\.to: pod x\/q/);
    expect(() => parseProbeObject({ from: 'x/b', to: 'x/a', port: 'http_x' }, 'probes[1].')).toThrow(
      /^probes\[1\]\.port: /,
    );
    expect(() => parseProbeObject({ from: 'x/b', to: 'x/a', port: 80, expected: 'yes' }, 'line 3: ')).toThrow(
      'line 3: expected: must be allow or deny (got "yes")',
    );
  });

  it('renders a reachability matrix readable in a terminal', () => {
    expect(renderMatrix(small(), 80, 'TCP')).toBe(
      [
        'Reachability TCP/80: rows = from, columns = to; . allowed, X denied, - self (not evaluated)',
        '    x/a x/b',
        'x/a  -   .',
        'x/b  .   -',
        '2 of 2 pairs allowed',
        '',
      ].join('\n'),
    );
  });

  it('uses numbered columns for wide clusters', () => {
    const out = renderMatrix(small(), 80, 'TCP', { maxWidth: 5 });
    expect(out.split('\n')[1]).toBe('      1 2');
    expect(out.split('\n')[2]).toBe('1 x/a - .');
  });

  it('runs the CLI with --cluster, one probe, --probes and --matrix', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = {
      stdout: (s: string) => out.push(s),
      stderr: (s: string) => err.push(s),
      readFile: async () =>
        '{"from":"x/a","to":"y/b","port":80}\n\n{"from":"y/b","to":"x/a","port":81,"protocol":"UDP"}\n',
    };
    const cluster = [path.join(FIXTURES, 'xyz-cluster.yaml'), path.join(FIXTURES, 'xyz-deny-x.yaml')];
    expect(await runPolicyTestCli({ cluster, from: 'y/a', to: 'x/a', port: '80', protocol: 'TCP' }, io)).toBe(0);
    expect(JSON.parse(out[0])).toMatchObject({
      from: 'y/a',
      to: 'x/a',
      allowed: false,
      ingress: { isolatedBy: ['x/deny-ingress'] },
    });
    out.length = 0;
    expect(await runPolicyTestCli({ cluster, probes: 'p.jsonl' }, io)).toBe(0);
    expect(out.map((l) => JSON.parse(l).allowed)).toEqual([true, false]);
    out.length = 0;
    expect(
      await runPolicyTestCli({ cluster, matrix: true, port: 80, protocol: 'TCP', namespaces: ['x', 'y'] }, io),
    ).toBe(0);
    expect(out[0]).toContain('\ny/a  X   X   X   -   .   .\n');
    expect(out[0]).toContain('15 of 30 pairs allowed');
    expect(await runPolicyTestCli({ cluster, from: 'y/a', to: 'x/a' }, io)).toBe(2);
    expect(err.pop()).toBe('policy-test: --port is required (a number or a named port)\n');
    expect(await runPolicyTestCli({ cluster, from: 'w/a', to: 'x/a', port: 80 }, io)).toBe(2);
    expect(err.pop()).toBe(
      'policy-test: --from: pod w/a is not in the cluster manifests; did you mean x/a, y/a, z/a?\n',
    );
    expect(await runPolicyTestCli({ cluster: [] }, io)).toBe(2);
  });
});

const EXAMPLE = [path.resolve(process.cwd(), 'examples/cluster')];
const FRONTEND = 'shop/frontend-7d9f8b6c5d-x2kqp';
const CART = 'shop/cart-5c8d7f9b4-m7wtn';
const FRONTEND_LABELS = 'shop/app.kubernetes.io/name=frontend,pod-template-hash=7d9f8b6c5d';
const CART_LABELS = 'shop/app.kubernetes.io/name=cart,pod-template-hash=5c8d7f9b4';

/** The CLI against the example cluster, capturing stdout and stderr. */
async function cli(
  opts: Partial<Parameters<typeof runPolicyTestCli>[0]>,
  probesFile = '',
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runPolicyTestCli(
    { cluster: EXAMPLE, ...opts },
    { stdout: (s) => out.push(s), stderr: (s) => err.push(s), readFile: async () => probesFile },
  );
  return { code, out: out.join(''), err: err.join('') };
}

describe('policy-test on the example cluster', () => {
  it('resolves a named port on the destination pod and names the admitting rules', async () => {
    const r = await cli({ from: FRONTEND, to: CART, port: 'http', output: 'json' });
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(r.out)).toEqual({
      from: FRONTEND,
      to: CART,
      port: 8080,
      portName: 'http',
      protocol: 'TCP',
      allowed: true,
      egress: {
        allowed: true,
        isolatedBy: ['shop/allow-dns', 'shop/default-deny', 'shop/frontend-egress'],
        allowedBy: ['shop/frontend-egress'],
        admittedBy: [{ policy: 'shop/frontend-egress', direction: 'egress', ruleIndex: 0 }],
      },
      ingress: {
        allowed: true,
        isolatedBy: ['shop/allow-frontend-to-cart', 'shop/default-deny'],
        allowedBy: ['shop/allow-frontend-to-cart'],
        admittedBy: [{ policy: 'shop/allow-frontend-to-cart', direction: 'ingress', ruleIndex: 0 }],
      },
    });
  });

  it('gives the reason of each denied side and the pod an IP resolved to', async () => {
    const r = await cli({ from: '10.244.1.10', to: CART, port: 'metrics', output: 'json' });
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out) as Record<string, unknown>;
    expect(res).toMatchObject({ from: '10.244.1.10', fromPod: FRONTEND, to: CART, port: 9090, allowed: false });
    expect(res).not.toHaveProperty('toPod');
    expect(res.egress).toMatchObject({
      allowed: false,
      reason: `no rule of shop/allow-dns, shop/default-deny, shop/frontend-egress admits TCP/9090 to ${CART_LABELS} (egress from ${FRONTEND_LABELS} is isolated: denied by default isolation); closest: shop/frontend-egress egress[0] admits this peer on TCP/8080 only`,
    });
    expect(res.ingress).toMatchObject({
      allowed: false,
      reason: `no rule of shop/allow-frontend-to-cart, shop/default-deny admits TCP/9090 from ${FRONTEND_LABELS} (ingress to ${CART_LABELS} is isolated: denied by default isolation); closest: shop/allow-frontend-to-cart ingress[0] admits this peer on TCP/http only`,
    });
  });

  it('prints a table: verdict, isolating policies, admitting rule, reason', async () => {
    const ok = await cli({ from: FRONTEND, to: '10.244.1.11', port: 'http', output: 'table' });
    expect(ok.code).toBe(0);
    expect(ok.out).toBe(
      [
        `ALLOW  ${FRONTEND} -> 10.244.1.11 (${CART}) TCP/8080 (http)`,
        '  egress   allow  isolated by shop/allow-dns, shop/default-deny, shop/frontend-egress',
        '                  admitted by shop/frontend-egress egress[0]',
        '  ingress  allow  isolated by shop/allow-frontend-to-cart, shop/default-deny',
        '                  admitted by shop/allow-frontend-to-cart ingress[0]',
        '',
      ].join('\n'),
    );
    const open = await cli({ from: 'monitoring/prometheus-0', to: 'db/postgres-0', port: '5432', output: 'table' });
    expect(open.out).toBe(
      [
        'ALLOW  monitoring/prometheus-0 -> db/postgres-0 TCP/5432',
        '  egress   allow  not isolated',
        '  ingress  allow  not isolated',
        '',
      ].join('\n'),
    );
    const drop = await cli({ from: '192.0.2.7', to: CART, port: '8080', output: 'table' });
    expect(drop.out).toBe(
      [
        `DENY   192.0.2.7 -> ${CART} TCP/8080`,
        '  egress   allow  not enforced (192.0.2.7 is not a pod)',
        '  ingress  deny   isolated by shop/allow-frontend-to-cart, shop/default-deny',
        `                  no rule of shop/allow-frontend-to-cart, shop/default-deny admits TCP/8080 from 192.0.2.7 (ingress to ${CART_LABELS} is isolated: denied by default isolation); closest: shop/allow-frontend-to-cart ingress[0] admits TCP/http from/to namespace shop and pods app.kubernetes.io/name=frontend only`,
        '',
      ].join('\n'),
    );
  });

  it('prints JSON when stdout is not a terminal and a table when it is', async () => {
    const io = (tty: boolean, out: string[]) => ({ stdout: (s: string) => out.push(s), stderr: () => {}, isTTY: tty });
    const pipe: string[] = [];
    const term: string[] = [];
    const opts = { cluster: EXAMPLE, from: FRONTEND, to: CART, port: '8080' };
    expect(await runPolicyTestCli(opts, io(false, pipe))).toBe(0);
    expect(await runPolicyTestCli(opts, io(true, term))).toBe(0);
    expect(JSON.parse(pipe.join('')).allowed).toBe(true);
    expect(term.join('')).toMatch(/^ALLOW {2}shop\/frontend/);
  });

  it('exits 1 and names the probes that disagree with --expect or `expected`', async () => {
    const agree = await cli({ from: FRONTEND, to: CART, port: 'http', expect: 'allow', output: 'json' });
    expect(agree.code).toBe(0);
    expect(JSON.parse(agree.out)).toMatchObject({ expected: 'allow', allowed: true });
    const disagree = await cli({ from: FRONTEND, to: CART, port: '9090', expect: 'allow', output: 'json' });
    expect(disagree.code).toBe(1);
    expect(disagree.err).toBe(
      `policy-test: expected allow, got deny: ${FRONTEND} -> ${CART} TCP/9090\npolicy-test: 1 of 1 probes disagreed with the expected verdict\n`,
    );
    const file = [
      `{"from":"${FRONTEND}","to":"${CART}","port":"http","expected":"allow"}`,
      `{"from":"${FRONTEND}","to":"db/postgres-0","port":5432,"expected":"allow"}`,
      `{"from":"${FRONTEND}","to":"db/postgres-0","port":5432,"expected":"deny"}`,
      `{"from":"${FRONTEND}","to":"db/postgres-0","port":5432}`,
    ].join('\n');
    const many = await cli({ probes: 'p.jsonl', expect: 'deny', output: 'json' }, file);
    expect(many.code).toBe(1);
    expect(
      many.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).expected),
    ).toEqual(['allow', 'allow', 'deny', 'deny']);
    expect(many.err).toBe(
      [
        `policy-test: line 2: expected allow, got deny: ${FRONTEND} -> db/postgres-0 TCP/5432`,
        'policy-test: 1 of 4 probes disagreed with the expected verdict',
        '',
      ].join('\n'),
    );
    expect((await cli({ from: FRONTEND, to: CART, port: '80', expect: 'maybe' })).err).toBe(
      'policy-test: --expect: must be allow or deny (got "maybe")\n',
    );
  });

  it('reports bad lines of a probes file with their line numbers and evaluates the rest', async () => {
    const file = [
      '# header',
      `{"from":"${FRONTEND}","to":"${CART}","port":"http"}`,
      'not json',
      `{"from":"${FRONTEND}","to":"${CART}","port":"grpc"}`,
      `{"from":"shop/frontend","to":"${CART}","port":8080}`,
      `{"from":"${FRONTEND}","to":"${CART}"}`,
      `{"from":"${FRONTEND}","to":"192.0.2.7","port":"http"}`,
      `{"from":"${FRONTEND}","to":"${CART}","port":"metrics","expected":"nope"}`,
      `{"from":"${FRONTEND}","to":"${CART}","port":"metrics"}`,
    ].join('\n');
    const r = await cli({ probes: 'p.jsonl', output: 'json' }, file);
    expect(r.code).toBe(2);
    expect(
      r.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).port),
    ).toEqual([8080, 9090]);
    expect(r.err).toBe(
      [
        'policy-test: line 3: not JSON: Unexpected token \'o\', "not json" is not valid JSON',
        `policy-test: line 4: port: pod ${CART} has no TCP container port named grpc (its named ports: http TCP/8080, metrics TCP/9090)`,
        `policy-test: line 5: from: pod shop/frontend is not in the cluster manifests; did you mean ${FRONTEND}?`,
        'policy-test: line 6: port is required (a number or a named port)',
        'policy-test: line 7: port: a named port needs a destination pod, and 192.0.2.7 is not a pod in the cluster manifests',
        'policy-test: line 8: expected: must be allow or deny (got "nope")',
        'policy-test: 6 of 8 probes not evaluated (bad input)',
        '',
      ].join('\n'),
    );
  });

  it('says what --port needs and suggests up to 3 close pod names', async () => {
    expect((await cli({ from: FRONTEND, to: CART })).err).toBe(
      'policy-test: --port is required (a number or a named port)\n',
    );
    expect((await cli({ from: FRONTEND, to: CART, port: 'HTTP!' })).err).toBe(
      'policy-test: --port: must be a port number 1-65535 or a port name (got "HTTP!")\n',
    );
    expect((await cli({ from: 'shop/frontend', to: CART, port: '80' })).err).toBe(
      `policy-test: --from: pod shop/frontend is not in the cluster manifests; did you mean ${FRONTEND}?\n`,
    );
    expect((await cli({ from: FRONTEND, to: 'shop/cart-5c8d7f9b4-m7wtm', port: '80' })).err).toBe(
      `policy-test: --to: pod shop/cart-5c8d7f9b4-m7wtm is not in the cluster manifests; did you mean ${CART}?\n`,
    );
    expect((await cli({ from: FRONTEND, to: 'db/prometheus-0', port: '80' })).err).toBe(
      'policy-test: --to: pod db/prometheus-0 is not in the cluster manifests; did you mean monitoring/prometheus-0?\n',
    );
    expect((await cli({ from: FRONTEND, to: 'shop/zzz', port: '80' })).err).toBe(
      'policy-test: --to: pod shop/zzz is not in the cluster manifests\n',
    );
  });

  it('accepts named ports in probe objects (POST /api/v1/policy-test bodies, probes files)', () => {
    const inv = buildInventory(
      parseManifestText(
        `
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Pod, metadata: {name: a, namespace: x}, status: {podIP: 10.0.1.1}}
- apiVersion: v1
  kind: Pod
  metadata: {name: b, namespace: x}
  spec: {containers: [{name: c, ports: [{name: web, containerPort: 8000}]}]}
  status: {podIP: 10.0.1.2}
`,
        'c.yaml',
      ).objects,
    );
    const probe = (port: string) => [parseProbeObject({ from: 'x/a', to: 'x/b', port }, 'probes[0].')];
    const at = (i: number) => `probes[${i}].`;
    expect(runProbes(inv, probe('web'), at)[0]).toMatchObject({
      port: 8000,
      portName: 'web',
      allowed: true,
    });
    expect(() => runProbes(inv, probe('api'), at)).toThrow(
      'probes[0].port: pod x/b has no TCP container port named api (its named ports: web TCP/8000)',
    );
  });
});
