/**
 * The coarser roll-up resolutions (5-minute, 15-minute, hourly, 4-hour, daily), built exactly once
 * from the finer ones: minutes → `edge_rollups_5m` → `edge_rollups_15m` → `edge_rollups_hourly` →
 * `edge_rollups_4h` → `edge_rollups_daily`.
 *
 * Per resolution, `rollup_resolutions.closed_through` splits time in two: every minute before it
 * is also summed in that resolution's table, no minute after it is. Two writers keep that true:
 *  - the closer (RollupCloser) locks the marks' table EXCLUSIVE and moves a mark past the next unit
 *    in the same transaction as that unit's rows are in the resolution's table, whole;
 *  - the minute writer (addLateMinutes, in the batch transaction) reads the marks FOR SHARE and adds
 *    the batch's minutes that fall before a mark (late data: an import of old flows, a lagging
 *    collector) to that resolution's rows as well.
 * The two locks conflict, so a batch either commits before the closer moves the mark (and is in
 * its sum) or reads the moved mark (and adds itself): no minute is counted twice or lost. A table
 * lock rather than FOR UPDATE on the row because table locks queue fairly: writers whose
 * transactions overlap without a gap (several aggregators) can starve a row-lock waiter, since
 * FOR SHARE lockers do not queue behind it. Readers' plain SELECT of the marks never waits.
 * The hot path pays one FOR SHARE of five rows per batch; the extra upserts run only for late minutes.
 *
 * Writers do not wait for the sum: the closer sums a unit first, without the lock, in a
 * REPEATABLE READ snapshot that also reads the unit's change stamp (the writes counted in its
 * minutes or hours), and commits those rows past the mark, where no reader looks and only a closer
 * writes. Then, under the lock, it reads the stamp again: unchanged, no committed write is missing
 * from the sum and it moves the mark; changed (a writer committed into the unit meanwhile), it sums
 * the unit again under the lock, as it did before. A crash between the two leaves rows past the
 * mark, which the next sum of that unit replaces. Closers take a session advisory lock per unit, so
 * two never sum the same unit at once.
 *
 * A unit closes once every finer unit of it is closed (a 15-minute unit once its three 5-minute
 * units are, an hour once its four 15-minute units are, a 4-hour unit once its hours are, a day
 * once its 4-hour units are: a mark never passes the finer one's), so a minute before a coarse mark
 * is before every finer mark too, and every sum stays exact. Each resolution decides "late" from
 * its own mark, so 5-minute and 15-minute units may close sooner after they end than hours
 * (FIVE_MINUTE_ROLLUP_LATENESS against HOURLY_ROLLUP_LATENESS): a minute of an open hour arriving
 * after its 5-minute unit closed is added to the 5-minute row (and to its 15-minute row if that
 * unit closed too) only, and reaches the coarser rows when they are summed from the finer ones.
 */
import type { DataSource, EntityManager } from 'typeorm';
import type { Logger } from '../common/logger.js';
import type { PartitionManager } from './partition.manager.js';

export const FIVE_MINUTES_MS = 300_000;
export const FIFTEEN_MINUTES_MS = 900_000;
export const HOUR_MS = 3_600_000;
export const FOUR_HOURS_MS = 14_400_000;
export const DAY_MS = 86_400_000;

/** A coarser resolution: its table, its unit, and the finer table it is summed from. */
export interface Resolution {
  name: '5m' | '15m' | 'hour' | '4h' | 'day';
  table: 'edge_rollups_5m' | 'edge_rollups_15m' | 'edge_rollups_hourly' | 'edge_rollups_4h' | 'edge_rollups_daily';
  unitMs: number;
  /** For date_bin (from the epoch-aligned origin below: UTC 5 and 15 minutes, hours, 00/04/08/... and days). */
  interval: '5 minutes' | '15 minutes' | '1 hour' | '4 hours' | '1 day';
  source: 'edge_rollups' | 'edge_rollups_5m' | 'edge_rollups_15m' | 'edge_rollups_hourly' | 'edge_rollups_4h';
  /** The source's column holding the latest minute a row covers. */
  sourceLast: 'bucket' | 'last_bucket';
  /**
   * Which lateness its units close with (RollupCloser.closeThrough's ends): 'short' for the
   * 5-minute and 15-minute units (FIVE_MINUTE_ROLLUP_LATENESS), 'hour' for the rest
   * (HOURLY_ROLLUP_LATENESS).
   */
  lateness: 'short' | 'hour';
}

