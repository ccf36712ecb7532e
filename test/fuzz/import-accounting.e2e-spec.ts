/** `dropscope import` prints where every line of the file went, dead letters included (real CLI, real PostgreSQL). */
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli.js';
import { createTestDatabase } from '../support/test-database.js';
import { hubbleLine, importedFlows } from '../cli/import-support.js';

describe('dropscope import: every line accounted for', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ds-import-lines-'));
  let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  afterAll(async () => {
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records + collapsed + skipped + malformed + blank = lines, and invalid records are named', async () => {
    const t = new Date(Date.now() - 60_000);
    const drop = hubbleLine(t, 40_000, 'DROPPED');
    // its policy-verdict twin: same node and 5-tuple, event type 5 (the pair collapses into one record)
    const verdict = drop.replace('"event_type":{"type":1}', '"event_type":{"type":5},"traffic_direction":"INGRESS"');
    const longPod = hubbleLine(t, 40_001).replace('"pod_name":"xwing"', `"pod_name":"${'p'.repeat(300)}"`);
    const lines = [
      hubbleLine(t, 40_002), // record
      verdict, // record (with its drop below)
      drop, // collapsed
      '{"lost_events":{"source":"PERF_EVENT_RING_BUFFER","num_events_lost":"3","cpu":1}}', // skipped
      hubbleLine(t, 40_003).slice(0, 50), // malformed: truncated
      'garbage', // malformed
      '   ', // blank
      longPod, // a record the FlowRecord schema rejects: dead-lettered by the aggregator
      hubbleLine(t, 40_004), // record
    ];
    const file = join(dir, 'mixed.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    db = await createTestDatabase();
    const r = await runCli(['import', '--source', 'hubble', '--no-progress', file], { DATABASE_URL: db.url });
    expect(r.code).toBe(0);
    expect(importedFlows(r.stdout)).toBe(3);
    expect(r.stdout).toMatch(/, 3 dead letters,/);
    expect(r.stdout).toContain(
      'lines: 9 lines = 4 records + 1 collapsed + 1 skipped (lost_events: 1) + 2 malformed (dead letters) + 1 blank; ' +
        '1 records were invalid FlowRecords (dead letters)',
    );
  });
});
