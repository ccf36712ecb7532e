/**
 * The read queries behind the REST API, plain TypeScript over any `query(sql, params)` client
 * (a TypeORM DataSource, a pg Pool). Summaries, time series, edges and policy counts read the
 * per-minute roll-ups; only the event list and a policy's recent drops read drop_events.
 * See docs/API.md ("Index plan") for the index each filter uses.
 */
import { EVENTS, ROLLUPS, SqlParams, whereClause, type DropFilters } from './drop-filters.js';
import { ApiInputError, decodeCursor, encodeCursor } from './query-params.js';

export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
  /** When available (a TypeORM DataSource), heavy queries run in a transaction with more work_mem. */
  transaction?<T>(run: (m: { query(sql: string, params?: unknown[]): Promise<unknown> }) => Promise<T>): Promise<T>;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface DropAttributionView {
  level: string;
  policies: unknown[];
  isolatedBy?: string[];
  reason?: string;
}

/** One drop event: its id, the full FlowRecord (flow id as `flowId`) and its attribution. */
export type DropItem = Record<string, unknown> & {
  id: string;
  flowId: string;
  time: string;
  attribution: DropAttributionView;
};

export const SUMMARY_BY = ['edge', 'policy', 'namespace', 'reason', 'workload'] as const;
export type SummaryBy = (typeof SUMMARY_BY)[number];

export const STEPS = { '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '1d': 86_400_000 } as const;
export type Step = keyof typeof STEPS;
export const MAX_BUCKETS = 10_000;

export type SummaryItem = Record<string, string | number | null> & {
  count: number;
  firstSeen: string;
  lastSeen: string;
};

export interface TimeseriesPoint {
  time: string;
  count: number;
  verdicts: Record<string, number>;
}

export interface EdgeItem {
  cluster: string;
  src: { kind: string; namespace: string | null; workload: string | null; labels: Record<string, string> | null };
  dst: { kind: string; namespace: string | null; workload: string | null; labels: Record<string, string> | null };
  dstPort: number;
  protocol: string;
  verdict: string;
  directions: string[];
  count: number;
  packets: number;
  bytes: number;
  firstSeen: string;
  lastSeen: string;
}

export interface PolicyDropStats {
  policy: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  verdicts: Record<string, number>;
}

const EVENT_CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)\|(\d{1,19})$/;
const OFFSET_CURSOR = /^(\d{1,9})$/;

function iso(v: unknown): string {
  return v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString();
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

function orNull(v: unknown): string | null {
  return v === '' || v === null || v === undefined ? null : String(v);
}

function parseJson<T>(v: unknown): T | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return JSON.parse(v) as T;
  return v as T;
}

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

export class ApiQueries {
  constructor(private readonly db: Queryable) {}

  private async rows(sql: string, ps: SqlParams): Promise<Array<Record<string, unknown>>> {
    return (await this.db.query(sql, ps.values)) as Array<Record<string, unknown>>;
  }

  /**
   * For aggregates over a day of roll-ups: in a transaction with more work_mem, so PostgreSQL
   * groups in memory (hash aggregate) instead of sorting on disk.
   */
  private async aggregateRows(sql: string, ps: SqlParams): Promise<Array<Record<string, unknown>>> {
    if (!this.db.transaction) return this.rows(sql, ps);
    return this.db.transaction(async (m) => {
      await m.query(`SET LOCAL work_mem = '64MB'`);
      return (await m.query(sql, ps.values)) as Array<Record<string, unknown>>;
    });
  }

  /** Drop events newest first, keyset-paginated on (time, id). */
  async listDrops(f: DropFilters, limit: number, cursor?: string): Promise<Page<DropItem>> {
    const ps = new SqlParams();
    let where = whereClause(f, EVENTS, ps);
    const c = decodeCursor(cursor, 'e', EVENT_CURSOR);
    if (c) where += ` AND (time, id) < (${ps.add(c[1])}::timestamptz, ${ps.add(c[2])}::bigint)`;
    const sql = `SELECT id::text AS id,
        to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS time_key,
        attribution_level, attribution::text AS attribution, record::text AS record
      FROM drop_events WHERE ${where}
      ORDER BY time DESC, id DESC LIMIT ${ps.add(limit + 1)}`;
    const rows = await this.rows(sql, ps);
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    const items = page.map((r) => toDropItem(r));
    const last = page[page.length - 1];
    return {
      items,
      nextCursor: more && last ? encodeCursor('e', `${String(last.time_key)}|${String(last.id)}`) : null,
    };
  }

