import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startService } from '../../src/app/service.js';
import { loadConfig } from '../../src/config/config.js';
import { collectingLogger } from '../api/api-support.js';
import { createTestDatabase } from '../support/test-database.js';
import { until } from '../support/wait.js';

describe('service shutdown', () => {
  it('lets a running retention pass finish before closing the pool: no "retention failed" on shutdown', async () => {
    const db = await createTestDatabase();
    const locker = new pg.Client({ connectionString: db.url });
    const dir = mkdtempSync(join(tmpdir(), 'ds-shutdown-'));
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      DROPSCOPE_ROLES: 'aggregator',
      DATABASE_URL: db.url,
      AUTH_DISABLED: 'true',
      DROPSCOPE_DATA_DIR: dir,
    });
    try {
      // A first start migrates; then an expired partition whose DROP we hold up with a lock, so
      // the next start's retention pass is mid-way when shutdown begins.
      await (await startService(config, collectingLogger())).close();
      await locker.connect();
      await locker.query(
        `CREATE TABLE edge_rollups_p20200101 PARTITION OF edge_rollups FOR VALUES FROM ('2020-01-01') TO ('2020-01-02')`,
      );
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE edge_rollups_p20200101 IN ACCESS EXCLUSIVE MODE');

      const log = collectingLogger();
      const service = await startService(config, log);
      await until(
        'the retention pass to wait on the lock',
        async () => {
          const r = await locker.query(`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted`);
          return (r.rows[0] as { n: number }).n > 0;
        },
        30_000,
      );
      const closed = service.close();
      await new Promise((r) => setTimeout(r, 300)); // shutdown is now under way with the DROP blocked
      await locker.query('COMMIT');
      await closed;
      expect(log.lines.filter((l) => l.level === 'error')).toEqual([]);
    } finally {
      await locker.end().catch(() => undefined);
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
