import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateFlowRecord } from '../../src/flow/flow-record.validator.js';
import { CLI, ROOT, runCli } from '../support/cli.js';

const HUBBLE = join(ROOT, 'test', 'fixtures', 'hubble', 'observe-samples.jsonl');
const CALICO = join(ROOT, 'test', 'fixtures', 'calico', 'flowlog-samples.jsonl');

describe('dropscope normalize', () => {
  it('prints one valid FlowRecord per Hubble flow and counts non-flow lines on stderr', async () => {
    const r = await runCli(['normalize', '--source', 'hubble', HUBBLE]);
    expect(r.code).toBe(0);
    const out = r.stdout
      .trim()
      .split('\n')
      .map((l) => validateFlowRecord(JSON.parse(l)));
    const flowLines = readFileSync(HUBBLE, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"flow"'));
    expect(out.length).toBeGreaterThan(0);
    expect(out.length).toBeLessThanOrEqual(flowLines.length);
    expect(out.every((f) => f.source === 'hubble' && f.schema === 1)).toBe(true);
    // the fixture: 15 lines, 14 flows (no pair among them) and one lost_events line
    expect(r.stderr).toContain(
      'normalized 14 flows from 15 lines = 14 records + 0 collapsed + 1 skipped (lost_events: 1) + 0 malformed + 0 blank',
    );
  });

  it('reads standard input, reports malformed lines by number, and never stops on them', async () => {
    const lines = readFileSync(HUBBLE, 'utf8').trim().split('\n');
    const input = [lines[1], '{"flow": {"verdict": 12', 'plain text', lines[2], '[]'].join('\n');
    const r = await runCli(['normalize', '--source', 'hubble', '-'], {}, input);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(2);
    expect(r.stderr).toMatch(/^line 2: not valid JSON/m);
    expect(r.stderr).toMatch(/^line 3: not valid JSON/m);
    expect(r.stderr).toMatch(/^line 5: /m);
    expect(r.stderr).toContain(
      'normalized 2 flows from 5 lines = 2 records + 0 collapsed + 0 skipped + 3 malformed + 0 blank',
    );
  });

  it('maps Calico flows.log lines (the records of the shared samples)', async () => {
    const records = readFileSync(CALICO, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.stringify((JSON.parse(l) as { record: unknown }).record));
    const r = await runCli(['normalize', '--source', 'calico', '--cluster-name', 'prod-eu'], {}, records.join('\n'));
    expect(r.code).toBe(0);
    const out = r.stdout
      .trim()
      .split('\n')
      .map((l) => validateFlowRecord(JSON.parse(l)));
    expect(out.length).toBeGreaterThan(5);
    expect(out.every((f) => f.source === 'calico')).toBe(true);
    expect(out.some((f) => f.cluster === 'prod-eu')).toBe(true);
    expect(out.reduce((n, f) => n + f.count, 0)).toBeGreaterThan(out.length); // num_flows carried
  });

  it('rejects an unknown --source and a missing file with a clear message', async () => {
    const a = await runCli(['normalize', '--source', 'cilium', HUBBLE]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('--source must be one of hubble|calico, got "cilium"');
    const b = await runCli(['normalize', '--source', 'hubble', '/nonexistent/file']);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('cannot read /nonexistent/file');
  });

  it('ends quietly with status 0 when its reader closes early (normalize | head -1)', () => {
    // 600 flow lines: far more output than one pipe buffer, so writes continue after head exits.
    const flow = readFileSync(HUBBLE, 'utf8')
      .split('\n')
      .find((l) => l.includes('"flow"'))!;
    const dir = mkdtempSync(join(tmpdir(), 'ds-epipe-'));
    const file = join(dir, 'many.jsonl');
    writeFileSync(file, `${Array.from({ length: 600 }, () => flow).join('\n')}\n`);
    const r = spawnSync(
      'bash',
      [
        '-c',
        `node "$0" normalize --source hubble "$1" | head -1 >/dev/null; echo "status=\${PIPESTATUS[0]}"`,
        CLI,
        file,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    rmSync(dir, { recursive: true, force: true });
    expect(r.stdout.trim()).toBe('status=0');
    expect(r.stderr).not.toMatch(/EPIPE/);
  });
});
