import { afterAll, describe, expect, it } from '@jest/globals';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, queryRows } from '../support/test-database.js';
import { until } from '../support/wait.js';
import { flowLines, metricValue, readyz, startServe, storedTotals } from './fault-support.js';

const WRITE_ERRORS = 'dropscope_batch_write_errors_total{code="53100"}';

/**
 * Disk-full-like write errors: while a trigger makes every roll-up INSERT fail with SQLSTATE 53100
 * (disk_full), each failed batch must be logged and counted, nothing of it committed (no drop
 * events, no checkpoint move), and it must be retried until the trigger goes. Every line holds
 * 3 flows, 1 packet and 7 bytes; even lines are denies.
 */
describe('fault: disk-full write errors surfaced, never swallowed', () => {
  const dbs: Array<{ drop(): Promise<void> }> = [];
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dbs) await d.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('logs and counts the failed batches, commits none of them partly, and stores them once the disk has room', async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    const dir = mkdtempSync(join(tmpdir(), 'ds-fault-disk-'));
    dirs.push(dir);
    const log = join(dir, 'flows.log');
    const now = Math.floor(Date.now() / 1000);
    writeFileSync(log, flowLines(0, 10, now));

    const serve = await startServe({
      DATABASE_URL: db.url,
      CALICO_FLOWLOG_PATH: log,
      DROPSCOPE_ROLES: 'collector,aggregator',
      DROPSCOPE_DATA_DIR: dir,
    });
    try {
      await until('the first 10 lines stored', async () => (await storedTotals(db.url)).flows === 30, 30_000);
      const [before] = await queryRows<{ position: string }>(db.url, `SELECT position FROM stream_checkpoints`);
      expect(await metricValue(serve.port, WRITE_ERRORS)).toBe(0);

      await queryRows(
        db.url,
        `CREATE FUNCTION simulate_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; END $$`,
      );
      await queryRows(
        db.url,
        `CREATE TRIGGER disk_full BEFORE INSERT ON edge_rollups FOR EACH ROW EXECUTE FUNCTION simulate_disk_full()`,
      );
      appendFileSync(log, flowLines(10, 10, now));
      await until('two failed writes counted', async () => (await metricValue(serve.port, WRITE_ERRORS)) >= 2, 30_000);

      // Nothing of the failed batches is committed: no events, no roll-ups, the checkpoint unmoved.
      expect(await storedTotals(db.url)).toEqual({ flows: 30, packets: 10, bytes: 70, events: 5, eventFlows: 15 });
      expect(await queryRows(db.url, `SELECT position FROM stream_checkpoints`)).toEqual([before]);
      expect(serve.output()).toContain('No space left on device');
      expect((await readyz(serve.port)).status).toBe(200); // the database answers; only writes fail

      await queryRows(db.url, `DROP TRIGGER disk_full ON edge_rollups`);
      await until('the held lines stored', async () => (await storedTotals(db.url)).flows >= 60, 60_000);
    } finally {
      serve.child.kill('SIGTERM');
    }
    expect((await serve.done).code).toBe(0);
    expect(await storedTotals(db.url)).toEqual({ flows: 60, packets: 20, bytes: 140, events: 10, eventFlows: 30 });
  }, 120_000);
});
