/**
 * The 5-minute, 15-minute, hourly, 4-hour and daily roll-ups over real PostgreSQL, fed through the real minute writer: the
 * closer sums closed 5-minute units, 15-minute units, hours, 4-hour units and days once, late minutes into a closed unit reach its rows through the writer,
 * a failure inside the closer's transaction leaves nothing half-counted, concurrent writers and
 * closers never count a minute twice or lose one, and the readers answer exactly what a
 * minute-only query answers (windows starting and ending mid-hour and mid-minute).
 * Expected values are written by hand from the flows below.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import type { Attribution } from '../../src/aggregator/attribution.port.js';
import { BatchRollup } from '../../src/aggregator/edge-rollup.js';
import { silentLogger } from '../../src/common/logger.js';
import type { FlowRecord } from '../../src/flow/flow-record.js';
import { createDataSource } from '../../src/storage/data-source.js';
import { PostgresEdgeReader } from '../../src/storage/edge.reader.js';
import { RollupCloser } from '../../src/storage/rollup-closer.js';
import { PartitionManager } from '../../src/storage/partition.manager.js';
import type { DropFilters } from '../../src/storage/readers.js';
import { PostgresRollupStatsReader } from '../../src/storage/rollup-stats.reader.js';
import { PostgresRollupWriter } from '../../src/storage/rollup.writer.js';
import { createTestDatabase } from '../support/test-database.js';

const T0 = Date.parse('2025-03-01T10:00:00Z');
const at = (hhmm: string) => Date.parse(`2025-03-01T${hhmm}Z`);
const ALL = ['allowed', 'denied', 'dropped', 'audit'];
const DENY: Attribution = {
  level: 'reported',
  policies: [{ kind: 'NetworkPolicy', namespace: 'db', name: 'deny-web' }],
};

/** A flow `minute` minutes after T0 (at second 5), from shop/web to db/pg:5432 unless told otherwise. */
function flow(minute: number, count: number, over: Partial<FlowRecord> = {}): FlowRecord {
  return {
    id: `f${minute}-${count}-${over.verdict ?? ''}`,
    source: 'hubble',
    cluster: 'c1',
    time: new Date(T0 + minute * 60_000 + 5_000).toISOString(),
    verdict: 'denied',
    direction: 'egress',
    src: { kind: 'pod', namespace: 'shop', workload: { kind: 'Deployment', name: 'web' }, labels: { app: 'web' } },
    dst: { kind: 'pod', namespace: 'db', workload: { kind: 'StatefulSet', name: 'pg' }, labels: { app: 'pg' } },
    protocol: 'TCP',
    dstPort: 5432,
    count,
    policies: [],
    ...over,
  };
}

async function open(): Promise<{ ds: DataSource; drop(): Promise<void> }> {
  const db = await createTestDatabase();
  const ds = createDataSource(db.url, 6);
  await ds.initialize();
  await ds.runMigrations({ transaction: 'each' });
  return {
    ds,
    drop: async () => {
      await ds.destroy();
      await db.drop();
    },
  };
}

