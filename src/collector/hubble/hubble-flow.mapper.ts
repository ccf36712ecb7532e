/**
 * Hubble Flow -> FlowRecord (schema 1). Pure functions, no I/O.
 *
 * Accepts the two shapes a Flow arrives in:
 * - protojson as `hubble observe -o json` prints it: proto field names, enum names, uint64 as
 *   strings, Timestamp as an RFC 3339 string, wrappers (`is_reply`) as bare values;
 * - the object @grpc/proto-loader decodes with {keepCase, longs: String, enums: String,
 *   defaults: false, oneofs: true}: Timestamp as {seconds, nanos}, wrappers as {value}, enums
 *   newer than our .proto as numbers.
 *
 * Runs on the hot path (tens of thousands of flows/s): no regexes, no spread copies, label
 * parsing by indexOf/startsWith. The mapping rules are documented in docs/HUBBLE.md.
 */
import { createHash } from 'node:crypto';
import type {
  Direction,
  EndpointKind,
  FlowEndpoint,
  FlowPolicy,
  FlowRecord,
  L7Summary,
  Verdict,
} from '../../flow/flow-record.js';
import { MAX_FIELD_LENGTH } from '../../flow/flow-record.validator.js';
import {
  L7_FLOW_TYPE_NAMES,
  LOST_EVENT_SOURCE_NAMES,
  NODE_STATE_NAMES,
  POLICY_DROP_REASONS,
  POLICY_MATCH_NAMES,
  RESERVED_IDENTITY_NAMES,
  TRAFFIC_DIRECTION_NAMES,
  VERDICT_NAMES,
  FLOW_TYPE_NAMES,
  dropReasonName,
  enumName,
  eventTypeName,
} from './hubble-enums.js';
import { parseFlowTime } from '../../flow/flow-time.js';

/** FlowEndpoint plus what Hubble adds; extra optional fields, the schema-1 fields unchanged. */
export interface HubbleFlowEndpoint extends FlowEndpoint {
  /** Labels of the endpoint's namespace (`io.cilium.k8s.namespace.labels.*`), when the flow carried them. */
  namespaceLabels?: Record<string, string>;
  /** Cilium reserved identities of the endpoint (`reserved:*` without the prefix): world, host, kube-apiserver, ... */
  entities?: string[];
  /** `io.cilium.k8s.policy.serviceaccount`. */
  serviceAccount?: string;
  /** Post-SNAT source address (IP.source_xlated); `ip` stays the pre-translation address. */
  ipXlated?: string;
}

export interface HubbleFlowRecord extends FlowRecord {
  src: HubbleFlowEndpoint;
  dst: HubbleFlowEndpoint;
  /** Policy-verdict events only: how the verdict matched (`none` = no rule matched, i.e. default deny). */
  policyMatch?: string;
}

export interface HubbleMapperOptions {
  /** Cluster name when the flow names none (no `cluster/node` node name, no Endpoint.cluster_name). Default `default`, Cilium's own default. */
  defaultCluster?: string;
  /** Forces this cluster name whatever the flow says (one collector per cluster, flows from a bare agent). */
  cluster?: string;
}

/** A mapped flow with its time in whole epoch milliseconds, for the de-duplicator. */
export interface MappedFlow {
  record: HubbleFlowRecord;
  timeMs: number;
}

export type HubbleResponse =
  | { kind: 'flow'; record: HubbleFlowRecord; timeMs: number }
  | { kind: 'lost_events'; source: string; numEventsLost: number; nodeName?: string; cpu?: number }
  | { kind: 'node_status'; state: string; nodeNames: string[]; message?: string; nodeName?: string };

type Obj = Record<string, unknown>;

const DEFAULT_CLUSTER = 'default';
const MAX_NAMES = 64;
const MAX_POLICIES = 64;

const NS_LABEL_PREFIX = 'io.cilium.k8s.namespace.labels.';
const POLICY_LABEL_PREFIX = 'io.cilium.k8s.policy.';
const SA_LABEL = 'io.cilium.k8s.policy.serviceaccount';
const CLUSTER_LABEL = 'io.cilium.k8s.policy.cluster';
const POD_NS_LABEL = 'io.kubernetes.pod.namespace';
const NS_NAME_LABEL = 'kubernetes.io/metadata.name';

