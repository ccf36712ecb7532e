/**
 * `import` carries roll-ups across batches and writes them with the checkpoints of every batch a
 * flush holds. Killed between two such flushes, then re-run, it must store each flow once: the
 * stored checkpoint covers exactly the flushes that were committed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forwardedFlows, storedFlows } from '../cli/import-support.js';
import { collect, spawnCli } from '../support/cli.js';
import { createTestDatabase, queryRows } from '../support/test-database.js';
import { until } from '../support/wait.js';

describe('import: SIGKILL between flushes of carried roll-ups', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'ds-carry-crash-'));
  });
  afterAll(async () => {
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores every flow once after a kill and a re-run', async () => {
    // 180,000 forwarded flows of one edge, one a second, ending on a minute boundary: 3,000
    // whole minutes of 60 flows each, so 3,000 roll-up rows of count 60.
    const file = join(dir, 'flows.jsonl');
    writeFileSync(file, forwardedFlows(180_000, 1024, new Date('2026-01-01T00:00:00Z')));
    // About 100 rows a flush: dozens of flushes, each with the checkpoint of its last segment.
    const env = { DATABASE_URL: db.url, LOG_LEVEL: 'warn', IMPORT_FLUSH_ENTRIES: '100', RETENTION_DAYS: '0' };

    const first = spawnCli(['import', '--source', 'hubble', '--no-progress', file], env);
    const firstDone = collect(first);
    // Before migrating, the table does not exist yet: 0 then.
    const stored = () => storedFlows(db.url).catch(() => 0);
    await until('a first flush', async () => (await stored()) > 0, 120_000, 20);
    first.kill('SIGKILL');
    expect((await firstDone).signal).toBe('SIGKILL');
    const partial = await storedFlows(db.url);
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(180_000);

    const second = await collect(spawnCli(['import', '--source', 'hubble', '--no-progress', file], env));
    expect(second.stderr).toMatch(/resumed at byte \d+/);
    expect(second.code).toBe(0);
    // Together, the two runs imported each flow once.
    expect(Number(/imported (\d+) flows/.exec(second.stdout)?.[1]) + partial).toBe(180_000);

    const [rows] = await queryRows<{ n: string; total: string; min: string; max: string }>(
      db.url,
      `SELECT count(*) AS n, sum(count) AS total, min(count) AS min, max(count) AS max FROM edge_rollups`,
    );
    expect(rows).toEqual({ n: '3000', total: '180000', min: '60', max: '60' });

    // A third run of the finished file adds nothing.
    const third = await collect(spawnCli(['import', '--source', 'hubble', '--no-progress', file], env));
    expect(third.code).toBe(0);
    expect(await storedFlows(db.url)).toBe(180_000);
  }, 300_000);
});