describe('hourly roll-ups', () => {
  let db: Awaited<ReturnType<typeof open>>;
  let ds: DataSource;
  let writer: PostgresRollupWriter;
  let closer: RollupCloser;
  let stats: PostgresRollupStatsReader;
  let edges: PostgresEdgeReader;

  const write = async (flows: Array<[FlowRecord, Attribution | undefined]>) => {
    const b = new BatchRollup();
    for (const [f, a] of flows) b.add(f, a);
    await writer.writeBatch(b, [], []);
  };
  const hourRows = async () =>
    (await ds.query(
      `SELECT to_char(bucket AT TIME ZONE 'UTC', 'HH24:MI') AS hour, verdict, count::int AS count,
          to_char(last_bucket AT TIME ZONE 'UTC', 'HH24:MI') AS last_bucket
        FROM edge_rollups_hourly WHERE bucket >= '2025-03-01T10:00:00Z' ORDER BY 1, 2`,
    )) as Array<{ hour: string; verdict: string; count: number; last_bucket: string }>;
  /** A sub-hour table's rows from 03-01 10:00. */
  const unitRows = async (table: 'edge_rollups_5m' | 'edge_rollups_15m') =>
    (await ds.query(
      `SELECT to_char(bucket AT TIME ZONE 'UTC', 'HH24:MI') AS unit, verdict, count::int AS count,
          to_char(last_bucket AT TIME ZONE 'UTC', 'HH24:MI') AS last_bucket
        FROM ${table} WHERE bucket >= '2025-03-01T10:00:00Z' ORDER BY 1, 2`,
    )) as Array<{ unit: string; verdict: string; count: number; last_bucket: string }>;
  const fiveMinuteRows = () => unitRows('edge_rollups_5m');
  const fifteenMinuteRows = () => unitRows('edge_rollups_15m');
  const fourHourRows = async () =>
    (await ds.query(
      `SELECT to_char(bucket AT TIME ZONE 'UTC', 'MM-DD HH24:MI') AS unit, verdict, count::int AS count,
          to_char(last_bucket AT TIME ZONE 'UTC', 'MM-DD HH24:MI') AS last_bucket
        FROM edge_rollups_4h ORDER BY 1, 2`,
    )) as Array<{ unit: string; verdict: string; count: number; last_bucket: string }>;
  const dayRows = async () =>
    (await ds.query(
      `SELECT to_char(bucket AT TIME ZONE 'UTC', 'MM-DD') AS day, verdict, count::int AS count,
          to_char(last_bucket AT TIME ZONE 'UTC', 'MM-DD HH24:MI') AS last_bucket
        FROM edge_rollups_daily ORDER BY 1, 2`,
    )) as Array<{ day: string; verdict: string; count: number; last_bucket: string }>;
  const totalRows = async () =>
    (await ds.query(
      `SELECT to_char(bucket AT TIME ZONE 'UTC', 'MM-DD HH24:MI') AS hour, cluster, verdict, count::int AS count
        FROM rollup_totals_hourly ORDER BY 1, 2, 3`,
    )) as Array<{ hour: string; cluster: string; verdict: string; count: number }>;
  const mark = async (resolution = 'hour') =>
    (
      (await ds.query(`SELECT closed_through FROM rollup_resolutions WHERE resolution = $1`, [resolution])) as Array<{
        closed_through: Date | null;
      }>
    )[0].closed_through?.toISOString() ?? null;

  beforeAll(async () => {
    db = await open();
    ds = db.ds;
    const partitions = new PartitionManager(ds, silentLogger);
    writer = new PostgresRollupWriter(ds, partitions);
    closer = new RollupCloser(ds, partitions, silentLogger);
    stats = new PostgresRollupStatsReader(ds);
    edges = new PostgresEdgeReader(ds);
    const v2 = { app: 'web', v: '2' };
    const v3 = { app: 'web', v: '3' };
    const web = (labels: Record<string, string>) => ({
      kind: 'pod' as const,
      namespace: 'shop',
      workload: { kind: 'Deployment', name: 'web' },
      labels,
    });
    // Edge D (denied, credited to db/deny-web): 10:05 x2, 10:59 x3, 11:30 x4 (labels v2), 12:10 x5 (v3).
    // Edge A (allowed): 10:00 x1, 11:00 x10, 12:59 x7.
    // The day before: D at 23:50 x9, A at 08:00 x6.
    await write([
      [flow(-610, 9), DENY],
      [flow(-1560, 6, { verdict: 'allowed' }), undefined],
      [flow(5, 2), DENY],
      [flow(59, 3), DENY],
      [flow(90, 4, { src: web(v2) }), DENY],
      [flow(130, 5, { src: web(v3) }), DENY],
      [flow(0, 1, { verdict: 'allowed' }), undefined],
      [flow(60, 10, { verdict: 'allowed' }), undefined],
      [flow(179, 7, { verdict: 'allowed' }), undefined],
    ]);
  });
  afterAll(async () => {
    await db.drop();
  });

  it('closes the units that ended by the given time and the coarser ones they complete, once, and moves the marks', async () => {
    expect(await mark()).toBeNull();
    expect(await mark('5m')).toBeNull();
    expect(await mark('15m')).toBeNull();
    // 5-minute units 02-28 08:00 and 23:50, 03-01 10:00, 10:05, 10:55, 11:00, 11:30 and 12:10 (12:59
    // is in a unit ending after 12:40); 15-minute units 02-28 08:00 and 23:45, 03-01 10:00, 10:45,
    // 11:00, 11:30 and 12:00 from them (12:15-12:30 would end before 12:40, but the 5-minute mark
    // is at 12:15); hours 02-28 08:00 and 23:00, 03-01 10:00 and 11:00 from those (hour 12 is not
    // over); 4-hour units 02-28 08:00 and 20:00, 03-01 08:00 from the hours; then day 02-28 from
    // its 4-hour units.
    expect(await closer.closeThrough(at('12:40:00'))).toEqual({ '5m': 8, '15m': 7, hour: 4, '4h': 3, day: 1 });
    expect(await mark('5m')).toBe('2025-03-01T12:15:00.000Z');
    expect(await mark('15m')).toBe('2025-03-01T12:15:00.000Z');
    expect(await mark()).toBe('2025-03-01T12:00:00.000Z');
    expect(await mark('4h')).toBe('2025-03-01T12:00:00.000Z');
    expect(await mark('day')).toBe('2025-03-01T00:00:00.000Z');
    expect(await fourHourRows()).toEqual([
      { unit: '02-28 08:00', verdict: 'allowed', count: 6, last_bucket: '02-28 08:00' },
      { unit: '02-28 20:00', verdict: 'denied', count: 9, last_bucket: '02-28 23:50' },
      { unit: '03-01 08:00', verdict: 'allowed', count: 11, last_bucket: '03-01 11:00' },
      { unit: '03-01 08:00', verdict: 'denied', count: 9, last_bucket: '03-01 11:30' },
    ]);
    expect(await dayRows()).toEqual([
      { day: '02-28', verdict: 'allowed', count: 6, last_bucket: '02-28 08:00' },
      { day: '02-28', verdict: 'denied', count: 9, last_bucket: '02-28 23:50' },
    ]);
    expect(await hourRows()).toEqual([
      { hour: '10:00', verdict: 'allowed', count: 1, last_bucket: '10:00' },
      { hour: '10:00', verdict: 'denied', count: 5, last_bucket: '10:59' },
      { hour: '11:00', verdict: 'allowed', count: 10, last_bucket: '11:00' },
      { hour: '11:00', verdict: 'denied', count: 4, last_bucket: '11:30' },
    ]);
    expect(await fiveMinuteRows()).toEqual([
      { unit: '10:00', verdict: 'allowed', count: 1, last_bucket: '10:00' },
      { unit: '10:05', verdict: 'denied', count: 2, last_bucket: '10:05' },
      { unit: '10:55', verdict: 'denied', count: 3, last_bucket: '10:59' },
      { unit: '11:00', verdict: 'allowed', count: 10, last_bucket: '11:00' },
      { unit: '11:30', verdict: 'denied', count: 4, last_bucket: '11:30' },
      { unit: '12:10', verdict: 'denied', count: 5, last_bucket: '12:10' },
    ]);
    expect(await fifteenMinuteRows()).toEqual([
      { unit: '10:00', verdict: 'allowed', count: 1, last_bucket: '10:00' },
      { unit: '10:00', verdict: 'denied', count: 2, last_bucket: '10:05' },
      { unit: '10:45', verdict: 'denied', count: 3, last_bucket: '10:59' },
      { unit: '11:00', verdict: 'allowed', count: 10, last_bucket: '11:00' },
      { unit: '11:30', verdict: 'denied', count: 4, last_bucket: '11:30' },
      { unit: '12:00', verdict: 'denied', count: 5, last_bucket: '12:10' },
    ]);
    // The hours' totals per cluster and verdict, closed with them.
    expect(await totalRows()).toEqual([
      { hour: '02-28 08:00', cluster: 'c1', verdict: 'allowed', count: 6 },
      { hour: '02-28 23:00', cluster: 'c1', verdict: 'denied', count: 9 },
      { hour: '03-01 10:00', cluster: 'c1', verdict: 'allowed', count: 1 },
      { hour: '03-01 10:00', cluster: 'c1', verdict: 'denied', count: 5 },
      { hour: '03-01 11:00', cluster: 'c1', verdict: 'allowed', count: 10 },
      { hour: '03-01 11:00', cluster: 'c1', verdict: 'denied', count: 4 },
    ]);
    const [d10] = (await ds.query(
      `SELECT first_seen, last_seen, src_labels, policies FROM edge_rollups_hourly WHERE bucket = $1 AND verdict = 'denied'`,
      ['2025-03-01T10:00:00Z'],
    )) as Array<{ first_seen: Date; last_seen: Date; src_labels: unknown; policies: string[] }>;
    expect(d10).toEqual({
      first_seen: new Date('2025-03-01T10:05:05Z'),
      last_seen: new Date('2025-03-01T10:59:05Z'),
      // Coarse rows carry no labels: an edge's come from its last minute row.
      src_labels: null,
      policies: ['db/deny-web'],
    });
    // Again: nothing left to close, nothing counted twice.
    expect(await closer.closeThrough(at('12:59:59'))).toEqual({ '5m': 0, '15m': 0, hour: 0, '4h': 0, day: 0 });
    expect((await hourRows()).map((r) => r.count)).toEqual([1, 5, 10, 4]);
    expect((await fourHourRows()).map((r) => r.count)).toEqual([6, 9, 11, 9]);
    expect((await fiveMinuteRows()).map((r) => r.count)).toEqual([1, 2, 3, 10, 4, 5]);
    expect((await fifteenMinuteRows()).map((r) => r.count)).toEqual([1, 2, 3, 10, 4, 5]);
    expect((await totalRows()).map((r) => r.count)).toEqual([6, 9, 1, 5, 10, 4]);
  });

  it('adds late minutes of a closed unit to its rows through the writer, and only those', async () => {
    // D at 10:30 x100 (closed hour 10, new 5-minute and 15-minute rows 10:30) with A at 12:30 x20
    // (open hour 12, 5-minute and 15-minute units 12:30 not closed) in one batch; then a new edge X
    // (dropped, port 6379) at 11:01 x8 into closed hour 11 and 5-minute and 15-minute units 11:00.
    await write([
      [flow(30, 100), DENY],
      [flow(150, 20, { verdict: 'allowed' }), undefined],
    ]);
    await write([
      [flow(61, 8, { verdict: 'dropped', dstPort: 6379, dropReason: 'CT_MAP_INSERTION_FAILED' }), undefined],
    ]);
    // D at 02-28 12:00 x50: into the closed day (and new rows of its closed hour 12:00 and 4-hour unit 12:00).
    await write([[flow(-1320, 50), DENY]]);
    expect(await fourHourRows()).toEqual([
      { unit: '02-28 08:00', verdict: 'allowed', count: 6, last_bucket: '02-28 08:00' },
      { unit: '02-28 12:00', verdict: 'denied', count: 50, last_bucket: '02-28 12:00' },
      { unit: '02-28 20:00', verdict: 'denied', count: 9, last_bucket: '02-28 23:50' },
      { unit: '03-01 08:00', verdict: 'allowed', count: 11, last_bucket: '03-01 11:00' },
      { unit: '03-01 08:00', verdict: 'denied', count: 109, last_bucket: '03-01 11:30' },
      { unit: '03-01 08:00', verdict: 'dropped', count: 8, last_bucket: '03-01 11:01' },
    ]);
    expect(await dayRows()).toEqual([
      { day: '02-28', verdict: 'allowed', count: 6, last_bucket: '02-28 08:00' },
      { day: '02-28', verdict: 'denied', count: 59, last_bucket: '02-28 23:50' },
    ]);
    expect(await hourRows()).toEqual([
      { hour: '10:00', verdict: 'allowed', count: 1, last_bucket: '10:00' },
      { hour: '10:00', verdict: 'denied', count: 105, last_bucket: '10:59' },
      { hour: '11:00', verdict: 'allowed', count: 10, last_bucket: '11:00' },
      { hour: '11:00', verdict: 'denied', count: 4, last_bucket: '11:30' },
      { hour: '11:00', verdict: 'dropped', count: 8, last_bucket: '11:01' },
    ]);
    expect(await fiveMinuteRows()).toEqual([
      { unit: '10:00', verdict: 'allowed', count: 1, last_bucket: '10:00' },
      { unit: '10:05', verdict: 'denied', count: 2, last_bucket: '10:05' },
      { unit: '10:30', verdict: 'denied', count: 100, last_bucket: '10:30' },
      { unit: '10:55', verdict: 'denied', count: 3, last_bucket: '10:59' },
      { unit: '11:00', verdict: 'allowed', count: 10, last_bucket: '11:00' },
      { unit: '11:00', verdict: 'dropped', count: 8, last_bucket: '11:01' },
      { unit: '11:30', verdict: 'denied', count: 4, last_bucket: '11:30' },
      { unit: '12:10', verdict: 'denied', count: 5, last_bucket: '12:10' },
    ]);
    expect(await fifteenMinuteRows()).toEqual([
      { unit: '10:00', verdict: 'allowed', count: 1, last_bucket: '10:00' },
      { unit: '10:00', verdict: 'denied', count: 2, last_bucket: '10:05' },
      { unit: '10:30', verdict: 'denied', count: 100, last_bucket: '10:30' },
      { unit: '10:45', verdict: 'denied', count: 3, last_bucket: '10:59' },
      { unit: '11:00', verdict: 'allowed', count: 10, last_bucket: '11:00' },
      { unit: '11:00', verdict: 'dropped', count: 8, last_bucket: '11:01' },
      { unit: '11:30', verdict: 'denied', count: 4, last_bucket: '11:30' },
      { unit: '12:00', verdict: 'denied', count: 5, last_bucket: '12:10' },
    ]);
    // Late into closed hours: 02-28 12:00 (a new total), 03-01 10:00 and 11:00; 12:30 is not closed.
    expect(await totalRows()).toEqual([
      { hour: '02-28 08:00', cluster: 'c1', verdict: 'allowed', count: 6 },
      { hour: '02-28 12:00', cluster: 'c1', verdict: 'denied', count: 50 },
      { hour: '02-28 23:00', cluster: 'c1', verdict: 'denied', count: 9 },
      { hour: '03-01 10:00', cluster: 'c1', verdict: 'allowed', count: 1 },
      { hour: '03-01 10:00', cluster: 'c1', verdict: 'denied', count: 105 },
      { hour: '03-01 11:00', cluster: 'c1', verdict: 'allowed', count: 10 },
      { hour: '03-01 11:00', cluster: 'c1', verdict: 'denied', count: 4 },
      { hour: '03-01 11:00', cluster: 'c1', verdict: 'dropped', count: 8 },
    ]);
    expect(await mark()).toBe('2025-03-01T12:00:00.000Z');
    expect(await mark('5m')).toBe('2025-03-01T12:15:00.000Z');
    expect(await mark('15m')).toBe('2025-03-01T12:15:00.000Z');
  });

  it('a window holding a whole closed day reads it from the daily rows, hours and minutes around it', async () => {
    // Day 02-28 (D 59, A 6), hours 10 and 11 of 03-01, minutes 12:00-12:15 of 03-01.
    const WD: DropFilters = { from: Date.parse('2025-02-27T23:10:00Z'), to: at('12:15:40'), verdict: ALL };
    const s = await stats.summary(WD, 'edge', 10);
    expect(s.items.map((i) => [i.verdict, i.count, i.firstSeen])).toEqual([
      ['denied', 173, '2025-02-28T12:00:05.000Z'], // 59 + 105 + 4 + 5
      ['allowed', 17, '2025-02-28T08:00:05.000Z'], // 6 + 1 + 10
      ['dropped', 8, '2025-03-01T11:01:05.000Z'],
    ]);
    const daily = await stats.timeseries(WD, '1d');
    expect(daily.items.map((p) => [p.time.slice(0, 10), p.count, p.verdicts.denied])).toEqual([
      ['2025-02-27', 0, 0],
      ['2025-02-28', 65, 59],
      ['2025-03-01', 133, 114],
    ]);
  });

  it('a window holding a whole closed 4-hour unit reads it from the 4-hour rows, minutes around it', async () => {
    // 4-hour unit 03-01 08:00 (A 1 + 10, D 2 + 100 + 3 + 4, X 8), then D 5 at 12:10 from the 15-minute row 12:00.
    const W4: DropFilters = { from: at('07:10:00'), to: at('12:15:40'), verdict: ALL };
    const list = async () => (await edges.edges(W4, 10, 0)).items.map((i) => [i.verdict, i.count]);
    expect(await list()).toEqual([
      ['denied', 114],
      ['allowed', 11],
      ['dropped', 8],
    ]);
    // Marking the 4-hour row shows the list read it (the hour and 5-minute rows are left as they are).
    const x = `bucket = '2025-03-01T08:00:00Z' AND verdict = 'dropped'`;
    await ds.query(`UPDATE edge_rollups_4h SET count = count + 1000 WHERE ${x}`);
    try {
      expect(await list()).toEqual([
        ['dropped', 1008],
        ['denied', 114],
        ['allowed', 11],
      ]);
    } finally {
      await ds.query(`UPDATE edge_rollups_4h SET count = count - 1000 WHERE ${x}`);
    }
  });

  // Minute buckets 10:30 through 12:15: 15-minute units [10:30, 11:00), hour 11, 15-minute unit
  // [12:00, 12:15), the minute 12:15.
  const W: DropFilters = { from: at('10:30:20'), to: at('12:15:40'), verdict: ALL };

  it('a window with 15-minute units at both ends reads them from the 15-minute rows; a 5-minute step does not', async () => {
    // D: 15-minute rows 10:30 (100) and 10:45 (3), hour 11 (4), 15-minute row 12:00 (5).
    const list = async () => (await edges.edges(W, 10, 0)).items.map((i) => [i.verdict, i.count]);
    const series = async (step: '5m' | '15m') =>
      (await stats.timeseries({ ...W, verdict: ['denied'] }, step)).items
        .filter((p) => p.count > 0)
        .map((p) => [p.time.slice(11, 16), p.count]);
    expect(await list()).toEqual([
      ['denied', 112],
      ['allowed', 10],
      ['dropped', 8],
    ]);
    // Marking the 15-minute rows at each end shows which reads took them (the 5-minute, hour and
    // minute rows are left as they are).
    const x = `bucket IN ('2025-03-01T10:45:00Z', '2025-03-01T12:00:00Z') AND verdict = 'denied'`;
    await ds.query(`UPDATE edge_rollups_15m SET count = count + 1000 WHERE ${x}`);
    try {
      expect(await list()).toEqual([
        ['denied', 2112],
        ['allowed', 10],
        ['dropped', 8],
      ]);
      expect(await series('15m')).toEqual([
        ['10:30', 100],
        ['10:45', 1003],
        ['11:30', 4],
        ['12:00', 1005],
      ]);
      expect(await series('5m')).toEqual([
        ['10:30', 100],
        ['10:55', 3],
        ['11:30', 4],
        ['12:10', 5],
      ]);
    } finally {
      await ds.query(`UPDATE edge_rollups_15m SET count = count - 1000 WHERE ${x}`);
    }
  });

  it('summary over a window starting and ending mid-hour: the ragged ends come from the minutes', async () => {
    const s = await stats.summary(W, 'edge', 10);
    expect(s.items.map((i) => [i.verdict, i.dstPort, i.count, i.firstSeen, i.lastSeen])).toEqual([
      ['denied', 5432, 112, '2025-03-01T10:30:05.000Z', '2025-03-01T12:10:05.000Z'], // 100 + 3 + 4 + 5
      ['allowed', 5432, 10, '2025-03-01T11:00:05.000Z', '2025-03-01T11:00:05.000Z'],
      ['dropped', 6379, 8, '2025-03-01T11:01:05.000Z', '2025-03-01T11:01:05.000Z'],
    ]);
    const byPolicy = await stats.summary({ ...W, verdict: ['denied'] }, 'policy', 10);
    expect(byPolicy.items.map((i) => [i.policy, i.count])).toEqual([['db/deny-web', 112]]);
    expect((await stats.policyDropStats(W)).get('db/deny-web')).toMatchObject({
      count: 112,
      verdicts: { denied: 112 },
    });
  });

  it('time series: hour steps use the hour rows, finer steps the 15-minute and 5-minute rows, same points either way', async () => {
    const hourly = await stats.timeseries(W, '1h');
    expect(hourly.items).toEqual([
      { time: '2025-03-01T10:00:00.000Z', count: 103, verdicts: { allowed: 0, denied: 103, dropped: 0, audit: 0 } },
      { time: '2025-03-01T11:00:00.000Z', count: 22, verdicts: { allowed: 10, denied: 4, dropped: 8, audit: 0 } },
      { time: '2025-03-01T12:00:00.000Z', count: 5, verdicts: { allowed: 0, denied: 5, dropped: 0, audit: 0 } },
    ]);
    const fine = await stats.timeseries(W, '15m');
    expect(fine.items.filter((p) => p.count > 0).map((p) => [p.time.slice(11, 16), p.count])).toEqual([
      ['10:30', 100],
      ['10:45', 3],
      ['11:00', 18],
      ['11:30', 4],
      ['12:00', 5],
    ]);
  });

  it('a series with a step of whole hours and no edge filter reads the closed hours from the hour totals', async () => {
    // Hour 11 (closed) from the totals, 10:30-11:00 and 12:00-12:15 from 5-minute rows and minutes.
    // Marking the totals shows which series read them; the edge rows are left as they are.
    await ds.query(`UPDATE rollup_totals_hourly SET count = count + 1000 WHERE bucket = '2025-03-01T11:00:00Z'`);
    try {
      const points = async (f: DropFilters, step: '1h' | '1d' | '15m') =>
        (await stats.timeseries(f, step)).items.filter((p) => p.count > 0).map((p) => [p.time.slice(5, 16), p.count]);
      expect(await points(W, '1h')).toEqual([
        ['03-01T10:00', 103],
        ['03-01T11:00', 3022], // 10 + 4 + 8, each total + 1000
        ['03-01T12:00', 5],
      ]);
      expect(await points({ ...W, cluster: 'c1', verdict: ['denied'] }, '1h')).toEqual([
        ['03-01T10:00', 103],
        ['03-01T11:00', 1004],
        ['03-01T12:00', 5],
      ]);
      expect(await points({ ...W, cluster: 'other' }, '1h')).toEqual([]);
      // Whole days come from the hour totals too (day 02-28: 6 + 50 + 9, each + 0).
      expect(
        await points({ from: Date.parse('2025-02-27T23:10:00Z'), to: at('12:15:40'), verdict: ALL }, '1d'),
      ).toEqual([
        ['02-28T00:00', 65],
        ['03-01T00:00', 3133], // 1 + 105 + 3022 + 5
      ]);
      // Filters the totals do not keep, and finer steps, read the edge rows.
      expect(await points({ ...W, namespace: 'db' }, '1h')).toEqual([
        ['03-01T10:00', 103],
        ['03-01T11:00', 22],
        ['03-01T12:00', 5],
      ]);
      expect(await points({ ...W, direction: ['egress'] }, '1h')).toEqual([
        ['03-01T10:00', 103],
        ['03-01T11:00', 22],
        ['03-01T12:00', 5],
      ]);
      expect((await points(W, '15m')).map(([, n]) => n)).toEqual([100, 3, 18, 4, 5]);
    } finally {
      await ds.query(`UPDATE rollup_totals_hourly SET count = count - 1000 WHERE bucket = '2025-03-01T11:00:00Z'`);
    }
  });

  it('edge list: counts and the latest labels, from the last minute whether in an hour row or not', async () => {
    const page = await edges.edges(W, 10, 0);
    expect(page.items.map((e) => [e.verdict, e.count, e.src.labels])).toEqual([
      ['denied', 112, { app: 'web', v: '3' }],
      ['allowed', 10, { app: 'web' }],
      ['dropped', 8, { app: 'web' }],
    ]);
    // D's last minute before 12:05 is 11:30, inside the closed hour 11.
    const early = await edges.edges({ ...W, to: at('12:05:00') }, 10, 0);
    expect(early.items[0]).toMatchObject({ verdict: 'denied', count: 107, src: { labels: { app: 'web', v: '2' } } });
  });

  it('answers exactly what the minutes alone answer, for every reader and several windows', async () => {
    const windows: DropFilters[] = [
      W,
      { ...W, to: at('12:05:00') },
      { from: T0, to: at('13:00:00'), verdict: ALL },
      { from: at('10:59:59'), to: at('12:00:00'), verdict: ['denied', 'dropped'] },
      { from: at('11:00:00'), to: at('11:00:30'), verdict: ALL },
      { ...W, namespace: 'db', policy: 'db/deny-web', verdict: ['denied'] },
      { ...W, workload: 'web', direction: ['egress'] },
      { from: Date.parse('2025-02-27T23:10:00Z'), to: at('12:15:40'), verdict: ALL },
      { from: Date.parse('2025-02-28T05:00:00Z'), to: at('10:00:00'), verdict: ALL },
      { from: Date.parse('2025-02-28T00:00:00Z'), to: at('00:00:00'), verdict: ['denied'] },
    ];
    const answers = async () => {
      const out: unknown[] = [];
      for (const w of windows) {
        for (const by of ['edge', 'policy', 'namespace', 'reason', 'workload'] as const)
          out.push(await stats.summary(w, by, 50));
        out.push(await stats.timeseries(w, '1h'), await stats.timeseries(w, '1d'), await stats.timeseries(w, '5m'));
        out.push(await stats.timeseries(w, '15m'), await stats.timeseries(w, '1m'));
        out.push(await edges.edges(w, 50, 0), await edges.observedEdges(w), [...(await stats.policyDropStats(w))]);
      }
      return out;
    };
    const withHours = await answers();
    await ds.query(`UPDATE rollup_resolutions SET closed_through = NULL`);
    try {
      expect(await answers()).toEqual(withHours);
    } finally {
      await ds.query(`UPDATE rollup_resolutions SET closed_through = '2025-03-01T12:15:00Z' WHERE resolution = '5m'`);
      await ds.query(`UPDATE rollup_resolutions SET closed_through = '2025-03-01T12:15:00Z' WHERE resolution = '15m'`);
      await ds.query(`UPDATE rollup_resolutions SET closed_through = '2025-03-01T12:00:00Z' WHERE resolution = 'hour'`);
      await ds.query(`UPDATE rollup_resolutions SET closed_through = '2025-03-01T12:00:00Z' WHERE resolution = '4h'`);
      await ds.query(`UPDATE rollup_resolutions SET closed_through = '2025-03-01T00:00:00Z' WHERE resolution = 'day'`);
    }
  });

  it('a failure inside the closer leaves the unit unclosed and uncounted; the next pass counts it once', async () => {
    // Hour 12: D x5 (5-minute unit 12:10 and 15-minute unit 12:00, closed), A x20 (12:30) and x7
    // (12:59). The mark update fails after the rows of the first unit (5-minute unit 12:30) were inserted.
    await ds.query(`CREATE FUNCTION fail_mark() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`);
    await ds.query(
      `CREATE TRIGGER fail_mark BEFORE UPDATE ON rollup_resolutions FOR EACH ROW EXECUTE FUNCTION fail_mark()`,
    );
    await expect(closer.closeThrough(at('14:00:00'))).rejects.toThrow(/injected failure/);
    expect(await mark('5m')).toBe('2025-03-01T12:15:00.000Z');
    expect(await mark('15m')).toBe('2025-03-01T12:15:00.000Z');
    expect(await mark()).toBe('2025-03-01T12:00:00.000Z');
    expect((await fiveMinuteRows()).filter((r) => r.unit >= '12:15')).toEqual([]);
    expect((await fifteenMinuteRows()).filter((r) => r.unit >= '12:15')).toEqual([]);
    expect((await hourRows()).filter((r) => r.hour === '12:00')).toEqual([]);
    expect((await totalRows()).filter((r) => r.hour === '03-01 12:00')).toEqual([]);
    await ds.query(`DROP TRIGGER fail_mark ON rollup_resolutions`);
    // 5-minute units 12:30 and 12:55, 15-minute units 12:30 and 12:45, hour 12 from the 15-minute rows.
    expect(await closer.closeThrough(at('14:00:00'))).toEqual({ '5m': 2, '15m': 2, hour: 1, '4h': 0, day: 0 });
    expect(await mark('5m')).toBe('2025-03-01T13:00:00.000Z');
    expect(await mark('15m')).toBe('2025-03-01T13:00:00.000Z');
    expect(await mark()).toBe('2025-03-01T13:00:00.000Z');
    expect((await fiveMinuteRows()).filter((r) => r.unit >= '12:15')).toEqual([
      { unit: '12:30', verdict: 'allowed', count: 20, last_bucket: '12:30' },
      { unit: '12:55', verdict: 'allowed', count: 7, last_bucket: '12:59' },
    ]);
    expect((await fifteenMinuteRows()).filter((r) => r.unit >= '12:15')).toEqual([
      { unit: '12:30', verdict: 'allowed', count: 20, last_bucket: '12:30' },
      { unit: '12:45', verdict: 'allowed', count: 7, last_bucket: '12:59' },
    ]);
    expect((await hourRows()).filter((r) => r.hour === '12:00')).toEqual([
      { hour: '12:00', verdict: 'allowed', count: 27, last_bucket: '12:59' },
      { hour: '12:00', verdict: 'denied', count: 5, last_bucket: '12:10' },
    ]);
    expect((await totalRows()).filter((r) => r.hour === '03-01 12:00')).toEqual([
      { hour: '03-01 12:00', cluster: 'c1', verdict: 'allowed', count: 27 },
      { hour: '03-01 12:00', cluster: 'c1', verdict: 'denied', count: 5 },
    ]);
  });
});