function asObj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

function asStr(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** uint32/int32 arrive as numbers; tolerate numeric strings (hand-written JSON). */
function asNum(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.length > 0) {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function clip(s: string): string {
  return s.length > MAX_FIELD_LENGTH ? s.slice(0, MAX_FIELD_LENGTH) : s;
}

/** A string array kept as is when clean (no copy), else filtered. */
function strList(v: unknown): string[] | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined;
  let clean = v.length <= MAX_NAMES;
  for (let i = 0; clean && i < v.length; i++) {
    const s: unknown = v[i];
    if (typeof s !== 'string' || s.length > MAX_FIELD_LENGTH) clean = false;
  }
  if (clean) return v as string[];
  const out: string[] = [];
  for (const s of v) if (typeof s === 'string' && out.length < MAX_NAMES) out.push(clip(s));
  return out.length > 0 ? out : undefined;
}

function pad(n: number, width: number): string {
  let s = String(n);
  while (s.length < width) s = '0' + s;
  return s;
}

// Flows arrive in time order, thousands per second: the date part is made once per second.
let lastSecond = NaN;
let lastSecondText = '';

/** `yyyy-mm-ddThh:mm:ss` of an epoch second. */
function secondText(seconds: number): string {
  if (seconds !== lastSecond) {
    lastSecondText = new Date(seconds * 1000).toISOString().slice(0, 19);
    lastSecond = seconds;
  }
  return lastSecondText;
}

/**
 * RFC 3339 from a protobuf Timestamp, with 0, 3, 6 or 9 fraction digits exactly as Go's protojson
 * prints it, so a flow read over gRPC and the same flow read from `hubble observe -o json` agree.
 */
export function formatTimestamp(seconds: number, nanos: number): string {
  const base = secondText(seconds);
  if (nanos === 0) return base + 'Z';
  if (nanos % 1_000_000 === 0) return `${base}.${pad(nanos / 1_000_000, 3)}Z`;
  if (nanos % 1000 === 0) return `${base}.${pad(nanos / 1000, 6)}Z`;
  return `${base}.${pad(nanos, 9)}Z`;
}

/** RFC 3339 with exactly 9 fraction digits (checkpoint positions). */
export function formatTimestampNanos(seconds: number, nanos: number): string {
  return `${secondText(seconds)}.${pad(nanos, 9)}Z`;
}

/** Parses RFC 3339 into {seconds, nanos} at full precision; undefined when not a time. */
export function parseTimestamp(s: string): { seconds: number; nanos: number } | undefined {
  const dot = s.indexOf('.', 19);
  let nanos = 0;
  let rest = s;
  if (dot === 19) {
    let end = dot + 1;
    while (end < s.length && s.charCodeAt(end) >= 48 && s.charCodeAt(end) <= 57) end++;
    const digits = s.slice(dot + 1, end);
    if (digits.length === 0 || digits.length > 9) return undefined;
    nanos = Number(digits.padEnd(9, '0'));
    rest = s.slice(0, dot) + s.slice(end);
  }
  const ms = Date.parse(rest);
  if (Number.isNaN(ms) || rest.length < 20) return undefined;
  return { seconds: Math.floor(ms / 1000), nanos };
}

/** Flow time in both shapes -> [RFC 3339, epoch ms]; undefined when absent or unreadable. */
function readTime(v: unknown): [string, number] | undefined {
  if (typeof v === 'string') {
    const ms = parseFlowTime(v);
    return Number.isNaN(ms) || v.length > 64 ? undefined : [v, ms];
  }
  const o = asObj(v);
  if (!o) return undefined;
  const seconds = asNum(o.seconds) ?? 0;
  const nanos = asNum(o.nanos) ?? 0;
  if (!Number.isFinite(seconds) || nanos < 0 || nanos > 999_999_999) return undefined;
  // whole ms, as Date.parse gives for the protojson string
  return [formatTimestamp(seconds, nanos), seconds * 1000 + Math.floor(nanos / 1e6)];
}

/** Timestamp {seconds, nanos} (proto-loader) or RFC 3339 (protojson) -> seconds/nanos. */
export function timestampParts(v: unknown): { seconds: number; nanos: number } | undefined {
  if (typeof v === 'string') return parseTimestamp(v);
  const o = asObj(v);
  if (!o) return undefined;
  const seconds = asNum(o.seconds) ?? 0;
  const nanos = asNum(o.nanos) ?? 0;
  return Number.isFinite(seconds) ? { seconds, nanos } : undefined;
}

function readBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  const o = asObj(v);
  // A present BoolValue wrapper without `value` is false (proto3 omits the default).
  if (o) return o.value === true;
  return undefined;
}

