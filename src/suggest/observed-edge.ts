/**
 * ObservedEdge: one (source workload, destination workload, port, protocol, verdict) seen in
 * traffic, with counts and first/last seen. The suggester reads only edges, so the flow-file path
 * (FlowRecords) and the database path (stored edge roll-ups) feed it the same way.
 */
import type { FlowEndpoint, FlowRecord } from '../flow/flow-record.js';
import { splitFlowLabels, type PolicyInventory } from '../policy/index.js';
import { stableLabels } from './workload-labels.js';

export type EdgeEndpointKind = 'pod' | 'host' | 'world';

export interface EdgeEndpoint {
  kind: EdgeEndpointKind;
  namespace?: string;
  /** Workload name (Deployment, StatefulSet, ...) when known; else derived from labels or pod name. */
  workload?: string;
  /** Stable pod labels only (no pod-template-hash and the like). Empty for host and world. */
  labels: Record<string, string>;
  /** Addresses seen for this endpoint (node IPs for host peers, external IPs for world peers). */
  ips: string[];
  /** Cilium entity of a host peer (`host` = the local node, `remote-node` = another node). */
  entity?: 'host' | 'remote-node';
}

export type EdgeVerdict = 'allowed' | 'denied' | 'audit';

export interface ObservedEdge {
  src: EdgeEndpoint;
  dst: EdgeEndpoint;
  dstPort: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  verdict: EdgeVerdict;
  /** Connections (flows) seen; records reported by both ends count once. */
  count: number;
  firstSeen: string;
  lastSeen: string;
  /** DNS names of the destination (external peers), when the source knew them. */
  dnsNames?: string[];
}

/** Why flows did not become edges, counted for the coverage note. */
export interface EdgeBuildStats {
  records: number;
  replies: number;
  unsupported: number;
  unknownEndpoint: number;
  otherVerdict: number;
}

/** Ports at or above this are ephemeral (Linux default range starts at 32768). */
const EPHEMERAL_PORT_START = 32768;
const EDGE_PROTOCOLS = new Set(['TCP', 'UDP', 'SCTP']);

function labelsFor(e: FlowEndpoint, inventory: PolicyInventory | undefined): Record<string, string> {
  const own = splitFlowLabels(e.labels).pod;
  if (Object.keys(own).length > 0) return stableLabels(own);
  const pod =
    (e.namespace && e.pod ? inventory?.pod(e.namespace, e.pod) : undefined) ??
    (e.ip ? inventory?.podByIp(e.ip) : undefined);
  return pod ? stableLabels(pod.labels) : {};
}

/** The suggester's view of a flow endpoint; undefined when it cannot be placed at all. */
export function edgeEndpointFromFlow(e: FlowEndpoint, inventory?: PolicyInventory): EdgeEndpoint | undefined {
  const ips = e.ip ? [e.ip] : [];
  const invPod =
    (e.namespace && e.pod ? inventory?.pod(e.namespace, e.pod) : undefined) ??
    (e.ip && inventory ? inventory.pods.find((p) => p.hostNetwork && p.ips.includes(e.ip ?? '')) : undefined);
  // hostNetwork pods share their node's address: policies see them as the node.
  if (e.kind === 'host' || invPod?.hostNetwork) {
    const out: EdgeEndpoint = { kind: 'host', labels: {}, ips };
    if (e.entities?.includes('remote-node')) out.entity = 'remote-node';
    else if (e.entities?.includes('host')) out.entity = 'host';
    return out;
  }
  if (e.kind === 'world' || e.kind === 'network' || (!e.namespace && e.kind !== 'pod' && e.ip)) {
    return { kind: 'world', labels: {}, ips };
  }
  const namespace = e.namespace ?? (e.ip ? inventory?.podByIp(e.ip)?.namespace : undefined);
  if (!namespace) return undefined;
  const labels = labelsFor({ ...e, namespace }, inventory);
  const out: EdgeEndpoint = { kind: 'pod', namespace, labels, ips: [] };
  const workload = e.workload?.name ?? labels['app.kubernetes.io/name'] ?? labels.app ?? e.pod;
  if (workload) out.workload = workload;
  return out;
}

