/**
 * Which roll-up resolution answers a window: whole closed days from `edge_rollups_daily`, whole
 * closed 4-hour units (00/04/08/... UTC) from `edge_rollups_4h`, whole closed hours from
 * `edge_rollups_hourly`, whole closed 15-minute units (:00/:15/:30/:45) from `edge_rollups_15m`,
 * whole closed 5-minute units from `edge_rollups_5m`, and the ragged minutes at either end (and
 * every unit not closed yet) from `edge_rollups`. The result is a row source with the same columns
 * whichever tables it reads, so every aggregate over it equals the same aggregate over the minutes
 * alone (coarse rows are exact sums of their minutes; see rollup-closer.ts).
 */
import type { UnitRef } from './edge-unit-cache.js';
import type { DropFilters } from './readers.js';
import { HOUR_MS, RESOLUTIONS, closedThrough, type Marks, type Resolution } from './rollup-closer.js';
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
 * series bins rows by their bucket; none in `skip`) and the rest (minutes).
 */
export function rollupSegments(
  f: Pick<DropFilters, 'from' | 'to'>,
  marks: Marks,
  stepMs?: number,
  skip: ReadonlyArray<Resolution['name']> = [],
): RollupSegment[] {
  const from = Math.floor(f.from / MINUTE_MS) * MINUTE_MS;
  // A bucket is in the window when it starts before `to`: the minute holding `to` counts whole.
  const to = Math.ceil(f.to / MINUTE_MS) * MINUTE_MS;
  const usable = COARSEST_FIRST.filter(
    (r) => (stepMs === undefined || stepMs % r.unitMs === 0) && !skip.includes(r.name),
  );
  return split(from, to, marks, usable);
}

/**
 * The segments' rows, filtered, as a parenthesized subquery aliased `r`: `select` gives each
 * segment's SELECT list and table. Reads the marks first: marks read before the query runs are
 * still right (closed units only ever gain late minutes in every table at once, and a mark never
 * moves back).
 */
async function segmentUnion(
  db: Queryable,
  f: DropFilters,
  ps: SqlParams,
  segments: (marks: Marks) => RollupSegment[],
  select: (s: RollupSegment) => string,
): Promise<string> {
  const marks = await closedThrough(db);
  const filters = filterClause(f, ROLLUPS, ps);
  const parts = segments(marks).map(
    (s) => `SELECT ${select(s)} WHERE ${timeRange('bucket', s.from, s.to, ps)} AND ${filters}`,
  );
  return `(${parts.join('\n  UNION ALL ')}) AS r`;
}

/**
 * The window's roll-up rows, filtered, as a subquery aliased `r` (`columns`, default COLUMNS, and
 * last_bucket). A reader that names only the columns it aggregates saves copying the others out
 * of every row of every segment.
 */
export function rollupSource(
  db: Queryable,
  f: DropFilters,
  ps: SqlParams,
  opts: { stepMs?: number; columns?: string } = {},
): Promise<string> {
  const columns = opts.columns ?? COLUMNS;
  return segmentUnion(
    db,
    f,
    ps,
    (marks) => rollupSegments(f, marks, opts.stepMs),
    (s) => `${columns}, ${s.table === 'edge_rollups' ? 'bucket AS last_bucket' : 'last_bucket'} FROM ${s.table}`,
  );
}

/** The filters `rollup_totals_hourly` keeps the columns of; any other set filter needs the edge rows. */
const TOTALS_FILTERS: ReadonlySet<string> = new Set(['from', 'to', 'verdict', 'cluster']);

/** Whether the hour totals can answer a window with these filters. */
export function totalsAnswer(f: DropFilters): boolean {
  return Object.entries(f).every(([k, v]) => v === undefined || TOTALS_FILTERS.has(k));
}

/**
 * A time series' rows (`bucket`, `verdict`, `count`), as a subquery aliased `r`. For a step of
 * whole hours and filters the hour totals keep, every closed hour (whole 4-hour units and days
 * too) comes from `rollup_totals_hourly`, a few rows per hour instead of one per edge; the rest as
 * rollupSource reads it. The totals are the hour rows' exact sums (rollup-closer.ts), so the points
 * are the same.
 */
export function seriesSource(db: Queryable, f: DropFilters, ps: SqlParams, stepMs: number): Promise<string> {
  if (stepMs % HOUR_MS !== 0 || !totalsAnswer(f)) return rollupSource(db, f, ps, { stepMs });
  return segmentUnion(
    db,
    f,
    ps,
    (marks) => rollupSegments(f, marks, stepMs, ['4h', 'day']),
    (s) => `bucket, verdict, count FROM ${s.table === 'edge_rollups_hourly' ? 'rollup_totals_hourly' : s.table}`,
  );
}

const UNIT_MS = new Map<string, number>([
  ['edge_rollups', MINUTE_MS],
  ...RESOLUTIONS.map((r) => [r.table, r.unitMs] as const),
]);

/** A window's rows split into closed units and the minutes still open. */
export interface WindowUnits {
  /** Every unit of each coarse segment, and each minute before the 5-minute mark. */
  units: UnitRef[];
  /** Each minute from the 5-minute mark on: still being written. */
  open: UnitRef[];
}

/**
 * The segments' units: rows of a coarse table exist only for closed units, and a minute before
 * the 5-minute mark changes only through the writers' late path (rollup_generations).
 */
export function windowUnits(segments: readonly RollupSegment[], fiveMinuteMark: number | null): WindowUnits {
  const units: UnitRef[] = [];
  const open: UnitRef[] = [];
  for (const s of segments) {
    const unitMs = UNIT_MS.get(s.table)!;
    const cut = s.table === 'edge_rollups' ? Math.min(Math.max(fiveMinuteMark ?? -Infinity, s.from), s.to) : s.to;
    for (let t = s.from; t < s.to; t += unitMs)
      (t < cut ? units : open).push({ table: s.table, start: t, end: t + unitMs });
  }
  return { units, open };
}