interface LabelParse {
  labels?: Record<string, string>;
  namespaceLabels?: Record<string, string>;
  entities?: string[];
  serviceAccount?: string;
  podNamespace?: string;
  /** `io.cilium.k8s.policy.cluster`: the Cilium cluster name, same source as Endpoint.cluster_name. */
  cluster?: string;
  hasK8s: boolean;
}

/**
 * Splits Cilium's `source:key=value` labels. `reserved:*` -> entities; `k8s:` keys
 * `io.cilium.k8s.namespace.labels.*` -> namespace labels; other `io.cilium.k8s.policy.*` and
 * `io.kubernetes.pod.namespace` are Cilium bookkeeping, not pod labels (a Kubernetes selector
 * never sees them), so they are dropped; `cidr:`/`fqdn:` identity labels are dropped. Any other
 * source prefix (container:, unspec:, ...) is stripped; `k8s:` wins a key clash.
 */
/**
 * Parsed label lists by Cilium security identity. An identity stands for one label set, so the
 * same few hundred lists repeat across millions of flows; the cached entry is used only when the
 * list is element-for-element the same (identities are per cluster, and a list can change when
 * an identity is re-allocated). Parsed objects are shared between records: the only write to one
 * (filling in the namespace-name label) is the same for every record of that identity.
 */
const labelCache = new Map<number, { list: unknown[]; parsed: LabelParse }>();
const LABEL_CACHE_MAX = 20_000;

function sameList(a: unknown[], b: unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function parseLabelsCached(list: unknown[], identity: number | undefined): LabelParse {
  // Reserved and local (CIDR) identities are not one label set each; only cache cluster identities.
  if (identity === undefined || identity < 256 || identity >= 16_777_216) return parseLabels(list);
  const hit = labelCache.get(identity);
  if (hit && sameList(hit.list, list)) return hit.parsed;
  const parsed = parseLabels(list);
  if (labelCache.size >= LABEL_CACHE_MAX) labelCache.clear();
  labelCache.set(identity, { list, parsed });
  return parsed;
}

function parseLabels(list: unknown[]): LabelParse {
  const r: LabelParse = { hasK8s: false };
  for (let i = 0; i < list.length; i++) {
    const raw: unknown = list[i];
    if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_FIELD_LENGTH) continue;
    const colon = raw.indexOf(':');
    const eq = raw.indexOf('=');
    let start = 0;
    let k8s = false;
    if (colon > 0 && (eq < 0 || colon < eq)) {
      start = colon + 1;
      if (colon === 3 && raw.startsWith('k8s')) k8s = true;
      else if (colon === 8 && raw.startsWith('reserved')) {
        (r.entities ??= []).push(eq < 0 ? raw.slice(start) : raw.slice(start, eq));
        continue;
      } else if (colon === 4 && (raw.startsWith('cidr') || raw.startsWith('fqdn'))) continue;
    }
    if (k8s) r.hasK8s = true;
    if (raw.startsWith(NS_LABEL_PREFIX, start)) {
      if (eq < 0) continue;
      (r.namespaceLabels ??= {})[raw.slice(start + NS_LABEL_PREFIX.length, eq)] = raw.slice(eq + 1);
      continue;
    }
    if (raw.startsWith(POLICY_LABEL_PREFIX, start)) {
      if (eq > 0 && eq - start === SA_LABEL.length && raw.startsWith(SA_LABEL, start))
        r.serviceAccount = raw.slice(eq + 1);
      else if (eq > 0 && eq - start === CLUSTER_LABEL.length && raw.startsWith(CLUSTER_LABEL, start))
        r.cluster = raw.slice(eq + 1);
      continue;
    }
    if (eq - start === POD_NS_LABEL.length && raw.startsWith(POD_NS_LABEL, start)) {
      r.podNamespace = raw.slice(eq + 1);
      continue;
    }
    const key = eq < 0 ? raw.slice(start) : raw.slice(start, eq);
    if (key.length === 0) continue;
    const labels = (r.labels ??= {});
    if (k8s || labels[key] === undefined) labels[key] = eq < 0 ? '' : raw.slice(eq + 1);
  }
  return r;
}

