/** Observed edges over edge_rollups (PostgreSQL): the API's edge list and the input of suggestions. */
import { isIP } from 'node:net';
import { VERDICTS } from '../flow/flow-record.js';
import {
  isIcmpProtocol,
  type DropFilters,
  type EdgeEndpointView,
  type EdgeItem,
  type EdgeReader,
  type EdgeWindow,
  type ObservedEdge,
  type ObservedEndpoint,
  type ReaderPage,
} from './readers.js';
import { EDGE_COLUMNS, EDGE_ID_SQL, RESOLUTIONS } from './rollup-closer.js';
import { rollupSource } from './rollup-source.js';
import { SqlParams } from './sql-filters.js';
import { iso, num, orNull, parseJson, rows, type Queryable, type Row } from './sql-rows.js';

const GROUP = EDGE_COLUMNS.join(', ');
/** What edgeSql reads of each row (besides last_bucket): the edge's id, not its ten columns. */
const EDGE_SOURCE_COLUMNS = `${EDGE_ID_SQL} AS edge_id, direction, count, packets, bytes, first_seen, last_seen`;

/**
 * Hash-aggregates the window by edge id (no DISTINCT or ordered aggregates, which force a sort of
 * every row). `source`: rollupSource's rows, coarse rows carrying their last minute. One 16-byte
 * key per row instead of the ten columns it stands for; the page's columns are looked up after
 * (columnSql). Equal counts are ordered by id: stable from page to page.
 */
function edgeSql(source: string, page: string): string {
  return `SELECT edge_id, bool_or(direction = 'ingress') AS ingress, bool_or(direction = 'egress') AS egress,
          bool_or(direction = 'unknown') AS unknown_direction,
          sum(count)::bigint AS count, sum(packets)::bigint AS packets, sum(bytes)::bigint AS bytes,
          min(first_seen) AS first_seen, max(last_seen) AS last_seen, max(last_bucket) AS last_bucket
        FROM ${source}
        GROUP BY edge_id
        ORDER BY count DESC, edge_id${page}`;
}

/** The ten columns of one edge's rows, which are all the same (one id: one set of columns). */
const EDGE_VALUES = EDGE_COLUMNS.map((c) => `min(e.${c}) AS ${c}`).join(', ');

/**
 * The listed edges' columns and latest labels, in one query: each edge's rows in its last minute
 * bucket, the newest non-null labels among them. The listed edges' rows of just those minutes
 * (usually one or two for all edges) are read once, kept by id (a page is often a tenth of a
 * minute's rows) and joined to the list by hash: materialized, so PostgreSQL cannot turn the join
 * into one primary-key lookup per edge, each filtering its whole minute.
 */
function columnSql(found: Row[], ps: SqlParams): string {
  const lastBuckets = found.map((r) => iso(r.last_bucket));
  const buckets = ps.add([...new Set(lastBuckets)]);
  const ids = ps.add(found.map((r) => r.edge_id));
  return `WITH e AS MATERIALIZED (
        SELECT bucket, ${EDGE_ID_SQL} AS edge_id, ${GROUP}, src_labels, dst_labels, last_seen FROM edge_rollups
        WHERE bucket = ANY(${buckets}::timestamptz[]) AND ${EDGE_ID_SQL} = ANY(${ids}::uuid[]))
      SELECT v.i, ${EDGE_VALUES},
        (array_agg(e.src_labels ORDER BY e.last_seen DESC) FILTER (WHERE e.src_labels IS NOT NULL))[1]::text AS src_labels,
        (array_agg(e.dst_labels ORDER BY e.last_seen DESC) FILTER (WHERE e.dst_labels IS NOT NULL))[1]::text AS dst_labels
      FROM unnest(${ps.add(found.map((_, i) => i))}::integer[], ${ps.add(lastBuckets)}::timestamptz[], ${ids}::uuid[])
        AS v(i, bucket, edge_id)
      JOIN e ON e.bucket = v.bucket AND e.edge_id = v.edge_id
      GROUP BY v.i`;
}

/**
 * The columns of edges whose last minute is no longer stored (a window reaching past the minutes'
 * retention into hour and day rows, which may be kept longer): from the row of each coarser
 * resolution whose unit holds the edge's last minute. Coarse rows carry no labels.
 */
function coarseColumnSql(missing: Array<{ i: number; row: Row }>, ps: SqlParams): string {
  const ids = ps.add(missing.map((m) => m.row.edge_id));
  const v = `unnest(${ps.add(missing.map((m) => m.i))}::integer[], ${ps.add(missing.map((m) => iso(m.row.last_bucket)))}::timestamptz[],
        ${ids}::uuid[]) AS v(i, last_bucket, edge_id)`;
  return RESOLUTIONS.map((r) => {
    // Units start at multiples of their length since the epoch (UTC), as date_bin's origin.
    const units = new Set(
      missing.map((m) => new Date(Math.floor(Date.parse(iso(m.row.last_bucket)) / r.unitMs) * r.unitMs).toISOString()),
    );
    return `SELECT v.i, ${EDGE_VALUES} FROM ${v}
      JOIN (SELECT bucket, ${EDGE_ID_SQL} AS edge_id, ${GROUP} FROM ${r.table}
        WHERE bucket = ANY(${ps.add([...units])}::timestamptz[]) AND ${EDGE_ID_SQL} = ANY(${ids}::uuid[])) e
        ON e.bucket = date_bin('${r.interval}', v.last_bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AND e.edge_id = v.edge_id
      GROUP BY v.i`;
  }).join('\n      UNION ALL ');
}