/** Shortens the ragged ends of a window read from the minutes, and the closer's lock per close. */
export const FIVE_MINUTELY: Resolution = {
  name: '5m',
  table: 'edge_rollups_5m',
  unitMs: FIVE_MINUTES_MS,
  interval: '5 minutes',
  source: 'edge_rollups',
  sourceLast: 'bucket',
  lateness: 'short',
};
/**
 * Shortens a window's 5-minute ends: per edge at most 2 5-minute rows and a few 15-minute rows at
 * each end instead of up to 11 5-minute rows at the start and 14 at the end.
 */
export const FIFTEEN_MINUTELY: Resolution = {
  name: '15m',
  table: 'edge_rollups_15m',
  unitMs: FIFTEEN_MINUTES_MS,
  interval: '15 minutes',
  source: 'edge_rollups_5m',
  sourceLast: 'last_bucket',
  lateness: 'short',
};
export const HOURLY: Resolution = {
  name: 'hour',
  table: 'edge_rollups_hourly',
  unitMs: HOUR_MS,
  interval: '1 hour',
  source: 'edge_rollups_15m',
  sourceLast: 'last_bucket',
  lateness: 'hour',
};
/** Halves (or better) the hour rows of a window: at most 3 hours at each end instead of 23 in all. */
export const FOUR_HOURLY: Resolution = {
  name: '4h',
  table: 'edge_rollups_4h',
  unitMs: FOUR_HOURS_MS,
  interval: '4 hours',
  source: 'edge_rollups_hourly',
  sourceLast: 'last_bucket',
  lateness: 'hour',
};
export const DAILY: Resolution = {
  name: 'day',
  table: 'edge_rollups_daily',
  unitMs: DAY_MS,
  interval: '1 day',
  source: 'edge_rollups_4h',
  sourceLast: 'last_bucket',
  lateness: 'hour',
};
/** Finest first: each is summed from the one before it (or from the minutes). */
export const RESOLUTIONS: readonly Resolution[] = [FIVE_MINUTELY, FIFTEEN_MINUTELY, HOURLY, FOUR_HOURLY, DAILY];

/** What makes an edge in the API's edge list (it groups roll-up rows by these). */
export const EDGE_COLUMNS = [
  'cluster',
  'src_kind',
  'src_namespace',
  'src_workload',
  'dst_kind',
  'dst_namespace',
  'dst_workload',
  'dst_port',
  'protocol',
  'verdict',
] as const;

/**
 * A row's edge id (src/aggregator/edge-id.ts): the stored one, or for rows written before the
 * column existed (NULL) the same MD5 computed here. The ten columns are never NULL.
 */
export const EDGE_ID_SQL = `coalesce(edge_id, md5(concat_ws(chr(31), ${EDGE_COLUMNS.map((c) =>
  c === 'dst_port' ? 'dst_port::text' : c,
).join(', ')}))::uuid)`;

/** Columns a coarse row takes from its finer rows (sums and last_bucket are computed). */
const KEY_COLUMNS = [...EDGE_COLUMNS, 'direction', 'drop_reason', 'attribution_level', 'policies', 'source'] as const;

/**
 * Coarse rows carry no labels (`src_labels`, `dst_labels` stay NULL): readers take an edge's
 * labels from its last minute row (`last_bucket`), and picking each unit's latest labels cost an
 * ordered aggregate, a sort of every finer row, at every close, and made every coarse row as wide
 * as the labels (docs/PERFORMANCE.md).
 */
const INSERT_COLUMNS = `bucket, edge_key, edge_id, ${KEY_COLUMNS.join(', ')},
  count, packets, bytes, first_seen, last_seen, last_bucket`;

/** Every column but `source` follows from the edge key; min() picks one value without grouping by them. */
const KEY_AGGREGATES = KEY_COLUMNS.map((c) => `min(${c})`).join(', ');

/**
 * A unit's edge id, one per edge key whatever its finer rows hold: the stored one (all the same),
 * or for rows stored before the column, computed from the key's columns as EDGE_ID_SQL does.
 * Grouping by the key alone keeps one row per key even if a database computed MD5 differently.
 */
