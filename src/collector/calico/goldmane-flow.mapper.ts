import { createHash } from 'node:crypto';
import type {
  FlowEndpoint,
  FlowPolicy,
  FlowRecord,
  PolicyAction,
  PolicyStage,
  Reporter,
} from '../../flow/flow-record.js';
import {
  buildEndpoint,
  calicoVerdict,
  isIcmp,
  isoFromSeconds,
  known,
  labelsFromList,
  normalizeProtocol,
  sameTrace,
} from './calico-common.js';
import { DEFAULT_CLUSTER, SKIP_STALE_DENY, type CalicoMapResult } from './calico-flow-log.mapper.js';

/**
 * Goldmane `Flow` messages (Calico OSS >= 3.30) to FlowRecord schema 1. Accepts the object that
 * @grpc/proto-loader decodes (`keepCase`, enums as names, int64 as numbers) and the Go
 * `encoding/json` form of the emitter (enums as integers, zero values omitted), and the PolicyHit
 * objects of whisker-backend (`"kind": "EndOfTier"`, `"action": "Deny"`).
 */

export type EnumValue = string | number;
export type Int64 = number | string;

export interface GoldmanePolicyHit {
  kind?: EnumValue;
  namespace?: string;
  name?: string;
  tier?: string;
  action?: EnumValue;
  policy_index?: Int64;
  rule_index?: Int64;
  trigger?: GoldmanePolicyHit | null;
}

export interface GoldmaneFlowKey {
  source_name?: string;
  source_namespace?: string;
  source_type?: EnumValue;
  dest_name?: string;
  dest_namespace?: string;
  dest_type?: EnumValue;
  dest_port?: Int64;
  dest_service_name?: string;
  dest_service_namespace?: string;
  dest_service_port_name?: string;
  dest_service_port?: Int64;
  proto?: string;
  reporter?: EnumValue;
  action?: EnumValue;
  policies?: { enforced_policies?: GoldmanePolicyHit[] | null; pending_policies?: GoldmanePolicyHit[] | null } | null;
}

export interface GoldmaneFlow {
  Key?: GoldmaneFlowKey | null;
  start_time?: Int64;
  end_time?: Int64;
  source_labels?: string[] | null;
  dest_labels?: string[] | null;
  packets_in?: Int64;
  packets_out?: Int64;
  bytes_in?: Int64;
  bytes_out?: Int64;
  num_connections_started?: Int64;
  num_connections_completed?: Int64;
  num_connections_live?: Int64;
}

export class GoldmaneFlowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GoldmaneFlowError';
  }
}

const POLICY_KINDS = [
  'KindUnspecified',
  'CalicoNetworkPolicy',
  'GlobalNetworkPolicy',
  'StagedNetworkPolicy',
  'StagedGlobalNetworkPolicy',
  'StagedKubernetesNetworkPolicy',
  'NetworkPolicy',
  'AdminNetworkPolicy',
  'BaselineAdminNetworkPolicy',
  'Profile',
  'EndOfTier',
  'ClusterNetworkPolicy',
] as const;
const ACTIONS = ['ActionUnspecified', 'Allow', 'Deny', 'Pass'] as const;
const REPORTERS = ['ReporterUnspecified', 'Src', 'Dst'] as const;
const ENDPOINT_TYPES = [
  'EndpointTypeUnspecified',
  'WorkloadEndpoint',
  'HostEndpoint',
  'NetworkSet',
  'Network',
] as const;

function enumName(v: EnumValue | undefined, names: readonly string[]): string {
  if (v === undefined || v === null) return names[0];
  if (typeof v === 'number') return names[v] ?? String(v);
  return v;
}

function int(v: Int64 | undefined | null, field: string): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isSafeInteger(n)) throw new GoldmaneFlowError(`${field} must be an integer, got ${JSON.stringify(v)}`);
  return n;
}

function toAction(v: EnumValue | undefined): PolicyAction | undefined {
  switch (enumName(v, ACTIONS)) {
    case 'Allow':
    case 'allow':
      return 'allow';
    case 'Deny':
    case 'deny':
      return 'deny';
    case 'Pass':
    case 'pass':
      return 'pass';
    default:
      return undefined;
  }
}

const TIERED_KINDS = new Set([
  'CalicoNetworkPolicy',
  'GlobalNetworkPolicy',
  'StagedNetworkPolicy',
  'StagedGlobalNetworkPolicy',
]);

/** One PolicyHit to a FlowPolicy; EndOfTier hits name their trigger policy with ruleIndex -1. */
export function mapGoldmanePolicyHit(hit: GoldmanePolicyHit, stage: PolicyStage): FlowPolicy {
  const action = toAction(hit.action);
  if (action === undefined)
    throw new GoldmaneFlowError(`policy hit without an action: ${JSON.stringify(hit).slice(0, 200)}`);
  let kind = enumName(hit.kind, POLICY_KINDS);
  let name = hit.name ?? '';
  let namespace = hit.namespace;
  let tier = hit.tier;
  let ruleIndex: number | undefined = int(hit.rule_index, 'rule_index');
  if (kind === 'EndOfTier') {
    ruleIndex = -1;
    const t = hit.trigger;
    if (t) {
      kind = enumName(t.kind, POLICY_KINDS);
      name = t.name ?? '';
      namespace = t.namespace;
      tier = tier || t.tier;
    } else name = '__NO_MATCH__';
  }
  if (TIERED_KINDS.has(kind) && tier && name.startsWith(`${tier}.`) && name.length > tier.length + 1)
    name = name.slice(tier.length + 1);
  else if ((kind === 'NetworkPolicy' || kind === 'StagedKubernetesNetworkPolicy') && name.startsWith('knp.default.'))
    name = name.slice('knp.default.'.length);
  if (!name) throw new GoldmaneFlowError(`policy hit without a name: ${JSON.stringify(hit).slice(0, 200)}`);
  const p: FlowPolicy = { kind, name, action, stage };
  if (namespace && namespace !== '-') p.namespace = namespace;
  if (tier && kind !== 'Profile' && tier !== '__PROFILE__') p.tier = tier;
  if (ruleIndex >= -1) p.ruleIndex = ruleIndex;
  return p;
}