describe('5-minute and 15-minute units closing sooner than hours', () => {
  let db: Awaited<ReturnType<typeof open>>;

  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('a minute arriving after its 5-minute or 15-minute unit closed but before its hour did lands in those units once, and in the hour when it closes', async () => {
    const { ds } = db;
    const partitions = new PartitionManager(ds, silentLogger);
    const writer = new PostgresRollupWriter(ds, partitions);
    const closer = new RollupCloser(ds, partitions, silentLogger);
    const stats = new PostgresRollupStatsReader(ds);
    const edges = new PostgresEdgeReader(ds);
    const write = async (flows: FlowRecord[]) => {
      const b = new BatchRollup();
      for (const f of flows) b.add(f, DENY);
      await writer.writeBatch(b, [], []);
    };
    const rows = async (table: string) =>
      (await ds.query(
        `SELECT to_char(bucket AT TIME ZONE 'UTC', 'HH24:MI') AS unit, count::int AS count,
            to_char(last_bucket AT TIME ZONE 'UTC', 'HH24:MI') AS last_bucket FROM ${table} ORDER BY 1`,
      )) as Array<{ unit: string; count: number; last_bucket: string }>;
    const marks = async () =>
      Object.fromEntries(
        (
          (await ds.query(
            `SELECT resolution, to_char(closed_through AT TIME ZONE 'UTC', 'HH24:MI') AS mark FROM rollup_resolutions`,
          )) as Array<{ resolution: string; mark: string | null }>
        ).map((r) => [r.resolution, r.mark]),
      );

    const closed = (fives: number, fifteens: number, hours: number) => ({
      '5m': fives,
      '15m': fifteens,
      hour: hours,
      '4h': 0,
      day: 0,
    });

    // D at 10:01 x2 and 10:07 x3. At 10:15 with 2 minutes' lateness for 5-minute and 15-minute
    // units and 15 for hours: the units 10:00 and 10:05 close (10:10 ends at 10:15, after 10:13),
    // no 15-minute unit (10:00 ends at 10:15) and no hour does.
    await write([flow(1, 2), flow(7, 3)]);
    expect(await closer.closeThrough(at('10:00:00'), undefined, at('10:13:00'))).toEqual(closed(2, 0, 0));
    expect(await marks()).toEqual({ '5m': '10:10', '15m': null, hour: null, '4h': null, day: null });

    // 10:06 x4 arrives late into the closed unit 10:05, with 10:12 x1 of the open unit 10:10.
    await write([flow(6, 4), flow(12, 1)]);
    expect(await rows('edge_rollups_5m')).toEqual([
      { unit: '10:00', count: 2, last_bucket: '10:01' },
      { unit: '10:05', count: 7, last_bucket: '10:07' },
    ]);
    expect(await rows('edge_rollups_15m')).toEqual([]);
    expect(await rows('edge_rollups_hourly')).toEqual([]);

    // Readers read the closed units and the minutes after them: 2 + 3 + 4 + 1 (and 6 below).
    const w: DropFilters = { from: at('10:00:00'), to: at('10:20:00'), verdict: ALL };
    const list = await edges.edges(w, 10, 0);
    expect(list.items.map((e) => [e.verdict, e.count])).toEqual([['denied', 10]]);
    const windows: DropFilters[] = [w, { ...w, from: at('10:05:30') }, { ...w, to: at('10:10:00') }];
    const answers = async () => {
      const out: unknown[] = [];
      for (const f of windows)
        out.push(
          await edges.edges(f, 10, 0),
          await stats.summary(f, 'edge', 10),
          await stats.timeseries(f, '15m'),
          await stats.timeseries(f, '5m'),
          await stats.timeseries(f, '1m'),
        );
      return out;
    };
    const sameAsMinutes = async () => {
      const saved = (await ds.query(`SELECT resolution, closed_through FROM rollup_resolutions`)) as Array<{
        resolution: string;
        closed_through: Date | null;
      }>;
      const withUnits = await answers();
      await ds.query(`UPDATE rollup_resolutions SET closed_through = NULL`);
      expect(await answers()).toEqual(withUnits);
      for (const r of saved)
        await ds.query(`UPDATE rollup_resolutions SET closed_through = $1 WHERE resolution = $2`, [
          r.closed_through,
          r.resolution,
        ]);
    };
    await sameAsMinutes();

    // At 10:19 the unit 10:10 closes, then the 15-minute unit 10:00 from the three 5-minute rows
    // (with the late minute); the hour is not over.
    expect(await closer.closeThrough(at('10:00:00'), undefined, at('10:17:00'))).toEqual(closed(1, 1, 0));
    expect(await rows('edge_rollups_15m')).toEqual([{ unit: '10:00', count: 10, last_bucket: '10:12' }]);
    expect(await marks()).toEqual({ '5m': '10:15', '15m': '10:15', hour: null, '4h': null, day: null });

    // 10:08 x6 arrives late into the closed 5-minute unit 10:05 and the closed 15-minute unit
    // 10:00 (decided by the 15-minute mark) of the open hour 10: into both rows once.
    await write([flow(8, 6)]);
    expect(await rows('edge_rollups_5m')).toEqual([
      { unit: '10:00', count: 2, last_bucket: '10:01' },
      { unit: '10:05', count: 13, last_bucket: '10:08' },
      { unit: '10:10', count: 1, last_bucket: '10:12' },
    ]);
    expect(await rows('edge_rollups_15m')).toEqual([{ unit: '10:00', count: 16, last_bucket: '10:12' }]);
    expect(await rows('edge_rollups_hourly')).toEqual([]);
    expect((await edges.edges(w, 10, 0)).items.map((e) => [e.verdict, e.count])).toEqual([['denied', 16]]);
    await sameAsMinutes();

    // 11:05 x1 and 11:14 x1. At 11:15 (hours up to 11:00, 5-minute units up to 11:13) the unit
    // 11:05 closes; the 15-minute units after 10:15 hold no 5-minute row before 11:00, so the
    // 15-minute mark stays at 10:15 and the hour 10 waits for it although it is over.
    await write([flow(65, 1), flow(74, 1)]);
    expect(await closer.closeThrough(at('11:00:00'), undefined, at('11:13:00'))).toEqual(closed(1, 0, 0));
    expect(await marks()).toEqual({ '5m': '11:10', '15m': '10:15', hour: null, '4h': null, day: null });
    expect(await rows('edge_rollups_hourly')).toEqual([]);
    // At 11:19 the unit 11:10 closes, the 15-minute unit 11:00, and so the hour 10 (from its
    // 15-minute rows): it holds both late minutes once.
    expect(await closer.closeThrough(at('11:00:00'), undefined, at('11:17:00'))).toEqual(closed(1, 1, 1));
    expect(await rows('edge_rollups_5m')).toEqual([
      { unit: '10:00', count: 2, last_bucket: '10:01' },
      { unit: '10:05', count: 13, last_bucket: '10:08' },
      { unit: '10:10', count: 1, last_bucket: '10:12' },
      { unit: '11:05', count: 1, last_bucket: '11:05' },
      { unit: '11:10', count: 1, last_bucket: '11:14' },
    ]);
    expect(await rows('edge_rollups_15m')).toEqual([
      { unit: '10:00', count: 16, last_bucket: '10:12' },
      { unit: '11:00', count: 2, last_bucket: '11:14' },
    ]);
    expect(await rows('edge_rollups_hourly')).toEqual([{ unit: '10:00', count: 16, last_bucket: '10:12' }]);
    expect(await marks()).toEqual({ '5m': '11:15', '15m': '11:15', hour: '11:00', '4h': null, day: null });
  });
});