const UNIT_EDGE_ID = `coalesce(max(edge_id::text COLLATE "C")::uuid, md5(concat_ws(chr(31), ${EDGE_COLUMNS.map((c) =>
  c === 'dst_port' ? 'min(dst_port)::text' : `min(${c})`,
).join(', ')}))::uuid)`;

/** The closer: one unit of finer rows summed into rows of the resolution ($1: the unit's start). */
function closeSql(r: Resolution): string {
  return `
INSERT INTO ${r.table} (${INSERT_COLUMNS})
SELECT $1::timestamptz, edge_key, ${UNIT_EDGE_ID}, ${KEY_AGGREGATES}, sum(count), sum(packets), sum(bytes), min(first_seen), max(last_seen), max(${r.sourceLast})
FROM ${r.source}
WHERE bucket >= $1::timestamptz AND bucket < $1::timestamptz + interval '${r.interval}'
GROUP BY edge_key`;
}

/**
 * The writer's late minutes ($1: the mark) added to their units, read from the batch's rows in the
 * writer's staging table (rollup_stage, filled by COPY earlier in the same transaction).
 */
function addLateSql(r: Resolution): string {
  return `
INSERT INTO ${r.table} AS h (${INSERT_COLUMNS})
SELECT date_bin('${r.interval}', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00'), edge_key, ${UNIT_EDGE_ID}, ${KEY_AGGREGATES},
  sum(count), sum(packets), sum(bytes),
  min(first_seen), max(last_seen), max(bucket)
FROM rollup_stage
WHERE bucket < $1::timestamptz
GROUP BY 1, 2
ON CONFLICT (bucket, edge_key) DO UPDATE SET
  edge_id = COALESCE(h.edge_id, EXCLUDED.edge_id),
  count = h.count + EXCLUDED.count,
  packets = h.packets + EXCLUDED.packets,
  bytes = h.bytes + EXCLUDED.bytes,
  first_seen = LEAST(h.first_seen, EXCLUDED.first_seen),
  last_seen = GREATEST(h.last_seen, EXCLUDED.last_seen),
  last_bucket = GREATEST(h.last_bucket, EXCLUDED.last_bucket)`;
}

/**
 * The hour's totals per cluster and verdict (`rollup_totals_hourly`, for time series without edge
 * filters), summed from the hour rows just inserted, in the same transaction ($1: the hour).
 */
const CLOSE_TOTALS_SQL = `
INSERT INTO rollup_totals_hourly (bucket, cluster, verdict, count)
SELECT $1::timestamptz, cluster, verdict, sum(count) FROM edge_rollups_hourly WHERE bucket = $1::timestamptz
GROUP BY cluster, verdict`;

/** The writer's late minutes before the hour mark ($1) added to their hours' totals, like addLateSql. */
const ADD_LATE_TOTALS_SQL = `
INSERT INTO rollup_totals_hourly AS t (bucket, cluster, verdict, count)
SELECT date_bin('1 hour', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00'), cluster, verdict, sum(count)
FROM rollup_stage
WHERE bucket < $1::timestamptz
GROUP BY 1, 2, 3
ON CONFLICT (bucket, cluster, verdict) DO UPDATE SET count = t.count + EXCLUDED.count`;

/** Each resolution's statements, run in order with the same parameter. */
const CLOSE_SQL = new Map(
  RESOLUTIONS.map((r) => [r.name, r === HOURLY ? [closeSql(r), CLOSE_TOTALS_SQL] : [closeSql(r)]]),
);
const ADD_LATE_SQL = new Map(
  RESOLUTIONS.map((r) => [r.name, r === HOURLY ? [addLateSql(r), ADD_LATE_TOTALS_SQL] : [addLateSql(r)]]),
);

const MARKS = `SELECT resolution, closed_through FROM rollup_resolutions ORDER BY resolution`;

/** Session lock of the closer (pg_advisory_lock), one across every process: "droprlup". */
const CLOSER_LOCK = 0x6472_6f70_726c_7570n;

/**
 * What has changed a unit's finer rows, as one string ($1: the unit's start): for a 5-minute unit
 * the writes counted in its minutes (rollup_minute_writes), for a coarser one the late writes
 * counted in its hours (rollup_generations; the finer units it sums are closed, so only the late
 * path changes them). Equal strings from two snapshots: no writer changed the rows in between.
 */
