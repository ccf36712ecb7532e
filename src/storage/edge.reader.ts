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
import { rollupSource } from './rollup-source.js';
import { SqlParams } from './sql-filters.js';
import { aggregateRows, iso, num, orNull, parseJson, type Queryable, type Row } from './sql-rows.js';

const GROUP =
  'cluster, src_kind, src_namespace, src_workload, dst_kind, dst_namespace, dst_workload, dst_port, protocol, verdict';
const GROUP_ORDER = '1, 2, 3, 4, 5, 6, 7, 8, 9, 10';

/**
 * Hash-aggregates the window without labels (no DISTINCT or ordered aggregates, which force a
 * sort of every row), then fetches each listed edge's latest labels from its last minute bucket
 * (`source`: rollupSource's rows, hour rows carrying their last minute).
 */
function edgeSql(source: string, page: string): string {
  return `WITH g AS (
        SELECT ${GROUP}, bool_or(direction = 'ingress') AS ingress, bool_or(direction = 'egress') AS egress,
          bool_or(direction = 'unknown') AS unknown_direction,
          sum(count)::bigint AS count, sum(packets)::bigint AS packets, sum(bytes)::bigint AS bytes,
          min(first_seen) AS first_seen, max(last_seen) AS last_seen, max(last_bucket) AS last_bucket
        FROM ${source}
        GROUP BY ${GROUP_ORDER}
        ORDER BY count DESC, ${GROUP_ORDER}${page})
      SELECT g.*, l.src_labels::text AS src_labels, l.dst_labels::text AS dst_labels FROM g
      LEFT JOIN LATERAL (
        SELECT (array_agg(e.src_labels ORDER BY e.last_seen DESC) FILTER (WHERE e.src_labels IS NOT NULL))[1] AS src_labels,
          (array_agg(e.dst_labels ORDER BY e.last_seen DESC) FILTER (WHERE e.dst_labels IS NOT NULL))[1] AS dst_labels
        FROM edge_rollups e
        WHERE e.bucket = g.last_bucket AND e.cluster = g.cluster AND e.src_kind = g.src_kind
          AND e.src_namespace = g.src_namespace AND e.src_workload = g.src_workload AND e.dst_kind = g.dst_kind
          AND e.dst_namespace = g.dst_namespace AND e.dst_workload = g.dst_workload AND e.dst_port = g.dst_port
          AND e.protocol = g.protocol AND e.verdict = g.verdict) l ON true
      ORDER BY g.count DESC, ${GROUP_ORDER}`;
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
    const ps = new SqlParams();
    const source = await rollupSource(this.db, f, ps);
    const found = await aggregateRows(
      this.db,
      edgeSql(source, ` LIMIT ${ps.add(limit + 1)} OFFSET ${ps.add(offset)}`),
      ps,
    );
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
    const ps = new SqlParams();
    const f: DropFilters = { from: w.from, to: w.to, verdict: [...VERDICTS] };
    if (w.namespace !== undefined) f.namespace = w.namespace;
    if (w.cluster !== undefined) f.cluster = w.cluster;
    const found = await aggregateRows(this.db, edgeSql(await rollupSource(this.db, f, ps), ''), ps);
    return found.map((r): ObservedEdge => ({
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
