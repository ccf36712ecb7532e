/**
 * Stored history as ObservedEdges: the database keeps workload-level edges per minute (the edge
 * reader sums a window of them), so `suggest --from`, `what-if --from` and the API feed the
 * suggester and the what-if the same edges a flow file would.
 */
import { ENDPOINT_KINDS, type EndpointKind, type FlowEndpoint } from '../flow/flow-record.js';
import type { PolicyInventory } from '../policy/index.js';
import { edgeEndpointFromFlow, edgeKey, type EdgeBuildStats, type ObservedEdge } from './observed-edge.js';

/** One side of a stored edge (the storage layer's shape, structurally). */
export interface StoredEdgeEndpoint {
  kind: string;
  namespace: string | null;
  /** `Kind/name`, or an aggregated name; null when the endpoint is known only by its address. */
  workload: string | null;
  labels: Record<string, string> | null;
  address: string | null;
}

export interface StoredEdge {
  src: StoredEdgeEndpoint;
  dst: StoredEdgeEndpoint;
  /** null for ICMP. */
  dstPort: number | null;
  protocol: string;
  verdict: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
}

/** Ports at or above this are ephemeral: a stored edge to one is the reply side of a connection. */
const EPHEMERAL_PORT_START = 32768;
const EDGE_PROTOCOLS = new Set(['TCP', 'UDP', 'SCTP']);
const KINDS: ReadonlySet<string> = new Set(ENDPOINT_KINDS);

function flowEndpoint(e: StoredEdgeEndpoint): FlowEndpoint {
  const out: FlowEndpoint = { kind: (KINDS.has(e.kind) ? e.kind : 'unknown') as EndpointKind };
  if (e.namespace !== null) out.namespace = e.namespace;
  if (e.labels !== null) out.labels = e.labels;
  if (e.address !== null) out.ip = e.address;
  if (e.workload !== null) {
    const slash = e.workload.indexOf('/');
    if (slash > 0) out.workload = { kind: e.workload.slice(0, slash), name: e.workload.slice(slash + 1) };
    else out.nameAggr = e.workload;
  }
  return out;
}

/** Stored edges to ObservedEdges; edges that collapse to the same key (replicas' labels) are merged. */
export function edgesFromStored(
  stored: Iterable<StoredEdge>,
  inventory?: PolicyInventory,
): { edges: ObservedEdge[]; stats: EdgeBuildStats } {
  const stats: EdgeBuildStats = { records: 0, replies: 0, unsupported: 0, unknownEndpoint: 0, otherVerdict: 0 };
  const byKey = new Map<string, ObservedEdge>();
  for (const s of stored) {
    stats.records++;
    if (s.verdict !== 'allowed' && s.verdict !== 'denied' && s.verdict !== 'audit') {
      stats.otherVerdict++;
      continue;
    }
    const protocol = s.protocol.toUpperCase();
    if (!EDGE_PROTOCOLS.has(protocol) || s.dstPort === null) {
      stats.unsupported++;
      continue;
    }
    // The roll-ups keep no reply flag or source port: a destination port in the ephemeral range
    // is the answering side of a connection, which needs no rule.
    if (s.dstPort >= EPHEMERAL_PORT_START) {
      stats.replies++;
      continue;
    }
    const src = edgeEndpointFromFlow(flowEndpoint(s.src), inventory);
    const dst = edgeEndpointFromFlow(flowEndpoint(s.dst), inventory);
    if (!src || !dst) {
      stats.unknownEndpoint++;
      continue;
    }
    const edge: ObservedEdge = {
      src,
      dst,
      dstPort: s.dstPort,
      protocol: protocol as ObservedEdge['protocol'],
      verdict: s.verdict,
      count: s.count,
      firstSeen: s.firstSeen,
      lastSeen: s.lastSeen,
    };
    const key = edgeKey(edge);
    const seen = byKey.get(key);
    if (!seen) {
      byKey.set(key, edge);
      continue;
    }
    seen.count += edge.count;
    if (edge.firstSeen < seen.firstSeen) seen.firstSeen = edge.firstSeen;
    if (edge.lastSeen > seen.lastSeen) seen.lastSeen = edge.lastSeen;
  }
  return { edges: [...byKey.values()], stats };
}
