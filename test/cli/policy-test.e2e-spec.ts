import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runCli } from '../support/cli.js';

const CLUSTER = join(ROOT, 'test', 'policy', 'fixtures', 'xyz-cluster.yaml');
const DENY_X = join(ROOT, 'test', 'policy', 'fixtures', 'xyz-deny-x.yaml');
const EXAMPLE = join(ROOT, 'examples', 'cluster');
const FRONTEND = 'shop/frontend-7d9f8b6c5d-x2kqp';
const CART = 'shop/cart-5c8d7f9b4-m7wtn';

interface ProbeLine {
  from: string;
  to: string;
  port: number;
  protocol: string;
  allowed: boolean;
  ingress: { isolatedBy: string[]; allowedBy: string[] };
  egress: { isolatedBy: string[]; allowedBy: string[] };
}

describe('dropscope policy-test', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('answers one probe with the verdict and the isolating policies', async () => {
    const open = await runCli(['policy-test', '--cluster', CLUSTER, '--from', 'y/a', '--to', 'x/b', '--port', '80']);
    expect(open.code).toBe(0);
    const o = JSON.parse(open.stdout.trim()) as ProbeLine;
    expect(o).toMatchObject({ from: 'y/a', to: 'x/b', port: 80, protocol: 'TCP', allowed: true });
    expect(o.ingress.isolatedBy).toEqual([]);

    const denied = await runCli([
      'policy-test',
      '--cluster',
      CLUSTER,
      '--cluster',
      DENY_X,
      '--from',
      'y/a',
      '--to',
      'x/b',
      '--port',
      '80',
    ]);
    expect(denied.code).toBe(0);
    const d = JSON.parse(denied.stdout.trim()) as ProbeLine;
    expect(d.allowed).toBe(false);
    expect(d.ingress.isolatedBy).toEqual(['x/deny-ingress']);
    expect(d.ingress.allowedBy).toEqual([]);
  });

  it('runs many probes from a file in input order and prints a matrix', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ds-probes-'));
    dirs.push(dir);
    const probes = join(dir, 'probes.jsonl');
    writeFileSync(
      probes,
      [
        { from: 'x/a', to: 'x/b', port: 80, protocol: 'TCP' },
        { from: 'z/c', to: 'y/a', port: 81, protocol: 'UDP' },
        { from: 'y/b', to: 'x/c', port: 80, protocol: 'TCP' },
      ]
        .map((p) => JSON.stringify(p))
        .join('\n'),
    );
    const r = await runCli(['policy-test', '--cluster', CLUSTER, '--cluster', DENY_X, '--probes', probes]);
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ProbeLine);
    expect(lines.map((l) => `${l.from}>${l.to}:${l.allowed}`)).toEqual([
      'x/a>x/b:false',
      'z/c>y/a:true',
      'y/b>x/c:false',
    ]);

    const m = await runCli(['policy-test', '--cluster', CLUSTER, '--cluster', DENY_X, '--matrix', '--port', '80']);
    expect(m.code).toBe(0);
    expect(m.stdout).toMatch(/x\/a/);
    expect(m.stdout).toMatch(/z\/c/);
  });

  it('rejects a bad probe with a message naming the option', async () => {
    const r = await runCli(['policy-test', '--cluster', CLUSTER, '--from', 'y/a', '--to', 'x/b', '--port', '99999']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--port/);
  });

  it('resolves a named port on the destination pod and prints a table on request', async () => {
    const r = await runCli([
      'policy-test',
      '--cluster',
      EXAMPLE,
      '--from',
      FRONTEND,
      '--to',
      CART,
      '--port',
      'http',
      '--output',
      'table',
    ]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(
      [
        `ALLOW  ${FRONTEND} -> ${CART} TCP/8080 (http)`,
        '  egress   allow  isolated by shop/allow-dns, shop/default-deny, shop/frontend-egress',
        '                  admitted by shop/frontend-egress egress[0]',
        '  ingress  allow  isolated by shop/allow-frontend-to-cart, shop/default-deny',
        '                  admitted by shop/allow-frontend-to-cart ingress[0]',
        '',
      ].join('\n'),
    );
  });

  it('gates a pipeline: --expect disagreements exit 1, JSON when stdout is a pipe', async () => {
    const r = await runCli([
      'policy-test',
      '--cluster',
      EXAMPLE,
      '--from',
      FRONTEND,
      '--to',
      'db/postgres-0',
      '--port',
      'postgres',
      '--expect',
      'allow',
    ]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ port: 5432, portName: 'postgres', allowed: false, expected: 'allow' });
    expect(r.stderr).toBe(
      `policy-test: expected allow, got deny: ${FRONTEND} -> db/postgres-0 TCP/5432\n` +
        'policy-test: 1 of 1 probes disagreed with the expected verdict\n',
    );
  });

  it('reports the bad lines of a probes file, evaluates the rest and exits 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ds-probes-'));
    dirs.push(dir);
    const probes = join(dir, 'probes.jsonl');
    writeFileSync(
      probes,
      [
        `{"from":"shop/frontend","to":"${CART}","port":"http"}`,
        `{"from":"${FRONTEND}","to":"${CART}","port":"http","expected":"allow"}`,
        `{"from":"${FRONTEND}","to":"${CART}","port":"grpc"}`,
      ].join('\n'),
    );
    const r = await runCli(['policy-test', '--cluster', EXAMPLE, '--probes', probes]);
    expect(r.code).toBe(2);
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as ProbeLine).port),
    ).toEqual([8080]);
    expect(r.stderr).toBe(
      [
        `policy-test: line 1: from: pod shop/frontend is not in the cluster manifests; did you mean ${FRONTEND}?`,
        `policy-test: line 3: port: pod ${CART} has no TCP container port named grpc (its named ports: http TCP/8080, metrics TCP/9090)`,
        'policy-test: 2 of 3 probes not evaluated (bad input)',
        '',
      ].join('\n'),
    );
  });
});