function endpointKey(e: EdgeEndpoint): string {
  if (e.kind === 'pod') return `pod:${e.namespace ?? ''}:${JSON.stringify(Object.entries(e.labels).sort())}`;
  // External peers are grouped later by name/CIDR; keep one edge per address here.
  return `${e.kind}:${e.ips.join(',')}`;
}

export function edgeKey(e: Pick<ObservedEdge, 'src' | 'dst' | 'dstPort' | 'protocol' | 'verdict'>): string {
  return `${endpointKey(e.src)}>${endpointKey(e.dst)}|${e.protocol}/${e.dstPort}|${e.verdict}`;
}

/** True for a record of the reply direction of a connection (no rule is needed for it). */
function isReplyRecord(f: FlowRecord): boolean {
  if (f.isReply !== undefined) return f.isReply;
  // Without a reply flag: a well-known source port answering an ephemeral destination port.
  return (
    f.dstPort !== undefined &&
    f.srcPort !== undefined &&
    f.dstPort >= EPHEMERAL_PORT_START &&
    f.srcPort < EPHEMERAL_PORT_START
  );
}

function edgeVerdict(f: FlowRecord): EdgeVerdict | undefined {
  if (f.verdict === 'allowed' || f.verdict === 'denied' || f.verdict === 'audit') return f.verdict;
  return undefined;
}

/**
 * Roll FlowRecords up into edges. Records reported by both ends (Hubble ingress and egress
 * verdicts, Calico src and dst reporters) describe the same connections, so an edge's count is the
 * larger of the per-reporter sums, not their total.
 */
export function edgesFromFlows(
  records: Iterable<FlowRecord>,
  inventory?: PolicyInventory,
): { edges: ObservedEdge[]; stats: EdgeBuildStats } {
  const stats: EdgeBuildStats = { records: 0, replies: 0, unsupported: 0, unknownEndpoint: 0, otherVerdict: 0 };
  const acc = new Map<string, { edge: ObservedEdge; byReporter: Map<string, number>; names: Set<string> }>();
  for (const f of records) {
    stats.records++;
    const verdict = edgeVerdict(f);
    if (!verdict) {
      stats.otherVerdict++;
      continue;
    }
    if (isReplyRecord(f)) {
      stats.replies++;
      continue;
    }
    const protocol = f.protocol.toUpperCase();
    if (!EDGE_PROTOCOLS.has(protocol) || f.dstPort === undefined) {
      stats.unsupported++;
      continue;
    }
    const src = edgeEndpointFromFlow(f.src, inventory);
    const dst = edgeEndpointFromFlow(f.dst, inventory);
    if (!src || !dst) {
      stats.unknownEndpoint++;
      continue;
    }
    const partial = { src, dst, dstPort: f.dstPort, protocol: protocol as ObservedEdge['protocol'], verdict };
    const key = edgeKey(partial);
    const last = f.endTime ?? f.time;
    let a = acc.get(key);
    if (!a) {
      a = {
        edge: { ...partial, count: 0, firstSeen: f.time, lastSeen: last },
        byReporter: new Map(),
        names: new Set(),
      };
      acc.set(key, a);
    }
    const reporter = f.reporter ?? f.direction;
    a.byReporter.set(reporter, (a.byReporter.get(reporter) ?? 0) + Math.max(1, f.count));
    if (f.time < a.edge.firstSeen) a.edge.firstSeen = f.time;
    if (last > a.edge.lastSeen) a.edge.lastSeen = last;
    if (!a.edge.src.workload && src.workload) a.edge.src.workload = src.workload;
    if (!a.edge.dst.workload && dst.workload) a.edge.dst.workload = dst.workload;
    if (!a.edge.src.entity && src.entity) a.edge.src.entity = src.entity;
    if (!a.edge.dst.entity && dst.entity) a.edge.dst.entity = dst.entity;
    for (const n of f.dst.names ?? []) a.names.add(n.replace(/\.$/, ''));
  }
  const edges: ObservedEdge[] = [];
  for (const { edge, byReporter, names } of acc.values()) {
    edge.count = Math.max(...byReporter.values());
    if (names.size > 0) edge.dnsNames = [...names].sort();
    edges.push(edge);
  }
  edges.sort((a, b) => (edgeKey(a) < edgeKey(b) ? -1 : edgeKey(a) > edgeKey(b) ? 1 : 0));
  return { edges, stats };
}