function changeStampSql(r: Resolution): string {
  return r === FIVE_MINUTELY
    ? `SELECT coalesce(string_agg(minute::text || ' ' || writer || ':' || generation, ',' ORDER BY minute, writer), '') AS stamp
        FROM rollup_minute_writes WHERE minute >= $1::timestamptz AND minute < $1::timestamptz + interval '${r.interval}'`
    : `SELECT coalesce(string_agg(hour::text || ':' || generation, ',' ORDER BY hour), '') AS stamp
        FROM rollup_generations WHERE hour >= date_bin('1 hour', $1::timestamptz, TIMESTAMPTZ '2000-01-01 00:00:00+00')
          AND hour < $1::timestamptz + interval '${r.interval}'`;
}

async function changeStamp(db: Querier, r: Resolution, unit: number): Promise<string> {
  const [{ stamp }] = (await db.query(changeStampSql(r), [new Date(unit).toISOString()])) as Array<{ stamp: string }>;
  return stamp;
}

/**
 * Removes the unit's rows of the resolution ($1: its start; the hour's totals too). Only for a unit
 * past the mark, whose rows only a closer writes (the late path writes units before it).
 */
async function dropPresum(db: Querier, r: Resolution, unit: string): Promise<void> {
  await db.query(`DELETE FROM ${r.table} WHERE bucket = $1::timestamptz`, [unit]);
  if (r === HOURLY) await db.query(`DELETE FROM rollup_totals_hourly WHERE bucket = $1::timestamptz`, [unit]);
}

/** Sums the unit's finer rows into rows of the resolution, replacing any an unfinished close left. */
async function presum(db: Querier, r: Resolution, unit: string): Promise<void> {
  await dropPresum(db, r, unit);
  for (const sql of CLOSE_SQL.get(r.name)!) await db.query(sql, [unit]);
}

