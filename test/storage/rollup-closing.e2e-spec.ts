/**
 * Closing a unit without holding writers up, over real PostgreSQL with the real minute writer: the
 * closer sums a unit while writers commit (into other units, and into the unit itself, which it
 * then sums again under the lock), a pool of one connection is enough for it, rows an interrupted
 * close left past the mark are never read and are replaced by the next close. The time limits are
 * deadlock guards (a writer or closer waiting for ever), not performance checks. Expected counts
 * are written by hand from the flows below.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { DataSource, QueryRunner } from 'typeorm';
import { silentLogger, type Logger } from '../../src/common/logger.js';
import type { FlowRecord } from '../../src/flow/flow-record.js';
import { createDataSource } from '../../src/storage/data-source.js';
import { PartitionManager } from '../../src/storage/partition.manager.js';
import { RollupCloser } from '../../src/storage/rollup-closer.js';
import { PostgresRollupStatsReader } from '../../src/storage/rollup-stats.reader.js';
import { PostgresRollupWriter } from '../../src/storage/rollup.writer.js';
import { foldFlows, rollupFlow } from '../support/rollup-database.js';
import { within } from '../support/wait.js';
import { createTestDatabase } from '../support/test-database.js';

const T0 = Date.parse('2025-03-01T10:00:00Z');
const at = (hhmm: string) => Date.parse(`2025-03-01T${hhmm}Z`);

/** A denied flow `minute` minutes after 10:00 (at second 5), shop/web to db/pg:5432. */
const flow = (minute: number, count: number): FlowRecord => rollupFlow(T0, minute, count);