/** A list of hits sorted by policy_index, mapped; returns the verdict entry's action too. */
export function mapGoldmanePolicyHits(
  hits: readonly GoldmanePolicyHit[] | null | undefined,
  stage: PolicyStage,
): { policies: FlowPolicy[]; verdictAction?: PolicyAction } {
  if (!hits || hits.length === 0) return { policies: [] };
  const order = hits.map((h, i) => ({ i, idx: int(h.policy_index, 'policy_index') }));
  order.sort((a, b) => a.idx - b.idx || a.i - b.i);
  const policies = order.map((o) => mapGoldmanePolicyHit(hits[o.i], stage));
  return { policies, verdictAction: policies[policies.length - 1].action };
}

function endpointOf(
  type: EnumValue | undefined,
  name: string | undefined,
  namespace: string | undefined,
  labels: string[] | null | undefined,
): FlowEndpoint {
  // Goldmane names are aggregated names (pod prefix `*`, NetworkSet, HEP, pub/pvt): no pod names.
  return buildEndpoint(
    enumName(type, ENDPOINT_TYPES),
    undefined,
    known(name),
    known(namespace),
    undefined,
    labels && labels.length > 0 ? labelsFromList(labels) : undefined,
  );
}

export interface GoldmaneMapperOptions {
  cluster?: string;
}

/** Maps Goldmane flows; stateless. */
export class GoldmaneFlowMapper {
  private readonly cluster: string;

  constructor(options: GoldmaneMapperOptions = {}) {
    this.cluster = options.cluster || DEFAULT_CLUSTER;
  }

  map(flow: GoldmaneFlow): CalicoMapResult {
    const key = flow.Key;
    if (!key) throw new GoldmaneFlowError('flow has no Key');
    const action = toAction(key.action);
    const packetsIn = int(flow.packets_in, 'packets_in');
    const packetsOut = int(flow.packets_out, 'packets_out');
    if (action === 'deny' && packetsIn === 0 && packetsOut === 0) return { skipped: SKIP_STALE_DENY };
    const start = int(flow.start_time, 'start_time');
    const end = int(flow.end_time, 'end_time');
    if (start <= 0) throw new GoldmaneFlowError('flow has no start_time');

    const enforced = mapGoldmanePolicyHits(key.policies?.enforced_policies, 'enforced');
    const pending = mapGoldmanePolicyHits(key.policies?.pending_policies, 'pending');
    const policies = enforced.policies;
    if (!sameTrace(enforced.policies, pending.policies)) for (const p of pending.policies) policies.push(p);
    const { verdict, dropReason } = calicoVerdict(action, pending.verdictAction);

    const rep = enumName(key.reporter, REPORTERS);
    const reporter: Reporter | undefined =
      rep === 'Src' || rep === 'src' ? 'src' : rep === 'Dst' || rep === 'dst' ? 'dst' : undefined;
    const protocol = key.proto ? normalizeProtocol(key.proto) : 'UNKNOWN';
    const src = endpointOf(key.source_type, key.source_name, key.source_namespace, flow.source_labels);
    const dst = endpointOf(key.dest_type, key.dest_name, key.dest_namespace, flow.dest_labels);
    const svcName = known(key.dest_service_name);
    if (svcName !== undefined) {
      const svc: NonNullable<FlowEndpoint['service']> = { name: svcName };
      const ns = known(key.dest_service_namespace);
      if (ns !== undefined) svc.namespace = ns;
      const port = int(key.dest_service_port, 'dest_service_port');
      if (port > 0 && port <= 65535) svc.port = port;
      dst.service = svc;
    }
    const live = int(flow.num_connections_live, 'num_connections_live');
    const started = int(flow.num_connections_started, 'num_connections_started');
    const rec: FlowRecord = {
      schema: 1,
      id: createHash('sha1').update(this.cluster).update('\n').update(JSON.stringify(flow)).digest('hex'),
      source: 'calico',
      cluster: this.cluster,
      time: isoFromSeconds(start),
      verdict,
      direction: reporter === 'src' ? 'egress' : reporter === 'dst' ? 'ingress' : 'unknown',
      src,
      dst,
      protocol,
      count: live > 0 ? live : started > 0 ? started : 1,
      packets: packetsIn + packetsOut,
      bytes: int(flow.bytes_in, 'bytes_in') + int(flow.bytes_out, 'bytes_out'),
      policies,
    };
    if (end >= start) rec.endTime = isoFromSeconds(end);
    if (dropReason !== undefined) rec.dropReason = dropReason;
    if (reporter !== undefined) rec.reporter = reporter;
    const dp = int(key.dest_port, 'dest_port');
    if (!isIcmp(protocol) && dp > 0 && dp <= 65535) rec.dstPort = dp;
    return { record: rec };
  }
}