/** Endpoint kind from reserved identities; see docs/HUBBLE.md for the table and reasons. */
function kindFromEntities(entities: string[]): EndpointKind | undefined {
  let kind: EndpointKind | undefined;
  for (const e of entities) {
    switch (e) {
      case 'host':
      case 'remote-node':
        return 'host'; // kube-apiserver on a node carries host/remote-node too: the node wins
      case 'world':
      case 'world-ipv4':
      case 'world-ipv6':
      case 'kube-apiserver': // alone: an address outside the nodes (managed control plane)
        kind = 'world';
        break;
      case 'health':
      case 'ingress':
      case 'encrypted-overlay':
        kind ??= 'host';
        break;
      case 'init':
      case 'unmanaged':
        kind ??= 'pod';
        break;
      default:
        kind ??= 'unknown';
    }
  }
  return kind;
}

function kindFromIdentity(id: number): EndpointKind {
  if (id <= 0) return 'unknown';
  if (id < RESERVED_IDENTITY_NAMES.length) {
    const k = kindFromEntities([RESERVED_IDENTITY_NAMES[id]]);
    return k ?? 'unknown';
  }
  if (id < 256) return 'unknown'; // reserved range, unassigned
  // Bit 24 set: node-local CIDR/FQDN identities, i.e. addresses outside the cluster.
  return id >= 0x1000000 ? 'world' : 'pod';
}

function mapEndpoint(
  v: unknown,
  ip: string | undefined,
  names: unknown,
  service: unknown,
): { ep: HubbleFlowEndpoint; clusterName?: string } {
  const e = asObj(v);
  const ep: HubbleFlowEndpoint = {
    kind: 'unknown',
    namespace: undefined,
    pod: undefined,
    workload: undefined,
    labels: undefined,
    ip,
    names: strList(names),
    identity: undefined,
    service: undefined,
  };
  const svc = asObj(service);
  if (svc) {
    const name = asStr(svc.name);
    if (name) ep.service = { namespace: asStr(svc.namespace), name };
  }
  if (!e) return { ep };
  const identity = asNum(e.identity);
  if (identity !== undefined && Number.isInteger(identity) && identity >= 0 && identity <= 0xffffffff)
    ep.identity = identity;
  ep.namespace = asStr(e.namespace);
  const pod = asStr(e.pod_name);
  ep.pod = pod;
  const wls = e.workloads;
  if (Array.isArray(wls) && wls.length > 0) {
    const w = asObj(wls[0]);
    const name = w && asStr(w.name);
    const kind = w && asStr(w.kind);
    if (name && kind) ep.workload = { kind, name };
  }
  let parsed: LabelParse | undefined;
  if (Array.isArray(e.labels) && e.labels.length > 0) {
    parsed = parseLabelsCached(e.labels, ep.identity);
    ep.labels = parsed.labels;
    if (parsed.entities) ep.entities = parsed.entities;
    if (parsed.serviceAccount) ep.serviceAccount = parsed.serviceAccount;
    ep.namespace ??= parsed.podNamespace;
    if (parsed.namespaceLabels) {
      // Kubernetes sets this label on every namespace (1.21+); older Cilium did not export it.
      if (ep.namespace && parsed.namespaceLabels[NS_NAME_LABEL] === undefined)
        parsed.namespaceLabels[NS_NAME_LABEL] = ep.namespace;
      ep.namespaceLabels = parsed.namespaceLabels;
    }
  }
  if (pod) ep.kind = 'pod';
  else if (parsed?.entities) ep.kind = kindFromEntities(parsed.entities) ?? 'unknown';
  else if (parsed?.hasK8s || ep.workload) ep.kind = 'pod';
  else if (ep.identity !== undefined) ep.kind = kindFromIdentity(ep.identity);
  return { ep, clusterName: asStr(e.cluster_name) ?? parsed?.cluster };
}

