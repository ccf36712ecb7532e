import type {
  EndpointKind,
  FlowEndpoint,
  FlowPolicy,
  PolicyAction,
  Verdict,
  Workload,
} from '../../flow/flow-record.js';

/** Helpers shared by the flows.log mapper and the Goldmane mapper. Plain, allocation-lean code. */

const PROTOCOLS: Readonly<Record<string, string>> = {
  tcp: 'TCP',
  udp: 'UDP',
  icmp: 'ICMPv4',
  icmp4: 'ICMPv4',
  icmpv4: 'ICMPv4',
  icmp6: 'ICMPv6',
  icmpv6: 'ICMPv6',
  sctp: 'SCTP',
  ipip: 'IPIP',
  esp: 'ESP',
  gre: 'GRE',
  udplite: 'UDPLite',
  '1': 'ICMPv4',
  '4': 'IPIP',
  '6': 'TCP',
  '17': 'UDP',
  '47': 'GRE',
  '50': 'ESP',
  '58': 'ICMPv6',
  '132': 'SCTP',
  '136': 'UDPLite',
};

/** Calico's `proto` (`tcp`, `icmp6`, or an IANA number as a string) to the FlowRecord name. */
export function normalizeProtocol(raw: string): string {
  const known = PROTOCOLS[raw] ?? PROTOCOLS[raw.toLowerCase()];
  return known ?? raw.toUpperCase();
}

export function isIcmp(protocol: string): boolean {
  return protocol === 'ICMPv4' || protocol === 'ICMPv6';
}

/**
 * Endpoint type to FlowRecord kind. `net` (Goldmane Network) is `world` for the public internet
 * (`pub`) and `network` for private, non-cluster addresses (`pvt`) or anything else.
 */
export function endpointKind(type: string, nameAggr: string | undefined): EndpointKind {
  switch (type) {
    case 'wep':
    case 'WorkloadEndpoint':
      return 'pod';
    case 'hep':
    case 'HostEndpoint':
      return 'host';
    case 'ns':
    case 'NetworkSet':
      return 'network';
    case 'net':
    case 'Network':
      return nameAggr === 'pub' ? 'world' : 'network';
    default:
      return 'unknown';
  }
}

/** `"-"`, `""`, `"*"`, null and non-strings mean "not known". */
export function known(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '-' && v !== '' && v !== '*' ? v : undefined;
}

