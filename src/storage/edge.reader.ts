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
import { EDGE_COLUMNS } from './rollup-closer.js';
import { rollupSource } from './rollup-source.js';
import { SqlParams } from './sql-filters.js';
import { aggregateRows, iso, num, orNull, parseJson, rows, type Queryable, type Row } from './sql-rows.js';

const GROUP = EDGE_COLUMNS.join(', ');
/** What edgeSql reads of each row (besides last_bucket). */
const EDGE_SOURCE_COLUMNS = `${GROUP}, direction, count, packets, bytes, first_seen, last_seen`;
const GROUP_ORDER = EDGE_COLUMNS.map((_, i) => String(i + 1)).join(', ');

/**
 * Hash-aggregates the window without labels (no DISTINCT or ordered aggregates, which force a
 * sort of every row). `source`: rollupSource's rows, coarse rows carrying their last minute.
 */
function edgeSql(source: string, page: string): string {
  return `SELECT ${GROUP}, bool_or(direction = 'ingress') AS ingress, bool_or(direction = 'egress') AS egress,
          bool_or(direction = 'unknown') AS unknown_direction,
          sum(count)::bigint AS count, sum(packets)::bigint AS packets, sum(bytes)::bigint AS bytes,
          min(first_seen) AS first_seen, max(last_seen) AS last_seen, max(last_bucket) AS last_bucket
        FROM ${source}
        GROUP BY ${GROUP_ORDER}
        ORDER BY count DESC, ${GROUP_ORDER}${page}`;
}

/**
 * The listed edges' latest labels, in one query: each edge's rows in its last minute bucket, the
 * newest non-null labels among them. The rows of just those minutes (usually one or two for all
 * edges) are read once and joined to the list by hash: materialized, so PostgreSQL cannot turn
 * the join into one primary-key lookup per edge, each filtering its whole minute.
 */
function labelSql(found: Row[], ps: SqlParams): string {
  const lists = EDGE_COLUMNS.map(
    (c) => `${ps.add(found.map((r) => r[c]))}::${c === 'dst_port' ? 'integer' : 'text'}[]`,
  );
  const lastBuckets = found.map((r) => iso(r.last_bucket));
  const on = EDGE_COLUMNS.map((c) => `e.${c} = v.${c}`).join(' AND ');
  return `WITH e AS MATERIALIZED (
        SELECT bucket, ${GROUP}, src_labels, dst_labels, last_seen FROM edge_rollups
        WHERE bucket = ANY(${ps.add([...new Set(lastBuckets)])}::timestamptz[]))
      SELECT v.i, (array_agg(e.src_labels ORDER BY e.last_seen DESC) FILTER (WHERE e.src_labels IS NOT NULL))[1]::text AS src_labels,
        (array_agg(e.dst_labels ORDER BY e.last_seen DESC) FILTER (WHERE e.dst_labels IS NOT NULL))[1]::text AS dst_labels
      FROM unnest(${ps.add(found.map((_, i) => i))}::integer[], ${ps.add(lastBuckets)}::timestamptz[], ${lists.join(', ')})
        AS v(i, bucket, ${GROUP})
      JOIN e ON e.bucket = v.bucket AND ${on}
      GROUP BY v.i`;
}

/** The window's edges (a page of them when `page` is given) with their latest labels. */
async function edgeRows(db: Queryable, f: DropFilters, page?: { limit: number; offset: number }): Promise<Row[]> {
  const ps = new SqlParams();
  const source = await rollupSource(db, f, ps, { columns: EDGE_SOURCE_COLUMNS });
  const found = await aggregateRows(
    db,
    edgeSql(source, page ? ` LIMIT ${ps.add(page.limit)} OFFSET ${ps.add(page.offset)}` : ''),
    ps,
  );
  if (found.length === 0) return found;
  const lps = new SqlParams();
  const labels = new Map((await rows(db, labelSql(found, lps), lps)).map((l) => [num(l.i), l]));
  return found.map((r, i) => ({
    ...r,
    src_labels: labels.get(i)?.src_labels ?? null,
    dst_labels: labels.get(i)?.dst_labels ?? null,
  }));
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