function labelValue(labels: unknown, key: string): string | undefined {
  if (!Array.isArray(labels)) return undefined;
  for (const l of labels) {
    if (typeof l !== 'string') continue;
    const i = l.indexOf(key);
    // key must start the label or follow its `source:` prefix, and be followed by `=`
    if (i >= 0 && (i === 0 || l.charCodeAt(i - 1) === 58) && l.charCodeAt(i + key.length) === 61)
      return l.slice(i + key.length + 1);
  }
  return undefined;
}

function pushPolicies(out: FlowPolicy[], list: unknown, action: 'allow' | 'deny'): void {
  if (!Array.isArray(list)) return;
  for (const item of list) {
    if (out.length >= MAX_POLICIES) return;
    const p = asObj(item);
    if (!p) continue;
    const labels = p.labels;
    const name = asStr(p.name) ?? labelValue(labels, 'io.cilium.k8s.policy.name');
    if (!name) continue; // nothing to attribute to
    out.push({
      kind: asStr(p.kind) ?? labelValue(labels, 'io.cilium.k8s.policy.derived-from') ?? 'Unknown',
      namespace: asStr(p.namespace) ?? labelValue(labels, 'io.cilium.k8s.policy.namespace'),
      name: clip(name),
      action,
      stage: 'enforced',
    });
  }
}

function mapL7(l7: Obj, summary: unknown): L7Summary {
  const flowType = enumName(l7.type, L7_FLOW_TYPE_NAMES);
  const out: L7Summary = {
    type: 'unknown',
    flowType: flowType && flowType !== 'UNKNOWN_L7_TYPE' ? flowType.toLowerCase() : undefined,
    summary: typeof summary === 'string' && summary.length > 0 ? clip(summary) : undefined,
  };
  const dns = asObj(l7.dns);
  if (dns) {
    out.type = 'dns';
    const q = asStr(dns.query);
    if (q) out.dnsQuery = clip(q);
    return out;
  }
  const http = asObj(l7.http);
  if (http) {
    out.type = 'http';
    const m = asStr(http.method);
    const u = asStr(http.url);
    const c = asNum(http.code);
    if (m) out.httpMethod = clip(m);
    if (u) out.httpUrl = clip(u);
    if (c) out.httpCode = c;
    return out;
  }
  if (asObj(l7.kafka)) out.type = 'kafka';
  return out;
}

function splitNode(nodeName: string | undefined): [string | undefined, string | undefined] {
  if (!nodeName) return [undefined, undefined];
  const slash = nodeName.indexOf('/');
  if (slash < 0) return [undefined, nodeName];
  return [slash > 0 ? nodeName.slice(0, slash) : undefined, nodeName.slice(slash + 1) || undefined];
}

/** Stable id for flows without a uuid (Cilium < 1.12): the same flow read twice gets the same id. */
function fallbackId(f: Obj, time: string, node: string | undefined, r: HubbleFlowRecord): string {
  const et = asObj(f.event_type);
  const key = [
    time,
    node ?? '',
    String(f.verdict ?? ''),
    et ? `${String(et.type ?? '')}.${String(et.sub_type ?? '')}` : '',
    String(f.trace_observation_point ?? ''),
    r.src.ip ?? '',
    r.srcPort ?? '',
    r.dst.ip ?? '',
    r.dstPort ?? '',
    r.protocol,
    r.icmpType ?? '',
    r.dropReason ?? '',
    r.direction,
    r.isReply === undefined ? '' : String(r.isReply),
    r.l7?.summary ?? '',
  ].join('|');
  return createHash('sha1').update(key).digest('hex');
}

/**
 * Maps one Hubble Flow to a FlowRecord plus its time in ms. `responseNode`/`responseTime` are the
 * GetFlowsResponse's own node_name/time, used when the flow lacks them. Throws on a flow that
 * cannot become a valid record (not an object, no readable time).
 */