describe('5-minute, 15-minute, hourly, 4-hour and daily roll-ups under concurrent writers and closers', () => {
  let db: Awaited<ReturnType<typeof open>>;

  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('counts every minute exactly once in the 5-minute, 15-minute, hour, 4-hour and day rows', async () => {
    const { ds } = db;
    const partitions = new PartitionManager(ds, silentLogger);
    // Six hours across midnight: 03-01 21:00 to 03-02 03:00 (minutes 660 to 1019 after T0).
    const HOURS = 6;
    const START = 660;
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    let written = 0;
    let writtenFirstDay = 0;
    // Three writers (say, three Kafka partitions' aggregators) on disjoint clusters; every batch
    // spreads over all six hours, so once an hour or a day is closed later batches are late into it.
    const writerLoop = async (cluster: string, batches: number) => {
      const w = new PostgresRollupWriter(ds, partitions);
      for (let i = 0; i < batches; i++) {
        const b = new BatchRollup();
        for (let j = 0; j < 30; j++) {
          const count = 1 + random(9);
          const minute = START + random(HOURS * 60);
          written += count;
          if (minute < START + 180) writtenFirstDay += count;
          b.add(flow(minute, count, { cluster, dstPort: 8000 + random(5) }), undefined);
        }
        await w.writeBatch(b, [], []);
      }
    };
    // `ahead`: 5-minute and 15-minute units close an hour before their hours (a shorter lateness
    // than hours'), so minutes reach closed 5-minute and 15-minute units of open hours too.
    const closerLoop = async (ahead = 0) => {
      const c = new RollupCloser(ds, partitions, silentLogger);
      for (let h = 1; h <= HOURS; h++) {
        const end = T0 + (START / 60 + h) * 3_600_000;
        await c.closeThrough(end - ahead, undefined, end);
      }
    };
    // Some minutes in every hour first, so the closers have units to close while writers go on.
    await Promise.all([writerLoop('c0', 5), writerLoop('c1', 5), writerLoop('c2', 5)]);
    await Promise.all([
      writerLoop('c0', 30),
      writerLoop('c1', 30),
      closerLoop(),
      writerLoop('c2', 30),
      closerLoop(3_600_000),
    ]);
    // A minute in the last 5-minute unit (the generator leaves some units empty): an hour closes once
    // its last 15-minute unit does, that one once its last 5-minute unit does, and an empty unit stays open.
    const last = new BatchRollup();
    last.add(flow(START + HOURS * 60 - 1, 1, { cluster: 'c0' }), undefined);
    written += 1;
    await new PostgresRollupWriter(ds, partitions).writeBatch(last, [], []);
    await new RollupCloser(ds, partitions, silentLogger).closeThrough(T0 + (START / 60 + HOURS) * 3_600_000);

    const marks = (await ds.query(
      `SELECT resolution, to_char(closed_through AT TIME ZONE 'UTC', 'MM-DD HH24:MI') AS mark FROM rollup_resolutions ORDER BY 1`,
    )) as Array<{ resolution: string; mark: string }>;
    expect(marks).toEqual([
      { resolution: '15m', mark: '03-02 03:00' },
      { resolution: '4h', mark: '03-02 00:00' },
      { resolution: '5m', mark: '03-02 03:00' },
      { resolution: 'day', mark: '03-02 00:00' },
      { resolution: 'hour', mark: '03-02 03:00' },
    ]);
    const [sums] = (await ds.query(
      `SELECT (SELECT sum(count)::int FROM edge_rollups) AS minutes, (SELECT sum(count)::int FROM edge_rollups_5m) AS fives,
        (SELECT sum(count)::int FROM edge_rollups_15m) AS fifteens,
        (SELECT sum(count)::int FROM edge_rollups_hourly) AS hours, (SELECT sum(count)::int FROM edge_rollups_4h) AS fours,
        (SELECT sum(count)::int FROM edge_rollups_daily) AS days`,
    )) as Array<{ minutes: number; fives: number; fifteens: number; hours: number; fours: number; days: number }>;
    expect(sums).toEqual({
      minutes: written,
      fives: written,
      fifteens: written,
      hours: written,
      fours: writtenFirstDay,
      days: writtenFirstDay,
    });
    // Row by row: every coarse row is the sum of its minutes, and no (unit, edge) is missing.
    for (const [table, unit, mark] of [
      ['edge_rollups_5m', '5 minutes', '2025-03-02T03:00:00Z'],
      ['edge_rollups_15m', '15 minutes', '2025-03-02T03:00:00Z'],
      ['edge_rollups_hourly', '1 hour', '2025-03-02T03:00:00Z'],
      ['edge_rollups_4h', '4 hours', '2025-03-02T00:00:00Z'],
      ['edge_rollups_daily', '1 day', '2025-03-02T00:00:00Z'],
    ]) {
      const fromMinutes = `SELECT date_bin('${unit}', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS unit, edge_key,
          sum(count) AS count, sum(packets) AS packets, min(first_seen) AS first_seen, max(last_seen) AS last_seen,
          max(bucket) AS last_bucket
        FROM edge_rollups WHERE bucket < '${mark}' GROUP BY 1, 2`;
      const stored = `SELECT bucket, edge_key, count, packets, first_seen, last_seen, last_bucket FROM ${table}`;
      const differ = (await ds.query(
        `(${fromMinutes} EXCEPT ${stored}) UNION ALL (${stored} EXCEPT ${fromMinutes})`,
      )) as unknown[];
      expect(differ).toEqual([]);
    }
    // The hour totals: every (hour, cluster, verdict) sum of the minutes, none missing or extra.
    const totalsFromMinutes = `SELECT date_bin('1 hour', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, cluster,
        verdict, sum(count) AS count FROM edge_rollups WHERE bucket < '2025-03-02T03:00:00Z' GROUP BY 1, 2, 3`;
    const totals = `SELECT bucket, cluster, verdict, count FROM rollup_totals_hourly`;
    expect(
      await ds.query(`(${totalsFromMinutes} EXCEPT ${totals}) UNION ALL (${totals} EXCEPT ${totalsFromMinutes})`),
    ).toEqual([]);
    const [{ n }] = (await ds.query(`SELECT count(DISTINCT cluster)::int AS n FROM rollup_totals_hourly`)) as Array<{
      n: number;
    }>;
    expect(n).toBe(3);
  });
});
