import { afterAll, describe, expect, it } from '@jest/globals';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVERY_EVENT } from '../support/cli.js';
import { until } from '../support/wait.js';
import { flowLines, ownPostgres, readyz, startServe, storedTotals, type OwnPostgres } from './fault-support.js';

/**
 * PostgreSQL stopped and started again under ingest: `dropscope serve` tails a Calico flow log
 * while its database goes away. Readiness must say so, the collector must hold its lines (the
 * embedded bus only acknowledges stored batches) and, once PostgreSQL is back, every line must be
 * stored exactly once. Every line holds 3 flows, 1 packet and 7 bytes; even lines are denies.
 */
describe('fault: PostgreSQL stopped and restarted under ingest', () => {
  let pgServer: OwnPostgres | undefined;
  let dir: string | undefined;
  afterAll(async () => {
    await pgServer?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reports the database down, then catches up with nothing lost or doubled', async () => {
    pgServer = await ownPostgres();
    dir = mkdtempSync(join(tmpdir(), 'ds-fault-pg-'));
    const log = join(dir, 'flows.log');
    const now = Math.floor(Date.now() / 1000);
    writeFileSync(log, flowLines(0, 20, now));

    const serve = await startServe({
      ...EVERY_EVENT,
      DATABASE_URL: pgServer.url,
      CALICO_FLOWLOG_PATH: log,
      DROPSCOPE_ROLES: 'collector,aggregator',
      DROPSCOPE_DATA_DIR: dir,
    });
    try {
      await until('the first 20 lines stored', async () => (await storedTotals(pgServer!.url)).flows === 60, 30_000);
      expect((await readyz(serve.port)).status).toBe(200);

      await pgServer.stop();
      await until(
        'readiness to report the database down',
        async () => (await readyz(serve.port)).status === 503,
        15_000,
      );
      expect((await readyz(serve.port)).checks.database).toBe('down');

      // Lines written during the outage: the collector reads them and cannot store them yet.
      appendFileSync(log, flowLines(20, 20, now));
      await until(
        'a failed publish during the outage',
        async () => serve.output().includes('publishing flows failed'),
        15_000,
      );
      expect((await readyz(serve.port)).checks.database).toBe('down');

      await pgServer.start();
      await until('readiness to recover', async () => (await readyz(serve.port)).status === 200, 30_000);
      await until('the outage lines stored', async () => (await storedTotals(pgServer!.url)).flows >= 120, 60_000);

      appendFileSync(log, flowLines(40, 10, now)); // still tailing after the outage
      await until('the last lines stored', async () => (await storedTotals(pgServer!.url)).flows >= 150, 30_000);
    } finally {
      serve.child.kill('SIGTERM');
    }
    expect((await serve.done).code).toBe(0);
    // After a clean stop the totals are final: 50 lines, 25 of them denies.
    expect(await storedTotals(pgServer.url)).toEqual({
      flows: 150,
      packets: 50,
      bytes: 350,
      events: 25,
      eventFlows: 75,
    });
    expect(serve.output()).toContain('readiness: the database is unreachable');
  }, 120_000);
});