export function mapHubbleFlowTimed(
  flow: unknown,
  options: HubbleMapperOptions = {},
  responseNode?: unknown,
  responseTime?: unknown,
): MappedFlow {
  const f = asObj(flow);
  if (!f) throw new Error('flow is not an object');
  const t = readTime(f.time) ?? readTime(responseTime);
  if (!t) throw new Error(`flow has no valid time (got ${JSON.stringify(f.time ?? null)?.slice(0, 64)})`);

  const [nodeCluster, node] = splitNode(asStr(f.node_name) ?? asStr(responseNode));

  const ipObj = asObj(f.IP);
  const srcIp = ipObj ? asStr(ipObj.source) : undefined;
  const dstIp = ipObj ? asStr(ipObj.destination) : undefined;
  const src = mapEndpoint(f.source, srcIp, f.source_names, f.source_service);
  const dst = mapEndpoint(f.destination, dstIp, f.destination_names, f.destination_service);
  const xlated = ipObj ? asStr(ipObj.source_xlated) : undefined;
  if (xlated) src.ep.ipXlated = xlated;

  const dirName = enumName(f.traffic_direction, TRAFFIC_DIRECTION_NAMES);
  const direction: Direction = dirName === 'EGRESS' ? 'egress' : dirName === 'INGRESS' ? 'ingress' : 'unknown';

  // The observing node's cluster: Relay's `cluster/node` prefix, else the local endpoint's
  // cluster_name or io.cilium.k8s.policy.cluster label (source on egress, destination on
  // ingress), else the configured default. `options.cluster` overrides all.
  const cluster =
    options.cluster ??
    nodeCluster ??
    (direction === 'ingress' ? (dst.clusterName ?? src.clusterName) : (src.clusterName ?? dst.clusterName)) ??
    options.defaultCluster ??
    DEFAULT_CLUSTER;

  const et = asObj(f.event_type);
  const etType = et ? asNum(et.type) : undefined;
  const etSub = et ? asNum(et.sub_type) : undefined;
  const flowType = enumName(f.Type, FLOW_TYPE_NAMES);
  const eventType = etType !== undefined ? eventTypeName(etType) : flowType === 'L7' ? 'l7' : undefined;

  // Drop reason: the enum, else the deprecated raw code, else a drop event's sub_type.
  let dropReason: string | undefined;
  const desc = f.drop_reason_desc;
  if (typeof desc === 'string') dropReason = desc === 'DROP_REASON_UNKNOWN' || desc.length === 0 ? undefined : desc;
  else if (typeof desc === 'number' && desc > 0) dropReason = dropReasonName(desc);
  if (dropReason === undefined) {
    const code = asNum(f.drop_reason);
    if (code) dropReason = dropReasonName(code);
    else if (etType === 1 && etSub) dropReason = dropReasonName(etSub);
  }

  const verdictName = enumName(f.verdict, VERDICT_NAMES);
  let verdict: Verdict;
  switch (verdictName) {
    case 'FORWARDED':
    case 'REDIRECTED':
    case 'TRANSLATED':
    case 'TRACED':
      verdict = 'allowed';
      break;
    case 'DROPPED':
      if (dropReason !== undefined) verdict = POLICY_DROP_REASONS.has(dropReason) ? 'denied' : 'dropped';
      // Envoy (L7 policy) denials carry no drop reason.
      else verdict = flowType === 'L7' || etType === 129 ? 'denied' : 'dropped';
      break;
    case 'AUDIT':
      verdict = 'audit';
      break;
    default:
      verdict = 'other';
  }

  let protocol = 'unknown';
  let srcPort: number | undefined;
  let dstPort: number | undefined;
  let icmpType: number | undefined;
  let icmpCode: number | undefined;
  const l4 = asObj(f.l4);
  if (l4) {
    let p: Obj | undefined;
    if ((p = asObj(l4.TCP))) protocol = 'TCP';
    else if ((p = asObj(l4.UDP))) protocol = 'UDP';
    else if ((p = asObj(l4.SCTP))) protocol = 'SCTP';
    if (p) {
      srcPort = asNum(p.source_port);
      dstPort = asNum(p.destination_port);
    } else {
      if ((p = asObj(l4.ICMPv4))) protocol = 'ICMPv4';
      else if ((p = asObj(l4.ICMPv6))) protocol = 'ICMPv6';
      if (p) {
        // proto3 omits zero: an absent type is echo-reply (0), not unknown
        icmpType = asNum(p.type) ?? 0;
        icmpCode = asNum(p.code) ?? 0;
      } else if (asObj(l4.VRRP)) protocol = 'VRRP';
      else if (asObj(l4.IGMP)) protocol = 'IGMP';
    }
  }

  const policies: FlowPolicy[] = [];
  pushPolicies(policies, f.ingress_denied_by, 'deny');
  pushPolicies(policies, f.egress_denied_by, 'deny');
  pushPolicies(policies, f.ingress_allowed_by, 'allow');
  pushPolicies(policies, f.egress_allowed_by, 'allow');

  const l7Obj = asObj(f.l7);
  let isReply = readBool(f.is_reply);
  if (isReply === undefined && f.reply === true) isReply = true;

  const record: HubbleFlowRecord = {
    schema: 1,
    id: '',
    source: 'hubble',
    cluster,
    node,
    time: t[0],
    verdict,
    dropReason,
    direction,
    reporter: direction === 'egress' ? 'src' : direction === 'ingress' ? 'dst' : undefined,
    src: src.ep,
    dst: dst.ep,
    protocol,
    srcPort,
    dstPort,
    icmpType,
    icmpCode,
    l7: l7Obj ? mapL7(l7Obj, f.Summary) : undefined,
    count: 1,
    policies,
    eventType,
    isReply,
    policyMatch:
      etType === 5 ? (POLICY_MATCH_NAMES[asNum(f.policy_match_type) ?? 0] ?? String(f.policy_match_type)) : undefined,
  };
  const uuid = asStr(f.uuid);
  record.id = uuid && uuid.length <= MAX_FIELD_LENGTH ? uuid : fallbackId(f, t[0], node, record);
  return { record, timeMs: t[1] };
}

