import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parseManifestText } from './manifest.loader.js';
import { buildInventory, type PolicyInventory } from './policy-inventory.js';
import {
  parseProbe,
  policyTestFromBody,
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
      new PolicyTestInputError('port', 'must be an integer 1-65535 (got 0)'),
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
      ingress: { allowed: true, isolatedBy: ['x/a-from-b'], allowedBy: ['x/a-from-b'] },
    });
    expect(res.map((r) => r.allowed)).toEqual([true, true, false, true]);
    expect(() => runProbes(small(), [parseProbe('x/zz', 'x/a', 80)])).toThrow(
      /^from: pod x\/zz is not in the cluster manifests/,
    );
  });

  it('serves the HTTP body shape with field-named validation errors', () => {
    expect(policyTestFromBody(small(), { probes: [{ from: 'x/b', to: 'x/a', port: 80 }] }).items[0].allowed).toBe(true);
    expect(() => policyTestFromBody(small(), {})).toThrow(/^probes: must be a non-empty list/);
    expect(() =>
      policyTestFromBody(small(), {
        probes: [
          { from: 'x/b', to: 'x/a', port: 80 },
          { from: 'x/b', to: 'x/a', port: 'http' },
        ],
      }),
    ).toThrow(/^probes\[1\]\.port: /);
    expect(() => policyTestFromBody(small(), { probes: [{ from: 'x/b', to: 'x/q', port: 80 }] })).toThrow(
      /^probes\[0\]\.to: pod x\/q/,
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
    expect(err.pop()).toBe('policy-test: --port: must be an integer 1-65535 (got undefined)\n');
    expect(await runPolicyTestCli({ cluster: [] }, io)).toBe(2);
  });
});
