/**
 * `import` keeps several segments in flight: the reader goes on once the bus holds one, and the
 * aggregator writes flushes one after another. When one flush fails to store, no later flush may
 * commit: its checkpoint would cover the failed flush's lines, and a re-run would resume after
 * them. A trigger fails one checkpoint write (a sequence counts them; nextval is not undone by the
 * rollback), the import must stop with that error, and a re-run must store every flow once.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forwardedFlows, storedFlows } from './import-support.js';
import { collect, runCli, spawnCli } from '../support/cli.js';
import { within } from '../support/wait.js';
import { createTestDatabase, queryRows } from '../support/test-database.js';

describe('import: a flush that fails to store', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'ds-import-fail-'));
  });
  afterAll(async () => {
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops the import with the error, commits nothing after it, and a re-run stores every flow once', async () => {
    // 120,000 forwarded flows of one edge, one a second, ending on a minute boundary: 2,000 whole
    // minutes of 60 flows each.
    const file = join(dir, 'flows.jsonl');
    const end = Date.parse('2026-01-01T00:00:00Z');
    writeFileSync(file, forwardedFlows(120_000, 1024, new Date(end)));
    // Small flushes (about 100 rows each): dozens of them, several in flight behind the failed one.
    const env = { DATABASE_URL: db.url, LOG_LEVEL: 'warn', IMPORT_FLUSH_ENTRIES: '100', RETENTION_DAYS: '0' };

    expect((await runCli(['migrate'], env)).code).toBe(0);
    await queryRows(
      db.url,
      `CREATE SEQUENCE test_checkpoint_writes;
       CREATE FUNCTION test_fail_third() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF nextval('test_checkpoint_writes') = 3 THEN RAISE EXCEPTION 'injected write failure'; END IF;
         RETURN NEW;
       END $$;
       CREATE TRIGGER test_fail_third BEFORE INSERT OR UPDATE ON stream_checkpoints
         FOR EACH ROW EXECUTE FUNCTION test_fail_third()`,
    );

    const first = await within(
      collect(spawnCli(['import', '--source', 'hubble', '--no-progress', file], env)),
      120_000,
      'the failing import',
    );
    expect(first.code).not.toBe(0);
    expect(first.stderr).toMatch(/injected write failure/);
    const partial = await storedFlows(db.url);
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(120_000);
    // What was stored is the file's first minutes without a gap: no flush after the failed one.
    const [prefix] = await queryRows<{ n: string; span: string; first: Date }>(
      db.url,
      `SELECT count(*) AS n, extract(epoch FROM max(bucket) - min(bucket))::bigint / 60 + 1 AS span, min(bucket) AS first
         FROM edge_rollups`,
    );
    expect(prefix.first.toISOString()).toBe(new Date(end - 120_000_000).toISOString());
    expect(prefix.span).toBe(prefix.n);
    // 60 flows a minute: the last stored minute may be part of one (segments end mid-minute).
    expect(Number(prefix.n)).toBe(Math.ceil(partial / 60));

    const second = await within(
      collect(spawnCli(['import', '--source', 'hubble', '--no-progress', file], env)),
      120_000,
      'the re-run',
    );
    expect(second.stderr).toMatch(/resumed at byte \d+/);
    expect(second.code).toBe(0);
    const [rows] = await queryRows<{ n: string; total: string; min: string; max: string }>(
      db.url,
      `SELECT count(*) AS n, sum(count) AS total, min(count) AS min, max(count) AS max FROM edge_rollups`,
    );
    expect(rows).toEqual({ n: '2000', total: '120000', min: '60', max: '60' });
  }, 300_000);
});