/** Maps one Hubble Flow (protojson or proto-loader object) to a FlowRecord. */
export function mapHubbleFlow(flow: unknown, options: HubbleMapperOptions = {}): HubbleFlowRecord {
  return mapHubbleFlowTimed(flow, options).record;
}

function looksLikeBareFlow(o: Obj): boolean {
  return (
    o.verdict !== undefined ||
    o.IP !== undefined ||
    o.l4 !== undefined ||
    o.event_type !== undefined ||
    o.source !== undefined
  );
}

/**
 * One GetFlowsResponse (gRPC object or a `hubble observe -o json` line already parsed; a bare
 * Flow is accepted too) -> a flow record or a lost-events / node-status notice. Throws an Error
 * naming what is wrong when the value is none of these.
 */
export function mapGetFlowsResponse(resp: unknown, options: HubbleMapperOptions = {}): HubbleResponse {
  const r = asObj(resp);
  if (!r) throw new Error('expected a JSON object (a GetFlowsResponse or a Flow)');
  const flow = r.flow;
  if (flow !== undefined && flow !== null) {
    const m = mapHubbleFlowTimed(flow, options, r.node_name, r.time);
    return { kind: 'flow', record: m.record, timeMs: m.timeMs };
  }
  const lost = asObj(r.lost_events);
  if (lost) {
    const cpu = lost.cpu;
    return {
      kind: 'lost_events',
      source: enumName(lost.source, LOST_EVENT_SOURCE_NAMES) ?? 'UNKNOWN_LOST_EVENT_SOURCE',
      numEventsLost: asNum(lost.num_events_lost) ?? 0,
      nodeName: asStr(r.node_name),
      cpu: typeof cpu === 'number' ? cpu : asNum(asObj(cpu)?.value),
    };
  }
  const ns = asObj(r.node_status);
  if (ns) {
    return {
      kind: 'node_status',
      state: enumName(ns.state_change, NODE_STATE_NAMES) ?? 'UNKNOWN_NODE_STATE',
      nodeNames: strList(ns.node_names) ?? [],
      message: asStr(ns.message),
      nodeName: asStr(r.node_name),
    };
  }
  if (looksLikeBareFlow(r)) {
    const m = mapHubbleFlowTimed(r, options);
    return { kind: 'flow', record: m.record, timeMs: m.timeMs };
  }
  const keys = Object.keys(r).slice(0, 5).join(', ');
  throw new Error(
    `not a Hubble GetFlowsResponse: expected "flow", "lost_events" or "node_status" (keys: ${keys || 'none'})`,
  );
}
