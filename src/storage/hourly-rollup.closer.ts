/**
 * The hourly roll-up resolution, built exactly once from the minute roll-ups.
 *
 * `rollup_resolutions.closed_through` (row 'hour') splits time in two: every minute row before it is
 * also summed in `edge_rollups_hourly`, no minute row after it is. Two writers keep that true:
 *  - the closer (HourlyRollupCloser) locks the mark's table EXCLUSIVE, sums the next hour's minute
 *    rows into hour rows and moves the mark past that hour, in ONE transaction;
 *  - the minute writer (addLateMinutes, in the batch transaction) takes the mark FOR SHARE and adds
 *    the batch's minutes that fall before it (late data: an import of old flows, a lagging collector)
 *    to the hour rows as well.
 * The two locks conflict, so a batch either commits before the closer reads the minutes (and is in
 * its sum) or reads the moved mark (and adds itself): no minute is counted twice or lost. A table
 * lock rather than FOR UPDATE on the row because table locks queue fairly: writers whose
 * transactions overlap without a gap (several aggregators) can starve a row-lock waiter, since
 * FOR SHARE lockers do not queue behind it. Readers' plain SELECT of the mark never waits.
 * The hot path pays one single-row FOR SHARE per batch; the extra upsert runs only for late minutes.
 */
import type { DataSource, EntityManager } from 'typeorm';
import type { Logger } from '../common/logger.js';
import type { PartitionManager } from './partition.manager.js';
import { ROLLUP_COLUMNS } from './rollup-columns.js';

export const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** Columns an hour row takes from its minutes (labels, sums and last_bucket are computed). */
const KEY_COLUMNS = [
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
  'direction',
  'drop_reason',
  'attribution_level',
  'policies',
  'source',
] as const;

const INSERT_COLUMNS = `bucket, edge_key, ${KEY_COLUMNS.join(', ')}, src_labels, dst_labels,
  count, packets, bytes, first_seen, last_seen, last_bucket`;

/** Every column but `source` follows from the edge key; min() picks one value without grouping by them. */
const KEY_AGGREGATES = KEY_COLUMNS.map((c) => `min(${c})`).join(', ');

/** A row's labels are its latest minute's (the newest labels seen in the hour). */
const LABEL_AGGREGATES = `(array_agg(src_labels ORDER BY bucket DESC) FILTER (WHERE src_labels IS NOT NULL))[1],
  (array_agg(dst_labels ORDER BY bucket DESC) FILTER (WHERE dst_labels IS NOT NULL))[1]`;

/** Hours are binned from the epoch-aligned origin: independent of the session's time zone. */
const HOUR_OF = `date_bin('1 hour', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00')`;

/** The closer: one hour of minute rows summed into hour rows ($1: the hour's start). */
const CLOSE_HOUR = `
INSERT INTO edge_rollups_hourly (${INSERT_COLUMNS})
SELECT $1::timestamptz, edge_key, ${KEY_AGGREGATES}, ${LABEL_AGGREGATES},
  sum(count), sum(packets), sum(bytes), min(first_seen), max(last_seen), max(bucket)
FROM edge_rollups
WHERE bucket >= $1::timestamptz AND bucket < $1::timestamptz + interval '1 hour'
GROUP BY edge_key`;

/** The writer's late minutes ($1: the batch document, $2: closed_through) added to their hours. */
const ADD_LATE_MINUTES = `
INSERT INTO edge_rollups_hourly AS h (${INSERT_COLUMNS})
SELECT ${HOUR_OF}, edge_key, ${KEY_AGGREGATES}, ${LABEL_AGGREGATES},
  sum(count), sum(packets), sum(bytes), to_timestamp(min(first_seen) / 1000.0), to_timestamp(max(last_seen) / 1000.0),
  max(bucket)
FROM json_to_recordset($1::json) AS r(${ROLLUP_COLUMNS})
WHERE bucket < $2::timestamptz
GROUP BY 1, 2
ON CONFLICT (bucket, edge_key) DO UPDATE SET
  count = h.count + EXCLUDED.count,
  packets = h.packets + EXCLUDED.packets,
  bytes = h.bytes + EXCLUDED.bytes,
  first_seen = LEAST(h.first_seen, EXCLUDED.first_seen),
  last_seen = GREATEST(h.last_seen, EXCLUDED.last_seen),
  src_labels = CASE WHEN EXCLUDED.last_bucket >= h.last_bucket THEN COALESCE(EXCLUDED.src_labels, h.src_labels)
    ELSE COALESCE(h.src_labels, EXCLUDED.src_labels) END,
  dst_labels = CASE WHEN EXCLUDED.last_bucket >= h.last_bucket THEN COALESCE(EXCLUDED.dst_labels, h.dst_labels)
    ELSE COALESCE(h.dst_labels, EXCLUDED.dst_labels) END,
  last_bucket = GREATEST(h.last_bucket, EXCLUDED.last_bucket)`;

