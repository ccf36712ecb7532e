import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/common/logger.js';
import { startApi } from '../api/api-support.js';
import { createTestDatabase, pollRows } from '../support/test-database.js';
import { until } from '../support/wait.js';

describe('dead-letter metric in the embedded mode', () => {
  it('counts a line the collector could not read (stage collector), as well as storing it', async () => {
    const db = await createTestDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'ds-dlm-'));
    const log = join(dir, 'flows.log');
    writeFileSync(log, 'this is not a flow log line\n{"also": "not one"\n');
    const svc = await startApi(
      { DATABASE_URL: db.url, DROPSCOPE_ROLES: 'collector,aggregator,api', CALICO_FLOWLOG_PATH: log },
      silentLogger,
    );
    try {
      await until(
        'both lines stored as dead letters',
        async () => (await pollRows<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM dead_letters'))[0]?.n === 2,
        30_000,
      );
      const metric = (await svc.runtime.registry.getMetricsAsJSON()).find(
        (m) => m.name === 'dropscope_dead_letters_total',
      );
      expect(metric?.values.find((v) => v.labels.stage === 'collector')?.value).toBe(2);
    } finally {
      await svc.close();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
