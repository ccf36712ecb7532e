import { describe, expect, it } from '@jest/globals';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runCli } from '../support/cli.js';

const CLUSTER = join(ROOT, 'test', 'policy', 'fixtures', 'xyz-cluster.yaml');
const DENY_X = join(ROOT, 'test', 'policy', 'fixtures', 'xyz-deny-x.yaml');

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
});