interface Querier {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

/** Each resolution's closed_through (ms), null when none closed yet. */
export type Marks = Map<Resolution['name'], number | null>;

function asMs(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  return v instanceof Date ? v.getTime() : Date.parse(String(v));
}

function toMarks(found: unknown): Marks {
  const out: Marks = new Map();
  for (const r of found as Array<{ resolution: Resolution['name']; closed_through: unknown }>)
    out.set(r.resolution, asMs(r.closed_through));
  return out;
}

/** The marks as last committed. A stale value is safe for readers: marks never move back. */
export async function closedThrough(db: Querier): Promise<Marks> {
  return toMarks(await db.query(MARKS));
}

/** The marks a batch's minutes fall before, per resolution (ms): its late minutes go to those tables too. */
export type LateMarks = ReadonlyArray<readonly [Resolution, number]>;

/**
 * Reads the marks FOR SHARE, held until the batch commits, so the closer cannot sum a unit while
 * this batch's minutes in it are uncommitted, and returns those a batch whose earliest bucket
 * (ISO) is `firstBucket` has minutes before. Empty: no late minutes, and none can become late
 * before the commit (a writer may then leave its rows out of rollup_stage).
 */
export async function lateMarks(m: EntityManager, firstBucket: string): Promise<LateMarks> {
  const marks = toMarks(await m.query(`${MARKS} FOR SHARE`));
  const first = Date.parse(firstBucket);
  const late: Array<[Resolution, number]> = [];
  for (const r of RESOLUTIONS) {
    const mark = marks.get(r.name) ?? null;
    if (mark !== null && first < mark) late.push([r, mark]);
  }
  return late;
}

/**
 * The minute writer's hook, called inside its batch transaction once the batch's roll-ups are in
 * rollup_stage, with the marks lateMarks read in the same transaction: adds the late minutes to
 * those resolutions' rows. Writers read the marks last before the checkpoints when they can, so
 * the lock is held only until the commit.
 */
export async function addLateMinutes(m: EntityManager, late: LateMarks): Promise<void> {
  for (const [r, mark] of late)
    for (const sql of ADD_LATE_SQL.get(r.name)!) await m.query(sql, [new Date(mark).toISOString()]);
  // The finest mark is the latest: every minute late for any resolution is before it.
  const finest = late.find(([r]) => r === FIVE_MINUTELY);
  if (finest) await m.query(BUMP_GENERATIONS_SQL, [new Date(finest[1]).toISOString()]);
}

/**
 * Counts a change in each hour the batch's minutes before the 5-minute mark ($1) fall in
 * (rollup_generations). Hours in time order, so two writers lock their rows in the same order.
 */
const BUMP_GENERATIONS_SQL = `
INSERT INTO rollup_generations AS g (hour, generation)
SELECT hour, 1 FROM (SELECT DISTINCT date_bin('1 hour', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS hour
  FROM rollup_stage WHERE bucket < $1::timestamptz) h
ORDER BY hour
ON CONFLICT (hour) DO UPDATE SET generation = g.generation + 1`;

/**
 * Counts a write by `writer` in each of `minutes` (ISO), in the batch's transaction
 * (rollup_minute_writes). One row per minute and writer: concurrent writers never wait on each
 * other's rows. Minutes in time order, so a writer's retried batch locks in the same order.
 */
export async function bumpMinuteWrites(m: Querier, writer: string, minutes: string[]): Promise<void> {
  await m.query(
    `INSERT INTO rollup_minute_writes AS w (minute, writer, generation)
     SELECT minute, $2::uuid, 1 FROM unnest($1::timestamptz[]) AS minute ORDER BY minute
     ON CONFLICT (minute, writer) DO UPDATE SET generation = w.generation + 1`,
    [minutes, writer],
  );
}

/**
 * Each open minute's writes in [from, to) (ms): per minute, every writer's count, as one string
 * (empty for a minute nobody wrote). Equal strings: the minute's rows are unchanged.
 */
export async function minuteWrites(db: Querier, from: number, to: number): Promise<Map<number, string>> {
  const found = (await db.query(
    `SELECT minute, string_agg(writer || ':' || generation, ',' ORDER BY writer) AS writes FROM rollup_minute_writes
      WHERE minute >= $1::timestamptz AND minute < $2::timestamptz GROUP BY minute`,
    [new Date(from).toISOString(), new Date(to).toISOString()],
  )) as Array<{ minute: unknown; writes: unknown }>;
  return new Map(found.map((r) => [asMs(r.minute)!, String(r.writes)]));
}

/** Each UTC hour's generation in [from, to) (ms), for hours that have one (rollup_generations). */
export async function generations(db: Querier, from: number, to: number): Promise<Map<number, number>> {
  const found = (await db.query(
    `SELECT hour, generation FROM rollup_generations WHERE hour >= $1::timestamptz AND hour < $2::timestamptz`,
    [new Date(from).toISOString(), new Date(to).toISOString()],
  )) as Array<{ hour: unknown; generation: unknown }>;
  return new Map(found.map((r) => [asMs(r.hour)!, Number(r.generation)]));
}

/** Which units one closing pass closed, per resolution. */
export type ClosedUnits = Record<Resolution['name'], number>;

/**
 * Closes 5-minute units, then 15-minute units, hours, 4-hour units and days: each unit summed in
 * a transaction of its own that writers do not wait for, its mark moved in a short one.
 */
export class RollupCloser {
  constructor(
    private readonly ds: DataSource,
    private readonly partitions: PartitionManager,
    private readonly log: Logger,
  ) {}

  /**
   * Closes every 5-minute unit that ends at or before `fiveMinuteEnd` (default `end`) and holds
   * minute rows, in time order, then every 15-minute unit that ends at or before `fiveMinuteEnd`
   * whose 5-minute units are all closed, every hour that ends at or before `end` whose 15-minute
   * units are, every 4-hour unit whose hours are, every day whose 4-hour units are; empty units are
   * skipped. 5-minute and 15-minute units may close sooner after they end than hours
   * (FIVE_MINUTE_ROLLUP_LATENESS): a minute arriving after its 5-minute unit closed reaches that
   * unit's row through the writers' late path, and each coarser unit when it closes (summed from
   * the finer rows), or through the late path too once it is closed. Returns the units closed. An
   * aborted signal stops between units (each unit is whole or absent).
   */
  async closeThrough(end: number, signal?: AbortSignal, fiveMinuteEnd = end): Promise<ClosedUnits> {
    const closed: ClosedUnits = { '5m': 0, '15m': 0, hour: 0, '4h': 0, day: 0 };
    let finerMark: number | null = Infinity;
    for (const r of RESOLUTIONS) {
      const until = r.lateness === 'short' ? fiveMinuteEnd : end;
      // A unit closes only once the finer resolution it is summed from is closed through its end.
      const limit = Math.min(Math.floor(until / r.unitMs), Math.floor((finerMark ?? -Infinity) / r.unitMs)) * r.unitMs;
      if (Number.isFinite(limit)) closed[r.name] = await this.close(r, limit, signal);
      finerMark = (await closedThrough(this.ds)).get(r.name) ?? null;
    }
    if (Object.values(closed).some((n) => n > 0)) this.log.info('roll-ups closed', { ...closed });
    return closed;
  }