/** Runs `read` in one transaction with more work_mem when the client can (see aggregateRows). */
async function reading<T>(db: Queryable, read: (q: Queryable) => Promise<T>): Promise<T> {
  if (!db.transaction) return read(db);
  return db.transaction(async (m) => {
    await m.query(`SET LOCAL work_mem = '64MB'`);
    return read(m);
  });
}

/**
 * The window's edges (a page of them when `page` is given) with their columns and latest labels.
 * One transaction: the partitions the list read cannot be dropped by retention before the
 * columns are looked up.
 */
async function edgeRows(db: Queryable, f: DropFilters, page?: { limit: number; offset: number }): Promise<Row[]> {
  const ps = new SqlParams();
  const source = await rollupSource(db, f, ps, { columns: EDGE_SOURCE_COLUMNS });
  return reading(db, async (q) => {
    const found = await rows(
      q,
      edgeSql(source, page ? ` LIMIT ${ps.add(page.limit)} OFFSET ${ps.add(page.offset)}` : ''),
      ps,
    );
    if (found.length === 0) return found;
    const cps = new SqlParams();
    const columns = new Map((await rows(q, columnSql(found, cps), cps)).map((c) => [num(c.i), c]));
    const missing = found.flatMap((row, i) => (columns.has(i) ? [] : [{ i, row }]));
    if (missing.length > 0) {
      const mps = new SqlParams();
      for (const c of await rows(q, coarseColumnSql(missing, mps), mps))
        if (!columns.has(num(c.i))) columns.set(num(c.i), { ...c, src_labels: null, dst_labels: null });
    }
    // Not found at all cannot happen while this transaction holds the partitions it read; an edge
    // without its columns could not be shown, so it would be left out rather than fail the page.
    return found.flatMap((r, i) => {
      const c = columns.get(i);
      return c === undefined ? [] : [{ ...r, ...c }];
    });
  });
}

function endpointView(r: Row, side: 'src' | 'dst'): EdgeEndpointView {
  return {
    kind: String(r[`${side}_kind`]),
    namespace: orNull(r[`${side}_namespace`]),
    workload: orNull(r[`${side}_workload`]),
    labels: parseJson<Record<string, string>>(r[`${side}_labels`]),
  };
}

/** The roll-ups store an address-only endpoint's IP in the workload column. */
function observedEndpoint(r: Row, side: 'src' | 'dst'): ObservedEndpoint {
  const v = endpointView(r, side);
  const address = v.workload !== null && isIP(v.workload) !== 0 ? v.workload : null;
  return { ...v, workload: address === null ? v.workload : null, address };
}

function portFields(r: Row): { dstPort: number | null; icmpType: number | null; protocol: string } {
  const protocol = String(r.protocol);
  const port = num(r.dst_port);
  return isIcmpProtocol(protocol)
    ? { dstPort: null, icmpType: port, protocol }
    : { dstPort: port, icmpType: null, protocol };
}

function directions(r: Row): string[] {
  return (['egress', 'ingress', 'unknown'] as const).filter((d) =>
    Boolean(r[d === 'unknown' ? 'unknown_direction' : d]),
  );
}

export class PostgresEdgeReader implements EdgeReader {
  constructor(private readonly db: Queryable) {}

  async edges(f: DropFilters, limit: number, offset: number): Promise<ReaderPage<EdgeItem, number>> {
    const found = await edgeRows(this.db, f, { limit: limit + 1, offset });
    const more = found.length > limit;
    const items = (more ? found.slice(0, limit) : found).map((r): EdgeItem => ({
      cluster: String(r.cluster),
      src: endpointView(r, 'src'),
      dst: endpointView(r, 'dst'),
      ...portFields(r),
      verdict: String(r.verdict),
      directions: directions(r),
      count: num(r.count),
      packets: num(r.packets),
      bytes: num(r.bytes),
      firstSeen: iso(r.first_seen),
      lastSeen: iso(r.last_seen),
    }));
    return { items, next: more ? offset + limit : null };
  }

  async observedEdges(w: EdgeWindow): Promise<ObservedEdge[]> {
    const f: DropFilters = { from: w.from, to: w.to, verdict: [...VERDICTS] };
    if (w.namespace !== undefined) f.namespace = w.namespace;
    if (w.cluster !== undefined) f.cluster = w.cluster;
    return (await edgeRows(this.db, f)).map((r): ObservedEdge => ({
      cluster: String(r.cluster),
      src: observedEndpoint(r, 'src'),
      dst: observedEndpoint(r, 'dst'),
      ...portFields(r),
      verdict: String(r.verdict),
      directions: directions(r),
      count: num(r.count),
      firstSeen: iso(r.first_seen),
      lastSeen: iso(r.last_seen),
    }));
  }
}