  /** Top N groups by flow count, from the roll-ups. */
  async summary(f: DropFilters, by: SummaryBy, limit: number): Promise<{ by: SummaryBy; items: SummaryItem[] }> {
    const ps = new SqlParams();
    const where = whereClause(f, ROLLUPS, ps);
    const groups = SUMMARY_GROUPS[by];
    const select = groups.map(([field, expr]) => `${expr} AS "${field}"`).join(', ');
    const groupBy = groups.map((_, i) => String(i + 1)).join(', ');
    const from =
      by === 'policy' ? 'edge_rollups LEFT JOIN LATERAL unnest(policies) AS p(policy) ON true' : 'edge_rollups';
    const sql = `SELECT ${select}, sum(count)::bigint AS count, min(first_seen) AS first_seen, max(last_seen) AS last_seen
      FROM ${from} WHERE ${where}
      GROUP BY ${groupBy}
      ORDER BY count DESC, ${groupBy} LIMIT ${ps.add(limit)}`;
    const rows = await this.aggregateRows(sql, ps);
    return {
      by,
      items: rows.map((r) => {
        const item: SummaryItem = { count: num(r.count), firstSeen: iso(r.first_seen), lastSeen: iso(r.last_seen) };
        for (const [field] of groups) item[field] = field === 'dstPort' ? num(r[field]) : orNull(r[field]);
        return item;
      }),
    };
  }

