/**
 * DropFilters as a parameterized WHERE clause for either table (drop_events or edge_rollups).
 * Values only ever travel as $n parameters; column names come from the fixed maps below.
 */
import { VERDICTS } from '../flow/flow-record.js';
import type { DropFilters } from './readers.js';

/** Builds `$n` placeholders while collecting their values. */
export class SqlParams {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

export interface TableColumns {
  time: string;
  /** Whether the table has pod columns (roll-ups are per workload). */
  hasPods: boolean;
}

export const EVENTS: TableColumns = { time: 'time', hasPods: true };
export const ROLLUPS: TableColumns = { time: 'bucket', hasPods: false };

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function workloadCondition(column: string, value: string, ps: SqlParams): string {
  if (value.includes('/')) return `${column} = ${ps.add(value)}`;
  // A bare name matches `<any kind>/<name>` and the name itself (Calico aggregated names).
  return `(${column} = ${ps.add(value)} OR ${column} LIKE ${ps.add(`%/${escapeLike(value)}`)})`;
}

/**
 * WHERE conditions for the filters. On roll-ups the time range applies to the minute buckets: a
 * bucket is included when its minute starts inside [floor(from to the minute), to). A pod filter
 * on roll-ups is a caller error (the API rejects it before it gets here).
 */
export function whereClause(f: DropFilters, table: TableColumns, ps: SqlParams): string {
  const time =
    table === ROLLUPS
      ? timeRange('bucket', Math.floor(f.from / 60_000) * 60_000, f.to, ps)
      : timeRange('time', f.from, f.to, ps);
  return `${time} AND ${filterClause(f, table, ps)}`;
}

/** `column` in [from, to) (ms). */
export function timeRange(column: string, from: number, to: number, ps: SqlParams): string {
  return `${column} >= ${ps.add(new Date(from).toISOString())}::timestamptz AND ${column} < ${ps.add(new Date(to).toISOString())}::timestamptz`;
}

/** The conditions of every filter but the time range (shared by the minute and hour tables). */
export function filterClause(f: DropFilters, table: TableColumns, ps: SqlParams): string {
  const c: string[] = [];
  if (f.cluster !== undefined) c.push(`cluster = ${ps.add(f.cluster)}`);
  if (f.namespace !== undefined) {
    const n = ps.add(f.namespace);
    c.push(`(src_namespace = ${n} OR dst_namespace = ${n})`);
  }
  if (f.srcNamespace !== undefined) c.push(`src_namespace = ${ps.add(f.srcNamespace)}`);
  if (f.dstNamespace !== undefined) c.push(`dst_namespace = ${ps.add(f.dstNamespace)}`);
  if (f.workload !== undefined)
    c.push(
      `(${workloadCondition('src_workload', f.workload, ps)} OR ${workloadCondition('dst_workload', f.workload, ps)})`,
    );
  if (f.srcWorkload !== undefined) c.push(workloadCondition('src_workload', f.srcWorkload, ps));
  if (f.dstWorkload !== undefined) c.push(workloadCondition('dst_workload', f.dstWorkload, ps));
  if (f.pod !== undefined) {
    if (!table.hasPods) throw new Error('pod filter on the roll-ups: they are per workload');
    const n = ps.add(f.pod);
    c.push(`(src_pod = ${n} OR dst_pod = ${n})`);
  }
  // Containment (not `= ANY`) so the GIN index on policies serves it. That index is partial
  // (WHERE policies <> '{}'), and PostgreSQL uses a partial index only when the query states its
  // predicate: it does not infer "not empty" from containment, so without the second condition
  // every policy filter read the whole window.
  if (f.policy !== undefined) c.push(`policies @> ARRAY[${ps.add(f.policy)}::text] AND policies <> '{}'`);
  if (f.reason !== undefined) c.push(`drop_reason = ${ps.add(f.reason)}`);
  if (f.direction !== undefined) c.push(`direction = ANY(${ps.add(f.direction)}::text[])`);
  // Every verdict (the edge list's default) needs no condition: stored rows hold only these, and
  // the comparison would cost every row of a long window.
  if (!VERDICTS.every((v) => f.verdict.includes(v)))
    c.push(
      f.verdict.length === 1 ? `verdict = ${ps.add(f.verdict[0])}` : `verdict = ANY(${ps.add(f.verdict)}::text[])`,
    );
  if (f.attribution !== undefined) c.push(`attribution_level = ANY(${ps.add(f.attribution)}::text[])`);
  return c.length === 0 ? 'TRUE' : c.join(' AND ');
}