  private async close(r: Resolution, limit: number, signal?: AbortSignal): Promise<number> {
    let closed = 0;
    const iso = (t: number) => new Date(t).toISOString();
    while (!signal?.aborted) {
      const qr = this.ds.createQueryRunner();
      await qr.connect();
      try {
        // One closer at a time across processes (serve's schedule, an import's closing), for the
        // whole unit: only closers move marks and write rows past them, so from here the next unit
        // stays the next one (but for a writer's earlier minute) and its rows are this closer's.
        await qr.query(`SELECT pg_advisory_lock($1::bigint)`, [CLOSER_LOCK.toString()]);
        // Outside a transaction: which unit is next, and its day's partition (creating one locks the table).
        const next = await this.nextUnit(qr, r, limit);
        if (next === null) break;
        await this.partitions.ensure([Math.floor(next / DAY_MS)], qr);
        // The sum, without blocking writers: one snapshot for the unit's change stamp and its sum.
        await qr.startTransaction('REPEATABLE READ');
        let stamp: string;
        try {
          stamp = await changeStamp(qr, r, next);
          await presum(qr, r, iso(next));
          await qr.commitTransaction();
        } catch (e) {
          await qr.rollbackTransaction().catch(() => undefined); // the error that matters is `e`
          throw e;
        }
        // The mark, briefly locking writers out: the sum stands if no writer changed the unit's
        // rows since its snapshot; else (a lagging writer, rare) the unit is summed again here.
        await qr.startTransaction();
        let step: 'done' | 'retry' | 'closed';
        try {
          await qr.query(`LOCK TABLE rollup_resolutions IN EXCLUSIVE MODE`);
          const unit = await this.nextUnit(qr, r, limit);
          if (unit !== next) {
            await dropPresum(qr, r, iso(next));
            step = unit === null ? 'done' : 'retry'; // a writer added an earlier minute meanwhile
          } else {
            if ((await changeStamp(qr, r, unit)) !== stamp) {
              this.log.debug('unit changed while summed; summing it again', { resolution: r.name, unit: iso(unit) });
              await presum(qr, r, iso(unit));
            }
            // Closed minutes change only through the late path (rollup_generations) from now on.
            if (r === FIVE_MINUTELY)
              await qr.query(`DELETE FROM rollup_minute_writes WHERE minute < $1::timestamptz`, [iso(unit + r.unitMs)]);
            await qr.query(`UPDATE rollup_resolutions SET closed_through = $1::timestamptz WHERE resolution = $2`, [
              iso(unit + r.unitMs),
              r.name,
            ]);
            step = 'closed';
          }
          await qr.commitTransaction();
        } catch (e) {
          await qr.rollbackTransaction().catch(() => undefined);
          // Tidy, not needed: rows past the mark are never read, and the next sum replaces them.
          await dropPresum(qr, r, iso(next)).catch(() => undefined);
          throw e;
        }
        if (step === 'done') break;
        if (step === 'closed') closed++;
      } finally {
        await qr.query(`SELECT pg_advisory_unlock($1::bigint)`, [CLOSER_LOCK.toString()]).catch(() => undefined);
        await qr.release();
      }
    }
    return closed;
  }

  /**
   * The first unit holding finer rows between the mark and `limit`, or null. A mark moves only past
   * units it closes: empty units after the last closed one stay open, so a later import of flows
   * from that time is closed in bulk instead of going through the writers' late path.
   */
  private async nextUnit(db: Querier, r: Resolution, limit: number): Promise<number | null> {
    const [{ mark, first }] = (await db.query(
      `SELECT s.closed_through AS mark, (SELECT min(bucket) FROM ${r.source}
          WHERE bucket >= COALESCE(s.closed_through, '-infinity') AND bucket < $1::timestamptz) AS first
        FROM rollup_resolutions s WHERE s.resolution = $2`,
      [new Date(limit).toISOString(), r.name],
    )) as Array<{ mark: unknown; first: unknown }>;
    const closed = asMs(mark);
    if (closed !== null && closed >= limit) return null;
    const t = asMs(first);
    return t === null ? null : Math.floor(t / r.unitMs) * r.unitMs;
  }
}
