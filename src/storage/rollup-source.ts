/**
 * Which roll-up resolution answers a window: whole closed days from `edge_rollups_daily`, whole
 * closed hours from `edge_rollups_hourly`, and the ragged minutes at either end (and every unit not
 * closed yet) from `edge_rollups`. The result is a row source with the same columns whichever
 * tables it reads, so every aggregate over it equals the same aggregate over the minutes alone
 * (coarse rows are exact sums of their minutes; see rollup-closer.ts).
 */
import type { DropFilters } from './readers.js';
import { RESOLUTIONS, closedThrough, type Marks, type Resolution } from './rollup-closer.js';
import { ROLLUPS, filterClause, timeRange, type SqlParams } from './sql-filters.js';
import type { Queryable } from './sql-rows.js';

const MINUTE_MS = 60_000;

/** The columns the readers aggregate; `last_bucket` is the latest minute a row covers. */
const COLUMNS = `bucket, cluster, src_kind, src_namespace, src_workload, dst_kind, dst_namespace, dst_workload,
  dst_port, protocol, verdict, direction, drop_reason, attribution_level, policies, count, packets, bytes,
  first_seen, last_seen`;

/** A time range [from, to) of one table, in ms. */
export interface RollupSegment {
  table: 'edge_rollups' | Resolution['table'];
  from: number;
  to: number;
}

/** Coarsest first: the split takes the largest units it can, then fills the ends with finer ones. */
const COARSEST_FIRST = [...RESOLUTIONS].reverse();

function split(from: number, to: number, marks: Marks, coarse: readonly Resolution[]): RollupSegment[] {
  if (from >= to) return [];
  const [r, ...finer] = coarse;
  if (!r) return [{ table: 'edge_rollups', from, to }];
  const start = Math.ceil(from / r.unitMs) * r.unitMs;
  const end = Math.min(Math.floor(to / r.unitMs) * r.unitMs, marks.get(r.name) ?? -Infinity);
  if (start >= end) return split(from, to, marks, finer);
  return [
    ...split(from, start, marks, finer),
    { table: r.table, from: start, to: end },
    ...split(end, to, marks, finer),
  ];
}

/**
 * Splits the minute buckets a window covers, [floor(from to the minute), to), into whole closed
 * units of the coarser resolutions (only those whose unit divides `stepMs` when given: a time
 * series bins rows by their bucket) and the rest (minutes).
 */
export function rollupSegments(f: Pick<DropFilters, 'from' | 'to'>, marks: Marks, stepMs?: number): RollupSegment[] {
  const from = Math.floor(f.from / MINUTE_MS) * MINUTE_MS;
  // A bucket is in the window when it starts before `to`: the minute holding `to` counts whole.
  const to = Math.ceil(f.to / MINUTE_MS) * MINUTE_MS;
  const usable = COARSEST_FIRST.filter((r) => stepMs === undefined || stepMs % r.unitMs === 0);
  return split(from, to, marks, usable);
}

/**
 * The window's roll-up rows, filtered, as a parenthesized subquery aliased `r` (COLUMNS and
 * last_bucket). Reads the marks first: marks read before the query runs are still right (closed
 * units only ever gain late minutes in every table at once, and a mark never moves back).
 */
export async function rollupSource(
  db: Queryable,
  f: DropFilters,
  ps: SqlParams,
  opts: { stepMs?: number } = {},
): Promise<string> {
  const marks = await closedThrough(db);
  const filters = filterClause(f, ROLLUPS, ps);
  const parts = rollupSegments(f, marks, opts.stepMs).map((s) => {
    const last = s.table === 'edge_rollups' ? 'bucket AS last_bucket' : 'last_bucket';
    return `SELECT ${COLUMNS}, ${last} FROM ${s.table} WHERE ${timeRange('bucket', s.from, s.to, ps)} AND ${filters}`;
  });
  return `(${parts.join('\n  UNION ALL ')}) AS r`;
}
