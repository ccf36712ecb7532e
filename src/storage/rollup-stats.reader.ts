/**
 * Summaries, time series and per-policy drop counts over edge_rollups (PostgreSQL). See
 * docs/API.md ("Index plan") for the index each filter uses.
 */
import {
  STEPS,
  isIcmpProtocol,
  type DropFilters,
  type PolicyDropStats,
  type RollupStatsReader,
  type Step,
  type SummaryBy,
  type SummaryItem,
  type Timeseries,
  type TimeseriesPoint,
} from './readers.js';
import { rollupSource, seriesSource } from './rollup-source.js';
import { SqlParams } from './sql-filters.js';
import { aggregateRows, iso, num, orNull, rows, type Queryable } from './sql-rows.js';

/** Grouping of each summary: SQL expressions (fixed text, never user input) and item field names. */
const SUMMARY_GROUPS: Record<SummaryBy, Array<[field: string, expr: string]>> = {
  edge: [
    ['cluster', 'cluster'],
    ['srcNamespace', 'src_namespace'],
    ['srcWorkload', 'src_workload'],
    ['dstNamespace', 'dst_namespace'],
    ['dstWorkload', 'dst_workload'],
    ['dstPort', 'dst_port'],
    ['protocol', 'protocol'],
    ['verdict', 'verdict'],
  ],
  // A drop credited to several policies counts once for each (the row is unnested below).
  policy: [['policy', 'p.policy']],
  // The enforcing side: the destination for ingress (and unknown), the source for egress.
  namespace: [['namespace', `CASE WHEN direction = 'egress' THEN src_namespace ELSE dst_namespace END`]],
  reason: [
    ['verdict', 'verdict'],
    ['reason', 'drop_reason'],
  ],
  workload: [
    ['namespace', `CASE WHEN direction = 'egress' THEN src_namespace ELSE dst_namespace END`],
    ['workload', `CASE WHEN direction = 'egress' THEN src_workload ELSE dst_workload END`],
  ],
};

export class PostgresRollupStatsReader implements RollupStatsReader {
  constructor(private readonly db: Queryable) {}

  async summary(f: DropFilters, by: SummaryBy, limit: number): Promise<{ by: SummaryBy; items: SummaryItem[] }> {
    const ps = new SqlParams();
    const source = await rollupSource(this.db, f, ps);
    const groups = SUMMARY_GROUPS[by];
    const select = groups.map(([field, expr]) => `${expr} AS "${field}"`).join(', ');
    const groupBy = groups.map((_, i) => String(i + 1)).join(', ');
    const from = by === 'policy' ? `${source} LEFT JOIN LATERAL unnest(r.policies) AS p(policy) ON true` : source;
    const sql = `SELECT ${select}, sum(count)::bigint AS count, min(first_seen) AS first_seen, max(last_seen) AS last_seen
      FROM ${from}
      GROUP BY ${groupBy}
      ORDER BY count DESC, ${groupBy} LIMIT ${ps.add(limit)}`;
    const found = await aggregateRows(this.db, sql, ps);
    return {
      by,
      items: found.map((r) => {
        const item: SummaryItem = { count: num(r.count), firstSeen: iso(r.first_seen), lastSeen: iso(r.last_seen) };
        for (const [field] of groups) item[field] = field === 'dstPort' ? num(r[field]) : orNull(r[field]);
        // The roll-ups keep an ICMP flow's type in dst_port; the API shows it as icmpType.
        if (by === 'edge') {
          const icmp = isIcmpProtocol(String(r.protocol));
          item.icmpType = icmp ? num(r.dstPort) : null;
          if (icmp) item.dstPort = null;
        }
        return item;
      }),
    };
  }

  async timeseries(f: DropFilters, step: Step): Promise<Timeseries> {
    const stepMs = STEPS[step];
    const first = Math.floor(f.from / stepMs) * stepMs;
    const ps = new SqlParams();
    // Hour and day rows fit steps of whole hours and days (the origin below is on both boundaries).
    const source = await seriesSource(this.db, f, ps, stepMs);
    const sql = `SELECT date_bin(${ps.add(`${stepMs / 1000} seconds`)}::interval, bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS t,
        verdict, sum(count)::bigint AS count
      FROM ${source}
      GROUP BY 1, 2 ORDER BY 1`;
    const found = await aggregateRows(this.db, sql, ps);
    const points = new Map<number, TimeseriesPoint>();
    for (let t = first; t < f.to; t += stepMs) {
      const vs: Record<string, number> = {};
      for (const v of f.verdict) vs[v] = 0;
      points.set(t, { time: new Date(t).toISOString(), count: 0, verdicts: vs });
    }
    for (const r of found) {
      const p = points.get(new Date(iso(r.t)).getTime());
      if (!p) continue;
      const n = num(r.count);
      p.count += n;
      p.verdicts[String(r.verdict)] = (p.verdicts[String(r.verdict)] ?? 0) + n;
    }
    return {
      step,
      from: new Date(f.from).toISOString(),
      to: new Date(f.to).toISOString(),
      items: [...points.values()],
    };
  }

  async policyDropStats(f: DropFilters, policy?: string): Promise<Map<string, PolicyDropStats>> {
    const ps = new SqlParams();
    const source = await rollupSource(this.db, policy !== undefined ? { ...f, policy } : f, ps);
    const where = policy !== undefined ? ` WHERE p.policy = ${ps.add(policy)}` : '';
    const sql = `SELECT p.policy, verdict, sum(count)::bigint AS count, min(first_seen) AS first_seen, max(last_seen) AS last_seen
      FROM ${source} CROSS JOIN LATERAL unnest(r.policies) AS p(policy)${where}
      GROUP BY 1, 2`;
    const out = new Map<string, PolicyDropStats>();
    for (const r of await rows(this.db, sql, ps)) {
      const key = String(r.policy);
      const n = num(r.count);
      let s = out.get(key);
      if (!s) {
        s = { policy: key, count: 0, firstSeen: iso(r.first_seen), lastSeen: iso(r.last_seen), verdicts: {} };
        out.set(key, s);
      }
      s.count += n;
      s.verdicts[String(r.verdict)] = (s.verdicts[String(r.verdict)] ?? 0) + n;
      if (iso(r.first_seen) < s.firstSeen) s.firstSeen = iso(r.first_seen);
      if (iso(r.last_seen) > s.lastSeen) s.lastSeen = iso(r.last_seen);
    }
    return out;
  }
}