describe('closing a unit while writers go on', () => {
  let ds: DataSource;
  let dropDb: () => Promise<void>;
  let partitions: PartitionManager;
  let writer: PostgresRollupWriter;
  const debugs: string[] = [];
  const log: Logger = { ...silentLogger, debug: (msg) => void debugs.push(msg), child: () => log };

  const write = (flows: FlowRecord[], w = writer) => w.writeBatch(foldFlows(flows), [], []);
  /** 5-minute rows: unit (HH:MI) and count. */
  const fiveMinuteRows = async () =>
    (await ds.query(
      `SELECT to_char(bucket AT TIME ZONE 'UTC', 'HH24:MI') AS unit, count::int AS count FROM edge_rollups_5m ORDER BY 1`,
    )) as Array<{ unit: string; count: number }>;
  const mark = async (resolution: string) =>
    (
      (await ds.query(`SELECT closed_through FROM rollup_resolutions WHERE resolution = $1`, [resolution])) as Array<{
        closed_through: Date | null;
      }>
    )[0].closed_through?.toISOString() ?? null;
  /**
   * Runs `before` once, just before the first query of a closer's runner that `matches`, then the
   * query itself: a writer can act at a chosen point of the close. Only runners made from here on.
   */
  const interpose = (matches: (sql: string) => boolean, before: () => Promise<void>) => {
    const make = ds.createQueryRunner.bind(ds);
    let done = false;
    ds.createQueryRunner = (...args: Parameters<DataSource['createQueryRunner']>): QueryRunner => {
      const qr = make(...args);
      const query = qr.query.bind(qr);
      qr.query = (async (sql: string, params?: unknown[]) => {
        if (!done && matches(sql)) {
          done = true;
          await before();
        }
        return query(sql, params);
      }) as QueryRunner['query'];
      return qr;
    };
  };

  beforeEach(async () => {
    const db = await createTestDatabase();
    ds = createDataSource(db.url, 6);
    await ds.initialize();
    await ds.runMigrations({ transaction: 'each' });
    dropDb = async () => {
      await ds.destroy();
      await db.drop();
    };
    partitions = new PartitionManager(ds, silentLogger);
    writer = new PostgresRollupWriter(ds, partitions);
    debugs.length = 0;
    // Unit 10:00: 2 at 10:01, 4 at 10:03. Unit 10:05: 6 at 10:07.
    await write([flow(1, 2), flow(3, 4), flow(7, 6)]);
  });
  afterEach(async () => {
    await dropDb();
  });

  it('a writer commits while the unit is summed, without waiting for the sum', async () => {
    const closer = new RollupCloser(ds, partitions, log);
    // While the closer's sum of unit 10:00 runs (its transaction open), another writer stores 8
    // at 10:30, an open unit. Before, the closer held the writers' lock during its sum, and this
    // write would wait for it (here: for ever, since the sum waits for the write).
    interpose(
      (sql) => sql.includes('INSERT INTO edge_rollups_5m'),
      () =>
        within(write([flow(30, 8)], new PostgresRollupWriter(ds, partitions)), 10_000, 'the writer waited for the sum'),
    );
    expect(await closer.closeThrough(at('10:05'))).toEqual({ '5m': 1, '15m': 0, hour: 0, '4h': 0, day: 0 });
    expect(await mark('5m')).toBe('2025-03-01T10:05:00.000Z');
    expect(await fiveMinuteRows()).toEqual([{ unit: '10:00', count: 6 }]);
    // The write did not touch the unit: its sum stood, no second sum.
    expect(debugs).not.toContain('unit changed while summed; summing it again');
    const [{ n }] = (await ds.query(`SELECT sum(count)::int AS n FROM edge_rollups`)) as Array<{ n: number }>;
    expect(n).toBe(20);
  });

  it('a writer that commits into the unit while it is summed is counted once: the unit is summed again', async () => {
    const closer = new RollupCloser(ds, partitions, log);
    // After the closer's sum of unit 10:00 committed and before it takes the lock to move the
    // mark, a lagging writer stores 8 more at 10:02: the first sum misses them.
    interpose(
      (sql) => sql.startsWith('LOCK TABLE rollup_resolutions'),
      () => write([flow(2, 8)], new PostgresRollupWriter(ds, partitions)),
    );
    expect(await closer.closeThrough(at('10:05'))).toEqual({ '5m': 1, '15m': 0, hour: 0, '4h': 0, day: 0 });
    expect(await fiveMinuteRows()).toEqual([{ unit: '10:00', count: 14 }]);
    expect(debugs).toContain('unit changed while summed; summing it again');
    // A minute written after the close goes the late path into the closed unit, once.
    await write([flow(4, 1)]);
    expect(await fiveMinuteRows()).toEqual([{ unit: '10:00', count: 15 }]);
  });

  it('closes with a pool of one connection (DATABASE_POOL_SIZE=1), creating the partitions it needs', async () => {
    // The closer holds one connection for a unit; it creates the unit's partitions on that one
    // rather than waiting for a second from the pool.
    const url = (ds.options as { url: string }).url;
    const one = createDataSource(url, 1);
    await one.initialize();
    try {
      const closer = new RollupCloser(one, new PartitionManager(one, silentLogger), log);
      await one.query(`DROP TABLE edge_rollups_5m_p20250301`);
      expect(await within(closer.closeThrough(at('10:10')), 10_000, 'the close waited for a connection')).toEqual({
        '5m': 2,
        '15m': 0,
        hour: 0,
        '4h': 0,
        day: 0,
      });
      expect(await fiveMinuteRows()).toEqual([
        { unit: '10:00', count: 6 },
        { unit: '10:05', count: 6 },
      ]);
    } finally {
      await one.destroy();
    }
  });

  it('rows an interrupted close left past the mark are never read, and the next close replaces them', async () => {
    const closer = new RollupCloser(ds, partitions, log);
    expect(await closer.closeThrough(at('10:05'))).toEqual({ '5m': 1, '15m': 0, hour: 0, '4h': 0, day: 0 });
    // What a close of unit 10:05 interrupted between its sum and its mark leaves: rows past the
    // mark (here with a count no sum gives).
    await ds.query(
      `INSERT INTO edge_rollups_5m (bucket, edge_key, edge_id, cluster, src_kind, src_namespace, src_workload, dst_kind,
          dst_namespace, dst_workload, dst_port, protocol, verdict, direction, drop_reason, attribution_level, policies,
          source, count, packets, bytes, first_seen, last_seen, last_bucket)
        SELECT '2025-03-01T10:05:00Z', edge_key, edge_id, cluster, src_kind, src_namespace, src_workload, dst_kind,
          dst_namespace, dst_workload, dst_port, protocol, verdict, direction, drop_reason, attribution_level, policies,
          source, 1000, packets, bytes, first_seen, last_seen, last_bucket
        FROM edge_rollups_5m WHERE bucket = '2025-03-01T10:00:00Z'`,
    );
    expect(await mark('5m')).toBe('2025-03-01T10:05:00.000Z');
    const stats = new PostgresRollupStatsReader(ds);
    const total = async () =>
      (await stats.summary({ from: at('10:00'), to: at('10:15'), verdict: ['denied'] }, 'edge', 10)).items.map(
        (i) => i.count,
      );
    expect(await total()).toEqual([12]); // 2 + 4 + 6: the minutes past the mark, not the left rows
    expect(await closer.closeThrough(at('10:10'))).toEqual({ '5m': 1, '15m': 0, hour: 0, '4h': 0, day: 0 });
    expect(await fiveMinuteRows()).toEqual([
      { unit: '10:00', count: 6 },
      { unit: '10:05', count: 6 },
    ]);
    expect(await total()).toEqual([12]);
  });
});
