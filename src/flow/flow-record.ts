/**
 * FlowRecord, schema 1: the one normalized shape for Hubble and Calico flows.
 *
 * The field names are a contract (see docs/FLOW-RECORD.md and ../shared/DESIGN.md): tools outside
 * the service read `dropscope normalize` output. Add fields freely; renaming one needs a schema
 * version bump. Pure data, no framework types, so records cross the bus as plain JSON.
 */

export const FLOW_SCHEMA_VERSION = 1;

export const FLOW_SOURCES = ['hubble', 'calico'] as const;
export type FlowSource = (typeof FLOW_SOURCES)[number];

/** allowed | denied (by policy) | dropped (other reasons) | audit (would be denied) | other */
export const VERDICTS = ['allowed', 'denied', 'dropped', 'audit', 'other'] as const;
export type Verdict = (typeof VERDICTS)[number];

export const DIRECTIONS = ['ingress', 'egress', 'unknown'] as const;
export type Direction = (typeof DIRECTIONS)[number];

export const REPORTERS = ['src', 'dst'] as const;
export type Reporter = (typeof REPORTERS)[number];

export const ENDPOINT_KINDS = ['pod', 'host', 'world', 'service', 'network', 'unknown'] as const;
export type EndpointKind = (typeof ENDPOINT_KINDS)[number];

export const POLICY_ACTIONS = ['allow', 'deny', 'pass'] as const;
export type PolicyAction = (typeof POLICY_ACTIONS)[number];

export const POLICY_STAGES = ['enforced', 'pending'] as const;
export type PolicyStage = (typeof POLICY_STAGES)[number];

/** Known policy kinds; other strings are accepted (sources add kinds over time). */
export type PolicyKind =
  | 'NetworkPolicy'
  | 'CiliumNetworkPolicy'
  | 'CiliumClusterwideNetworkPolicy'
  | 'CalicoNetworkPolicy'
  | 'GlobalNetworkPolicy'
  | 'StagedNetworkPolicy'
  | 'StagedGlobalNetworkPolicy'
  | 'StagedKubernetesNetworkPolicy'
  | 'AdminNetworkPolicy'
  | 'BaselineAdminNetworkPolicy'
  | 'ClusterNetworkPolicy'
  | 'Profile'
  | 'EndOfTier'
  | (string & {});

export interface Workload {
  kind: string;
  name: string;
}

export interface FlowEndpoint {
  kind: EndpointKind;
  namespace?: string;
  /** The real pod name. Absent when the source aggregated names away (Calico `-`). */
  pod?: string;
  /** Calico's aggregated name (`coredns-565d847f94-*`) when the pod name was aggregated. */
  nameAggr?: string;
  workload?: Workload;
  /** `{key: value}`; Cilium source prefixes (`k8s:`) stripped, `reserved:*` mapped to `kind`. */
  labels?: Record<string, string>;
  ip?: string;
  /** DNS names known for this endpoint. */
  names?: string[];
  /** Cilium security identity. */
  identity?: number;
  /** Labels of the endpoint's namespace where the source knows them (Cilium); absent = unknown. */
  namespaceLabels?: Record<string, string>;
  /** Cilium `reserved:*` identities of the endpoint (world, host, kube-apiserver, ...). */
  entities?: string[];
  serviceAccount?: string;
  /** Post-SNAT source address when the source reports one (`ip` is then pre-translation). */
  ipXlated?: string;
  /** Kubernetes service the flow was addressed to (namespace/name), where known. */
  service?: { namespace?: string; name: string; port?: number };
}

export interface FlowPolicy {
  kind: PolicyKind;
  namespace?: string;
  /** The policy's own name, without tier or kind prefixes. */
  name: string;
  tier?: string;
  action: PolicyAction;
  /** Rule index within the policy; -1 for the end of a tier (no rule matched). */
  ruleIndex?: number;
  stage: PolicyStage;
}

export interface L7Summary {
  type: 'dns' | 'http' | 'kafka' | 'unknown';
  /** request | response | sample */
  flowType?: string;
  summary?: string;
  dnsQuery?: string;
  httpMethod?: string;
  httpUrl?: string;
  httpCode?: number;
}

export interface FlowRecord {
  schema?: 1;
  /** Stable: Hubble uuid, or a hash of the source record. */
  id: string;
  source: FlowSource;
  cluster: string;
  node?: string;
  /** RFC 3339 with the source's precision. */
  time: string;
  /** For aggregated Calico records: end of the aggregation interval. */
  endTime?: string;
  verdict: Verdict;
  /** The source's own code, e.g. POLICY_DENIED, POLICY_DENY. */
  dropReason?: string;
  direction: Direction;
  reporter?: Reporter;
  src: FlowEndpoint;
  dst: FlowEndpoint;
  protocol: string;
  srcPort?: number;
  dstPort?: number;
  icmpType?: number;
  icmpCode?: number;
  l7?: L7Summary;
  /** Flows this record stands for: 1 for Hubble, num_flows for Calico. */
  count: number;
  packets?: number;
  bytes?: number;
  policies: FlowPolicy[];
  /** Hubble policy-verdict match type (`none` marks a default-deny verdict). */
  policyMatch?: string;
  /** Hubble: the event kind this record came from (policy-verdict, drop, trace, l7, ...). */
  eventType?: string;
  isReply?: boolean;
}

/** True for flows the product is about: denied, dropped, or would-be-denied. */
export function isDrop(v: Verdict): boolean {
  return v === 'denied' || v === 'dropped' || v === 'audit';
}