  /** Flow counts per step (zero-filled), split by verdict, from the roll-ups. */
  async timeseries(
    f: DropFilters,
    step: Step,
  ): Promise<{ step: Step; from: string; to: string; items: TimeseriesPoint[] }> {
    const stepMs = STEPS[step];
    const first = Math.floor(f.from / stepMs) * stepMs;
    const buckets = Math.ceil((f.to - first) / stepMs);
    if (buckets > MAX_BUCKETS)
      throw new ApiInputError(
        'step',
        `${step} over this range makes ${buckets} points (at most ${MAX_BUCKETS}); use a larger step or a shorter range`,
      );
    const ps = new SqlParams();
    const where = whereClause(f, ROLLUPS, ps);
    const sql = `SELECT date_bin(${ps.add(`${stepMs / 1000} seconds`)}::interval, bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS t,
        verdict, sum(count)::bigint AS count
      FROM edge_rollups WHERE ${where}
      GROUP BY 1, 2 ORDER BY 1`;
    const rows = await this.aggregateRows(sql, ps);
    const points = new Map<number, TimeseriesPoint>();
    for (let t = first; t < f.to; t += stepMs) {
      const vs: Record<string, number> = {};
      for (const v of f.verdict) vs[v] = 0;
      points.set(t, { time: new Date(t).toISOString(), count: 0, verdicts: vs });
    }
    for (const r of rows) {
      const t = new Date(iso(r.t)).getTime();
      const p = points.get(t);
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

  /** Observed edges (any verdict) for a window, largest first; offset-paginated over the grouped result. */
  async edges(f: DropFilters, limit: number, cursor?: string): Promise<Page<EdgeItem>> {
    const c = decodeCursor(cursor, 'o', OFFSET_CURSOR);
    const offset = c ? Number(c[1]) : 0;
    const ps = new SqlParams();
    const where = whereClause(f, ROLLUPS, ps);
    // Hash-aggregate the window without labels (no DISTINCT or ordered aggregates, which force a
    // sort of every row), then fetch each listed edge's latest labels from its last bucket.
    const sql = `WITH g AS (
        SELECT cluster, src_kind, src_namespace, src_workload, dst_kind, dst_namespace, dst_workload, dst_port, protocol,
          verdict, bool_or(direction = 'ingress') AS ingress, bool_or(direction = 'egress') AS egress,
          bool_or(direction = 'unknown') AS unknown_direction,
          sum(count)::bigint AS count, sum(packets)::bigint AS packets, sum(bytes)::bigint AS bytes,
          min(first_seen) AS first_seen, max(last_seen) AS last_seen, max(bucket) AS last_bucket
        FROM edge_rollups WHERE ${where}
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
        ORDER BY count DESC, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
        LIMIT ${ps.add(limit + 1)} OFFSET ${ps.add(offset)})
      SELECT g.*, l.src_labels::text AS src_labels, l.dst_labels::text AS dst_labels FROM g
      LEFT JOIN LATERAL (
        SELECT (array_agg(e.src_labels ORDER BY e.last_seen DESC) FILTER (WHERE e.src_labels IS NOT NULL))[1] AS src_labels,
          (array_agg(e.dst_labels ORDER BY e.last_seen DESC) FILTER (WHERE e.dst_labels IS NOT NULL))[1] AS dst_labels
        FROM edge_rollups e
        WHERE e.bucket = g.last_bucket AND e.cluster = g.cluster AND e.src_kind = g.src_kind
          AND e.src_namespace = g.src_namespace AND e.src_workload = g.src_workload AND e.dst_kind = g.dst_kind
          AND e.dst_namespace = g.dst_namespace AND e.dst_workload = g.dst_workload AND e.dst_port = g.dst_port
          AND e.protocol = g.protocol AND e.verdict = g.verdict) l ON true
      ORDER BY g.count DESC, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10`;
    const rows = await this.aggregateRows(sql, ps);
    const more = rows.length > limit;
    const items = (more ? rows.slice(0, limit) : rows).map((r): EdgeItem => ({
      cluster: String(r.cluster),
      src: {
        kind: String(r.src_kind),
        namespace: orNull(r.src_namespace),
        workload: orNull(r.src_workload),
        labels: parseJson<Record<string, string>>(r.src_labels),
      },
      dst: {
        kind: String(r.dst_kind),
        namespace: orNull(r.dst_namespace),
        workload: orNull(r.dst_workload),
        labels: parseJson<Record<string, string>>(r.dst_labels),
      },
      dstPort: num(r.dst_port),
      protocol: String(r.protocol),
      verdict: String(r.verdict),
      directions: (['egress', 'ingress', 'unknown'] as const).filter((d) =>
        Boolean(r[d === 'unknown' ? 'unknown_direction' : d]),
      ),
      count: num(r.count),
      packets: num(r.packets),
      bytes: num(r.bytes),
      firstSeen: iso(r.first_seen),
      lastSeen: iso(r.last_seen),
    }));
    return { items, nextCursor: more ? encodeCursor('o', String(offset + limit)) : null };
  }

  /**
   * Drop counts per attributed policy (`ns/name`), optionally for one policy only. A drop credited
   * to several policies counts for each.
   */
  async policyDropStats(f: DropFilters, policy?: string): Promise<Map<string, PolicyDropStats>> {
    const ps = new SqlParams();
    let where = whereClause(policy !== undefined ? { ...f, policy } : f, ROLLUPS, ps);
    if (policy !== undefined) where += ` AND p.policy = ${ps.add(policy)}`;
    const sql = `SELECT p.policy, verdict, sum(count)::bigint AS count, min(first_seen) AS first_seen, max(last_seen) AS last_seen
      FROM edge_rollups CROSS JOIN LATERAL unnest(policies) AS p(policy) WHERE ${where}
      GROUP BY 1, 2`;
    const out = new Map<string, PolicyDropStats>();
    for (const r of await this.rows(sql, ps)) {
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

function toDropItem(r: Record<string, unknown>): DropItem {
  const record = parseJson<Record<string, unknown>>(r.record) ?? {};
  const att = parseJson<Partial<DropAttributionView>>(r.attribution);
  const attribution: DropAttributionView = {
    level: att?.level ?? (String(r.attribution_level ?? '') || 'unknown'),
    policies: att?.policies ?? [],
  };
  if (att?.isolatedBy !== undefined) attribution.isolatedBy = att.isolatedBy;
  if (att?.reason !== undefined) attribution.reason = att.reason;
  const { id: flowId, ...rest } = record;
  return {
    id: String(r.id),
    flowId: typeof flowId === 'string' ? flowId : String(flowId ?? ''),
    ...rest,
    time: typeof rest.time === 'string' ? rest.time : String(r.time_key),
    attribution,
  };
}
