/**
 * Which roll-up resolution answers a window: whole closed hours from `edge_rollups_hourly`, the
 * ragged minutes at either end (and every hour not closed yet) from `edge_rollups`. The result is
 * a row source with the same columns either way, so every aggregate over it equals the same
 * aggregate over the minutes alone (hour rows are exact sums of their minutes; see
 * hourly-rollup.closer.ts).
 */
import { HOUR_MS, hourlyClosedThrough } from './hourly-rollup.closer.js';
import type { DropFilters } from './readers.js';
import { ROLLUPS, filterClause, timeRange, type SqlParams } from './sql-filters.js';
import type { Queryable } from './sql-rows.js';

const MINUTE_MS = 60_000;

/** The columns the readers aggregate; `last_bucket` is the latest minute a row covers. */
const COLUMNS = `bucket, cluster, src_kind, src_namespace, src_workload, dst_kind, dst_namespace, dst_workload,
  dst_port, protocol, verdict, direction, drop_reason, attribution_level, policies, count, packets, bytes,
  first_seen, last_seen`;

/** A time range [from, to) of one table, in ms. */
export interface RollupSegment {
  table: 'edge_rollups' | 'edge_rollups_hourly';
  from: number;
  to: number;
}

/**
 * Splits the minute buckets a window covers, [floor(from to the minute), to), into whole hours
 * before `closedThrough` (hour table) and the rest (minute table). `hours` false: minutes only
 * (a time series whose step is not a whole number of hours).
 */
export function rollupSegments(
  f: Pick<DropFilters, 'from' | 'to'>,
  closedThrough: number | null,
  hours = true,
): RollupSegment[] {
  const from = Math.floor(f.from / MINUTE_MS) * MINUTE_MS;
  // A bucket is in the window when it starts before `to`: the minute holding `to` counts whole.
  const end = Math.ceil(f.to / MINUTE_MS) * MINUTE_MS;
  const hourFrom = Math.ceil(from / HOUR_MS) * HOUR_MS;
  const hourTo = Math.min(Math.floor(end / HOUR_MS) * HOUR_MS, closedThrough ?? -Infinity);
  if (!hours || hourFrom >= hourTo) return [{ table: 'edge_rollups', from, to: f.to }];
  const out: RollupSegment[] = [];
  if (from < hourFrom) out.push({ table: 'edge_rollups', from, to: hourFrom });
  out.push({ table: 'edge_rollups_hourly', from: hourFrom, to: hourTo });
  if (hourTo < f.to) out.push({ table: 'edge_rollups', from: hourTo, to: f.to });
  return out;
}

/**
 * The window's roll-up rows, filtered, as a parenthesized subquery aliased `r` (columns: COLUMNS).
 * Reads the hour mark first: a mark read before the query runs is still right (closed hours only
 * ever gain late minutes in both tables at once, and the mark never moves back).
 */
export async function rollupSource(
  db: Queryable,
  f: DropFilters,
  ps: SqlParams,
  opts: { hours?: boolean } = {},
): Promise<string> {
  const closed = opts.hours === false ? null : await hourlyClosedThrough(db);
  const filters = filterClause(f, ROLLUPS, ps);
  const parts = rollupSegments(f, closed, opts.hours !== false).map((s) => {
    const last = s.table === 'edge_rollups' ? 'bucket AS last_bucket' : 'last_bucket';
    return `SELECT ${COLUMNS}, ${last} FROM ${s.table} WHERE ${timeRange('bucket', s.from, s.to, ps)} AND ${filters}`;
  });
  return `(${parts.join('\n  UNION ALL ')}) AS r`;
}