const MARK = `SELECT closed_through FROM rollup_resolutions WHERE resolution = 'hour'`;

interface Querier {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

function asMs(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  return v instanceof Date ? v.getTime() : Date.parse(String(v));
}

/** The hour mark as last committed (ms), or null when no hour was closed yet. A stale value is safe for readers. */
export async function hourlyClosedThrough(db: Querier): Promise<number | null> {
  const found = (await db.query(MARK)) as Array<{ closed_through: unknown }>;
  return found.length > 0 ? asMs(found[0].closed_through) : null;
}

/**
 * The minute writer's hook, called inside its batch transaction with the batch's roll-up document
 * and its earliest bucket (ISO). Holds the mark FOR SHARE until the batch commits, so the closer
 * cannot sum an hour while this batch's minutes in it are uncommitted. Called last before the
 * checkpoints, so the lock is held only until the commit.
 */
export async function addLateMinutes(m: EntityManager, rollups: string, firstBucket: string): Promise<void> {
  const found = (await m.query(`${MARK} FOR SHARE`)) as Array<{ closed_through: unknown }>;
  const closed = found.length > 0 ? asMs(found[0].closed_through) : null;
  if (closed === null || Date.parse(firstBucket) >= closed) return;
  await m.query(ADD_LATE_MINUTES, [rollups, new Date(closed).toISOString()]);
}

/** Closes hours: each in its own transaction, so the minute writers wait at most one hour's sum. */
export class HourlyRollupCloser {
  constructor(
    private readonly ds: DataSource,
    private readonly partitions: PartitionManager,
    private readonly log: Logger,
  ) {}

  /**
   * Closes every hour that ends at or before `end` (floored to the hour) and holds minute rows, in
   * time order; hours without minutes are skipped. Returns the hours closed. An aborted signal stops between
   * hours (each hour is whole or absent).
   */
  async closeThrough(end: number, signal?: AbortSignal): Promise<number> {
    const limit = Math.floor(end / HOUR_MS) * HOUR_MS;
    let closed = 0;
    while (!signal?.aborted) {
      // Outside the transaction: which hour is next, and its day's partition (creating one locks the table).
      const next = await this.nextHour(this.ds, limit);
      if (next === null) break;
      await this.partitions.ensure([Math.floor(next / DAY_MS)]);
      const step = await this.ds.transaction(async (m) => {
        await m.query(`LOCK TABLE rollup_resolutions IN EXCLUSIVE MODE`);
        const hour = await this.nextHour(m, limit);
        if (hour === null) return 'done';
        if (hour !== next) return 'retry'; // a writer added an earlier minute meanwhile
        await m.query(CLOSE_HOUR, [new Date(hour).toISOString()]);
        await this.setMark(m, hour + HOUR_MS);
        return 'closed';
      });
      if (step === 'done') break;
      if (step === 'closed') closed++;
    }
    if (closed > 0) this.log.info('hourly roll-ups closed', { hours: closed });
    return closed;
  }

  /**
   * The first hour holding minute rows between the mark and `limit`, or null. The mark moves only
   * past hours it closes: empty hours after the last closed one stay open, so a later import of
   * flows from that time is closed in bulk instead of going through the writers' late path.
   */
  private async nextHour(db: Querier, limit: number): Promise<number | null> {
    const [{ mark, first }] = (await db.query(
      `SELECT s.closed_through AS mark, (SELECT min(bucket) FROM edge_rollups
          WHERE bucket >= COALESCE(s.closed_through, '-infinity') AND bucket < $1::timestamptz) AS first
        FROM rollup_resolutions s WHERE s.resolution = 'hour'`,
      [new Date(limit).toISOString()],
    )) as Array<{ mark: unknown; first: unknown }>;
    const closed = asMs(mark);
    if (closed !== null && closed >= limit) return null;
    const t = asMs(first);
    return t === null ? null : Math.floor(t / HOUR_MS) * HOUR_MS;
  }

  private async setMark(m: Querier, t: number): Promise<void> {
    await m.query(`UPDATE rollup_resolutions SET closed_through = $1::timestamptz WHERE resolution = 'hour'`, [
      new Date(t).toISOString(),
    ]);
  }
}
