import { afterAll, describe, expect, it } from '@jest/globals';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli.js';

describe('dropscope demo (the built CLI, bounded)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dropscope-demo-'));
  // As root the embedded PostgreSQL runs as `postgres`, which must be able to enter the data dir.
  chmodSync(dir, 0o755);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('shows drops, their attribution, a delivered alert and a checked fix, then exits 0', async () => {
    const r = await runCli([
      'demo',
      '--duration',
      '90',
      '--until-complete',
      '--port',
      '0',
      '--data-dir',
      join(dir, 'data'),
    ]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const out = r.stdout;
    // The demo cluster's missing rule: backend → database:5432 is dropped. Cilium names no policy,
    // so the attribution is inferred from the manifests; Calico reports the one it enforced.
    expect(out).toMatch(
      /DROP backend\/api → database\/postgres:5432\/TCP \(hubble\) ×\d+ {2}denied by database\/default-deny \[inferred\]/,
    );
    expect(out).toMatch(
      /DROP backend\/worker → database\/postgres-0:5432\/TCP \(calico\) ×\d+ {2}denied by database\/default-deny \[reported\]/,
    );
    expect(out).toMatch(
      /ALERT delivered to the Slack sink:\n {4}FIRING: .*alertname=UnexpectedDrop namespace=database/,
    );
    const fix = out.slice(out.indexOf('SUGGESTED FIX'), out.indexOf('WHAT-IF'));
    expect(fix).toContain('kind: NetworkPolicy');
    expect(fix).toContain('namespace: database');
    // Both dropped edges (api and worker to postgres) are repaired, nothing else changes verdict.
    expect(out).toContain('WHAT-IF: newly allowed: 2 edges (the drops the fix repairs), newly denied: 0');
    expect(out).toContain(
      [
        'Checklist:',
        '  [x] drops arrived',
        '  [x] attribution: drops credited to a policy',
        '  [x] alert delivered to the Slack sink',
        '  [x] suggestion: a NetworkPolicy fix, checked by what-if',
      ].join('\n'),
    );
  }, 120_000);

  it('exits 1 with the missing steps unchecked when the duration ends first', async () => {
    // The alert rule needs its condition to hold for 10 s: a 1-second run cannot deliver one.
    const r = await runCli(['demo', '--duration', '1', '--port', '0', '--data-dir', join(dir, 'short')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('  [ ] alert delivered to the Slack sink');
  }, 60_000);

  it('refuses --until-complete without --duration (usage error, status 2)', async () => {
    const r = await runCli(['demo', '--until-complete']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--until-complete needs --duration');
  });
});
