/**
 * How long closing a 5-minute unit holds the minute writers up. One unit is filled with N edge
 * rows per minute (real-width rows, as api-queries.bench.ts makes them; each minute's edges
 * partly the next minute's), then the real closer closes it while a real writer stores a batch
 * of 100 flows into an open minute every 20 ms, as serve's aggregators keep doing. Reports the
 * close's wall time and the writer's batch times during it: the longest is what a close costs
 * the writers (before, the closer held them for its whole sum).
 *
 * Alone (embedded PostgreSQL when DATABASE_URL is unset; the database must be empty or hold only
 * this benchmark's data):
 *   npx tsc -p tsconfig.build.json && node dist/bench/close-hold.bench.js [--edges 10000,120000] [--runs 3]
 */
import { pathToFileURL } from 'node:url';
import { BatchRollup } from '../src/aggregator/edge-rollup.js';
import { silentLogger } from '../src/common/logger.js';
import type { FlowRecord } from '../src/flow/flow-record.js';
import { createDataSource } from '../src/storage/data-source.js';
import { PartitionManager } from '../src/storage/partition.manager.js';
import { FIVE_MINUTES_MS, RollupCloser } from '../src/storage/rollup-closer.js';
import { PostgresRollupWriter } from '../src/storage/rollup.writer.js';
import { EDGE_VERDICT, syntheticRollupInsert } from './api-queries.bench.js';
import { COARSE_ROLLUP_TABLES, runWithBenchDatabase } from './bench-database.js';

export interface CloseHoldResult {
  edgesPerMinute: number;
  /** Rows of the closed unit: minute rows in, 5-minute rows out. */
  minuteRows: number;
  unitRows: number;
  closeSeconds: number;
  /** Writer batches that ran while the unit closed, and their times (ms). */
  batches: number;
  batchP50Ms: number;
  batchMaxMs: number;
}

const round = (x: number) => Math.round(x * 10) / 10;

/** A writer's batch: 100 flows of distinct edges at `time`. */
function writerBatch(time: string, n: number): BatchRollup {
  const b = new BatchRollup();
  for (let k = 0; k < 100; k++) {
    const f: FlowRecord = {
      id: `w-${n}-${k}`,
      source: 'hubble',
      cluster: 'prod',
      time,
      verdict: 'allowed',
      direction: 'ingress',
      src: { kind: 'pod', namespace: `ns-${k % 10}`, workload: { kind: 'Deployment', name: `w-${k}` } },
      dst: { kind: 'pod', namespace: 'db', workload: { kind: 'StatefulSet', name: 'pg' } },
      protocol: 'TCP',
      dstPort: 5432,
      count: 1,
      policies: [],
    };
    b.add(f, undefined);
  }
  return b;
}

export async function benchCloseHold(databaseUrl: string, edgesPerMinute: number): Promise<CloseHoldResult> {
  const ds = createDataSource(databaseUrl, 4);
  await ds.initialize();
  try {
    await ds.runMigrations({ transaction: 'each' });
    const unit = Date.parse('2025-07-01T10:00:00Z');
    const partitions = new PartitionManager(ds, silentLogger);
    await partitions.ensure([Math.floor(unit / 86_400_000)]);
    await ds.query(
      `TRUNCATE edge_rollups, ${COARSE_ROLLUP_TABLES}, rollup_totals_hourly, rollup_minute_writes, rollup_generations`,
    );
    await ds.query(`UPDATE rollup_resolutions SET closed_through = NULL`);
    // Edge k of 2N (its source workload k / 50 of namespace k % 50, so every k is an edge of its
    // own): each minute N of them, shifted by minute (a scan's or a mesh agent's churn).
    const edges = 2 * edgesPerMinute;
    await ds.query(
      syntheticRollupInsert(`
        SELECT b, k, k % 50 AS sn, k / 50 AS sw, (k * 7) % 50 AS dn, (k / 3) % 20 AS dw, ${EDGE_VERDICT} AS v, 1 + ((k * 31 + m * 17) % 55) AS c, 1 AS f
        FROM generate_series(0, 4) AS m,
          LATERAL (SELECT $1::timestamptz + m * interval '1 minute' AS b) AS t,
          LATERAL (SELECT (e * 7919 + m * ${Math.floor(edgesPerMinute / 4)}) % ${edges} AS k
            FROM generate_series(0, ${edgesPerMinute - 1}) AS e) AS ed`),
      [new Date(unit).toISOString()],
    );
    await ds.query(`VACUUM ANALYZE edge_rollups`);
    await ds.query(`CHECKPOINT`);

    const writer = new PostgresRollupWriter(ds, partitions);
    // An open minute well after the unit: the writer's rows never reach it.
    const open = new Date(unit + 3 * FIVE_MINUTES_MS).toISOString();
    await writer.writeBatch(writerBatch(open, -1), [], []);
    const times: number[] = [];
    let closing = true;
    const writes = (async () => {
      for (let n = 0; closing; n++) {
        const t0 = performance.now();
        await writer.writeBatch(writerBatch(open, n), [], []);
        times.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const closer = new RollupCloser(ds, partitions, silentLogger);
    const t0 = performance.now();
    try {
      await closer.closeThrough(unit + FIVE_MINUTES_MS);
    } finally {
      closing = false;
    }
    const closeSeconds = (performance.now() - t0) / 1000;
    await writes;
    const [{ minutes, units }] = (await ds.query(
      `SELECT (SELECT count(*) FROM edge_rollups WHERE bucket < $1::timestamptz)::int AS minutes,
        (SELECT count(*) FROM edge_rollups_5m)::int AS units`,
      [new Date(unit + FIVE_MINUTES_MS).toISOString()],
    )) as Array<{ minutes: number; units: number }>;
    const sorted = [...times].sort((a, b) => a - b);
    return {
      edgesPerMinute,
      minuteRows: minutes,
      unitRows: units,
      closeSeconds: Math.round(closeSeconds * 100) / 100,
      batches: times.length,
      batchP50Ms: round(sorted[Math.floor(sorted.length / 2)] ?? 0),
      batchMaxMs: round(sorted[sorted.length - 1] ?? 0),
    };
  } finally {
    await ds.destroy();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const option = (name: string, dflt: string) => {
    const i = args.indexOf(name);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
  };
  const sizes = option('--edges', '10000,120000').split(',').map(Number);
  const runs = Number(option('--runs', '3'));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(runs) || runs < 1) {
    process.stderr.write('usage: close-hold.bench.js [--edges N[,N...]] [--runs N]\n');
    process.exit(2);
  }
  runWithBenchDatabase('dropscope-bench-close-pg-', async (url) => {
    for (const n of sizes)
      for (let r = 0; r < runs; r++) {
        const x = await benchCloseHold(url, n);
        process.stdout.write(
          `${x.edgesPerMinute.toLocaleString('en')} edges/min: ${x.minuteRows.toLocaleString('en')} minute rows -> ` +
            `${x.unitRows.toLocaleString('en')} 5-minute rows in ${x.closeSeconds} s; writer batches during it: ` +
            `${x.batches}, p50 ${x.batchP50Ms} ms, longest ${x.batchMaxMs} ms\n`,
        );
      }
  });
}