/** `["k=v", ...]` (Calico) to `{k: v}`; undefined for no labels. Throws on a non-string entry. */
export function labelsFromList(list: readonly unknown[]): Record<string, string> | undefined {
  if (list.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (let i = 0; i < list.length; i++) {
    const kv = list[i];
    if (typeof kv !== 'string') throw new Error(`labels must be "key=value" strings, got ${JSON.stringify(kv)}`);
    const eq = kv.indexOf('=');
    if (eq < 0) out[kv] = '';
    else out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

/** `source_labels` / `dest_labels` of a flow log: `{labels: [...]}`, null, or (Linseed) a list. */
export function parseLabelsField(v: unknown, field: string): Record<string, string> | undefined {
  if (v === null || v === undefined) return undefined;
  if (Array.isArray(v)) return labelsFromList(v);
  if (typeof v === 'object') {
    const inner = (v as { labels?: unknown }).labels;
    if (inner === null || inner === undefined) return undefined;
    if (Array.isArray(inner)) return labelsFromList(inner);
  }
  throw new Error(`${field} must be {"labels": ["k=v", ...]} or null`);
}

// Kubernetes' SafeEncodeString alphabet (pod-template-hash and similar suffixes).
const RS_HASH_RE = /^[bcdfghjklmnpqrstvwxz2456789]{6,10}$/;
const CRONJOB_JOB_RE = /^(.+)-\d{8,}$/;

/**
 * The owning workload of an aggregated pod name `<generateName>*`, only where sound:
 * - label `job-name=J` and prefix `J-`: Job J, or CronJob `<name>` when J is `<name>-<minutes>`;
 * - label `pod-template-hash=H` and prefix `<name>-H-`: Deployment `<name>`;
 * - label `statefulset.kubernetes.io/pod-name`: StatefulSet `<prefix>`;
 * - label `pod-template-generation` (set only by the DaemonSet controller): DaemonSet `<prefix>`;
 * - no labels at all and prefix `<name>-<hash>-` with a ReplicaSet-style hash: Deployment `<name>`.
 * Otherwise undefined: a bare pod name (no `*`) or an unknown owner is not guessed.
 */
export function deriveWorkload(nameAggr: string, labels: Record<string, string> | undefined): Workload | undefined {
  if (nameAggr.length < 3 || !nameAggr.endsWith('-*')) return undefined;
  const prefix = nameAggr.slice(0, -2);
  if (labels) {
    const job = labels['job-name'];
    if (job !== undefined && job === prefix) {
      const m = CRONJOB_JOB_RE.exec(job);
      return m ? { kind: 'CronJob', name: m[1] } : { kind: 'Job', name: job };
    }
    const hash = labels['pod-template-hash'];
    if (hash !== undefined && prefix.length > hash.length + 1 && prefix.endsWith(`-${hash}`))
      return { kind: 'Deployment', name: prefix.slice(0, -hash.length - 1) };
    if (labels['statefulset.kubernetes.io/pod-name'] !== undefined) return { kind: 'StatefulSet', name: prefix };
    if (labels['pod-template-generation'] !== undefined) return { kind: 'DaemonSet', name: prefix };
    return undefined;
  }
  const dash = prefix.lastIndexOf('-');
  if (dash > 0) {
    const tail = prefix.slice(dash + 1);
    if (RS_HASH_RE.test(tail) && /\d/.test(tail)) return { kind: 'Deployment', name: prefix.slice(0, dash) };
  }
  return undefined;
}

/**
 * One side of a flow. `name` is the real endpoint name (`-` when aggregated away), `nameAggr`
 * the aggregated one (`nginx-86c57db685-*`, a NetworkSet, `pub`/`pvt`).
 */
export function buildEndpoint(
  type: string,
  name: string | undefined,
  nameAggr: string | undefined,
  namespace: string | undefined,
  ip: string | undefined,
  labels: Record<string, string> | undefined,
): FlowEndpoint {
  const kind = endpointKind(type, nameAggr);
  const ep: FlowEndpoint = { kind };
  if (namespace !== undefined) ep.namespace = namespace;
  if (kind === 'pod') {
    if (name !== undefined) ep.pod = name;
    else if (nameAggr !== undefined && !nameAggr.includes('*')) ep.pod = nameAggr; // no generateName: the bare pod name
  }
  if (nameAggr !== undefined) ep.nameAggr = nameAggr;
  if (kind === 'pod' && nameAggr !== undefined) {
    const w = deriveWorkload(nameAggr, labels);
    if (w) ep.workload = w;
  } else if ((type === 'ns' || type === 'NetworkSet') && nameAggr !== undefined) {
    ep.workload = { kind: namespace === undefined ? 'GlobalNetworkSet' : 'NetworkSet', name: nameAggr };
  } else if ((type === 'hep' || type === 'HostEndpoint') && nameAggr !== undefined) {
    ep.workload = { kind: 'HostEndpoint', name: nameAggr };
  }
  if (labels !== undefined) ep.labels = labels;
  if (ip !== undefined) ep.ip = ip;
  return ep;
}

/** Verdict of a Calico flow from its final action and the pending (staged) verdict. */
export function calicoVerdict(
  action: PolicyAction | undefined,
  pendingAction: PolicyAction | undefined,
): { verdict: Verdict; dropReason?: string } {
  if (action === 'deny') return { verdict: 'denied', dropReason: DROP_REASON_DENY };
  if (action === 'allow')
    return pendingAction === 'deny'
      ? { verdict: 'audit', dropReason: DROP_REASON_PENDING_DENY }
      : { verdict: 'allowed' };
  return { verdict: 'other' };
}

/** dropReason of a flow Calico denied by policy (Calico has no code of its own). */
export const DROP_REASON_DENY = 'POLICY_DENY';
/** dropReason of an allowed flow that the pending (staged) policies would deny. */
export const DROP_REASON_PENDING_DENY = 'PENDING_POLICY_DENY';

/** Equal traces (same entries in the same order), ignoring the stage. */
export function sameTrace(a: readonly FlowPolicy[], b: readonly FlowPolicy[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (
      x.kind !== y.kind ||
      x.name !== y.name ||
      x.namespace !== y.namespace ||
      x.tier !== y.tier ||
      x.action !== y.action ||
      x.ruleIndex !== y.ruleIndex
    )
      return false;
  }
  return true;
}

const isoCache = { sec: Number.NaN, iso: '' };
const isoCache2 = { sec: Number.NaN, iso: '' };

/** Date's range (±10^8 days); beyond it toISOString throws an unreadable RangeError. */
const MAX_EPOCH_SECONDS = 8.64e12;

/**
 * Epoch seconds to RFC 3339 (UTC), memoizing the last two values (flows share intervals).
 * Throws a readable Error for a time outside Date's range (the record is then dead-lettered).
 */
export function isoFromSeconds(sec: number): string {
  if (sec === isoCache.sec) return isoCache.iso;
  if (sec === isoCache2.sec) return isoCache2.iso;
  if (!(Math.abs(sec) <= MAX_EPOCH_SECONDS)) throw new Error(`time ${sec} is not a valid epoch second`);
  const iso = new Date(sec * 1000).toISOString();
  isoCache2.sec = isoCache.sec;
  isoCache2.iso = isoCache.iso;
  isoCache.sec = sec;
  isoCache.iso = iso;
  return iso;
}
