/**
 * The normalized, validated objects the policy inventory holds. Manifests (files, or later a
 * Kubernetes API watch) are turned into these by `manifest.normalize.ts`; the evaluator reads only
 * these. All plain data.
 */
import type { LabelSelector, Labels } from './label-selector.js';

export const POLICY_PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
export type PolicyProtocol = (typeof POLICY_PROTOCOLS)[number];

export type PolicyDirection = 'ingress' | 'egress';

export type InventoryPolicyKind =
  | 'NetworkPolicy'
  | 'CiliumNetworkPolicy'
  | 'CiliumClusterwideNetworkPolicy'
  | 'CalicoNetworkPolicy'
  | 'GlobalNetworkPolicy'
  | ClusterPolicyKind;

/** policy.networking.k8s.io: v1alpha2 ClusterNetworkPolicy and the older v1alpha1 kinds. */
export type ClusterPolicyKind = 'ClusterNetworkPolicy' | 'AdminNetworkPolicy' | 'BaselineAdminNetworkPolicy';

/** The tiers of ClusterNetworkPolicy (AdminNetworkPolicy is Admin, BaselineAdminNetworkPolicy Baseline). */
export const ADMIN_TIER = 'Admin';
export const BASELINE_TIER = 'Baseline';

/** Names one policy. `namespace` is absent for cluster-wide kinds. */
export interface PolicyRef {
  kind: InventoryPolicyKind;
  namespace?: string;
  name: string;
  /** Calico tier, or Admin / Baseline for the policy.networking.k8s.io kinds. */
  tier?: string;
}

/** One rule of one policy: `ruleIndex` counts within the direction's list (-1: end of tier). */
export interface RuleRef extends PolicyRef {
  direction: PolicyDirection;
  ruleIndex: number;
  action: 'allow' | 'deny' | 'pass';
}

/** Where an object came from, for error messages and provenance. */
export interface ObjectOrigin {
  file?: string;
  /** Document index in the file (0-based), with `.items[i]` for List members. */
  index?: string;
  /** e.g. `watch` when fed by an API watch. */
  via?: string;
}

export interface NamedPort {
  name?: string;
  port: number;
  protocol: PolicyProtocol;
}

export interface NamespaceObject {
  kind: 'Namespace';
  name: string;
  /** Includes the implicit `kubernetes.io/metadata.name`. */
  labels: Labels;
  origin?: ObjectOrigin;
}

export interface PodObject {
  kind: 'Pod';
  namespace: string;
  name: string;
  labels: Labels;
  ips: string[];
  /** Container ports (all containers, init containers included), with names and protocols. */
  ports: NamedPort[];
  hostNetwork: boolean;
  origin?: ObjectOrigin;
}

export interface IpBlockSpec {
  cidr: string;
  except: string[];
}

export interface NpPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IpBlockSpec;
}

export interface NpPort {
  protocol: PolicyProtocol;
  /** Absent: every port of `protocol`. A string is a named port. */
  port?: number | string;
  endPort?: number;
}

export interface NpRule {
  /** Empty = any peer (from/to missing or `[]`), including external IPs. */
  peers: NpPeer[];
  /** Empty = any port and protocol (ports missing or `[]`). */
  ports: NpPort[];
}

/** networking.k8s.io/v1 NetworkPolicy with policyTypes defaulting already applied. */
export interface K8sNetworkPolicyObject {
  kind: 'NetworkPolicy';
  namespace: string;
  name: string;
  podSelector: LabelSelector;
  /** Effective policyTypes (defaulted as the API server does when absent). */
  policyTypes: Array<'Ingress' | 'Egress'>;
  /** True when the manifest did not set policyTypes and it was defaulted. */
  policyTypesDefaulted: boolean;
  ingress: NpRule[];
  egress: NpRule[];
  origin?: ObjectOrigin;
}

export interface CiliumPortSpec {
  port?: number | string;
  endPort?: number;
  protocol: PolicyProtocol | 'ANY';
}

export interface CiliumRule {
  /** fromEndpoints / toEndpoints; undefined when absent. */
  endpoints?: LabelSelector[];
  /** fromCIDR + fromCIDRSet (and to*). */
  cidrs: IpBlockSpec[];
  /** fromEntities / toEntities. */
  entities: string[];
  /** toPorts[].ports flattened; empty = any port. */
  ports: CiliumPortSpec[];
  /** True when toPorts carry L7 rules (not modelled: treated as allowing at L4). */
  hasL7: boolean;
  /** Peer fields present but not modelled (toFQDNs, toServices, fromRequires, ...). */
  unmodelled: string[];
}

export interface CiliumRuleSet {
  endpointSelector?: LabelSelector;
  /** nodeSelector rules select hosts, not pods: kept to say they exist. */
  nodeSelector?: LabelSelector;
  ingress?: CiliumRule[];
  ingressDeny?: CiliumRule[];
  egress?: CiliumRule[];
  egressDeny?: CiliumRule[];
  enableDefaultDeny: { ingress: boolean; egress: boolean };
}

export interface CiliumPolicyObject {
  kind: 'CiliumNetworkPolicy' | 'CiliumClusterwideNetworkPolicy';
  namespace?: string;
  name: string;
  /** `spec` and `specs[]` in one list. */
  specs: CiliumRuleSet[];
  origin?: ObjectOrigin;
}

export interface CalicoPortSpec {
  /** Single port or range `from:to`; `name` for a named port. */
  from?: number;
  to?: number;
  name?: string;
}

export interface CalicoEntityRule {
  selector?: string;
  notSelector?: string;
  namespaceSelector?: string;
  nets: string[];
  notNets: string[];
  ports: CalicoPortSpec[];
  notPorts: CalicoPortSpec[];
  unmodelled: string[];
}

export interface CalicoRule {
  action: 'Allow' | 'Deny' | 'Log' | 'Pass';
  /** Upper-case protocol name or number as text; undefined = any. */
  protocol?: string;
  notProtocol?: string;
  source: CalicoEntityRule;
  destination: CalicoEntityRule;
  unmodelled: string[];
}

export interface CalicoPolicyObject {
  kind: 'CalicoNetworkPolicy' | 'GlobalNetworkPolicy';
  namespace?: string;
  name: string;
  tier: string;
  /** Lower applies first; undefined applies last. */
  order?: number;
  selector: string;
  /** GlobalNetworkPolicy only. */
  namespaceSelector?: string;
  types: Array<'Ingress' | 'Egress'>;
  ingress: CalicoRule[];
  egress: CalicoRule[];
  origin?: ObjectOrigin;
}

/** `pods` subject or peer: `namespaceSelector` absent = every namespace. */
export interface ClusterPodsSelector {
  namespaceSelector?: LabelSelector;
  podSelector: LabelSelector;
}

export interface ClusterPolicyPeer {
  namespaces?: LabelSelector;
  pods?: ClusterPodsSelector;
  /** Egress only: CIDRs, which also match pod IPs. */
  networks?: string[];
  /** A peer field the evaluator does not model (`nodes`, `domainNames`): the rule is uncertain. */
  unmodelled?: string;
  /** No known field at all: fail closed (an Accept matches nothing, a Deny or Pass everything). */
  unknown?: boolean;
}

/** One `protocols` (v1alpha2) or `ports` (v1alpha1) entry. */
export interface ClusterPolicyPort {
  /** Absent for `destinationNamedPort`: the name is looked up with the probe's protocol. */
  protocol?: PolicyProtocol;
  /** A number, or a named port resolved on the destination pod. Absent: every port. */
  port?: number | string;
  endPort?: number;
}

export interface ClusterPolicyRule {
  name?: string;
  action: 'Accept' | 'Deny' | 'Pass';
  peers: ClusterPolicyPeer[];
  /** Undefined: any protocol and port. */
  ports?: ClusterPolicyPort[];
}

export interface ClusterPolicyObject {
  kind: ClusterPolicyKind;
  /** Cluster-scoped. */
  namespace?: undefined;
  name: string;
  tier: typeof ADMIN_TIER | typeof BASELINE_TIER;
  /** Lower runs first (0-1000). */
  priority: number;
  subject: { namespaces?: LabelSelector; pods?: ClusterPodsSelector };
  ingress: ClusterPolicyRule[];
  egress: ClusterPolicyRule[];
  origin?: ObjectOrigin;
}

/** A Calico Tier (projectcalico.org/v3). */
export interface CalicoTierObject {
  kind: 'Tier';
  /** Cluster-scoped. */
  namespace?: undefined;
  name: string;
  /** Lower first; undefined sorts last. */
  order?: number;
  defaultAction: 'Deny' | 'Pass';
  origin?: ObjectOrigin;
}

/** Calico NetworkSet (namespaced) or GlobalNetworkSet: labels that rule selectors match, and CIDRs. */
export interface CalicoNetworkSetObject {
  kind: 'NetworkSet' | 'GlobalNetworkSet';
  namespace?: string;
  name: string;
  labels: Labels;
  nets: string[];
  origin?: ObjectOrigin;
}

export type StagedPolicyKind = 'StagedNetworkPolicy' | 'StagedGlobalNetworkPolicy' | 'StagedKubernetesNetworkPolicy';

/**
 * A Calico staged policy: never enforced. `policy` is the enforced form it would become (Set), or
 * absent when it stages the deletion of `target` (Delete).
 */
export interface StagedPolicyObject {
  kind: StagedPolicyKind;
  namespace?: string;
  name: string;
  stagedAction: 'Set' | 'Delete' | 'Learn' | 'Ignore';
  target: { kind: InventoryPolicyKind; namespace?: string; name: string };
  policy?: K8sNetworkPolicyObject | CalicoPolicyObject;
  origin?: ObjectOrigin;
}

export type PolicyObject = K8sNetworkPolicyObject | CiliumPolicyObject | CalicoPolicyObject | ClusterPolicyObject;
export type InventoryObject =
  NamespaceObject | PodObject | PolicyObject | CalicoTierObject | CalicoNetworkSetObject | StagedPolicyObject;

export function isStagedPolicy(o: InventoryObject): o is StagedPolicyObject {
  return (
    o.kind === 'StagedNetworkPolicy' ||
    o.kind === 'StagedGlobalNetworkPolicy' ||
    o.kind === 'StagedKubernetesNetworkPolicy'
  );
}

export function isPolicyObject(o: InventoryObject): o is PolicyObject {
  switch (o.kind) {
    case 'Namespace':
    case 'Pod':
    case 'Tier':
    case 'NetworkSet':
    case 'GlobalNetworkSet':
    case 'StagedNetworkPolicy':
    case 'StagedGlobalNetworkPolicy':
    case 'StagedKubernetesNetworkPolicy':
      return false;
    default:
      return true;
  }
}

export function policyRefOf(p: PolicyObject): PolicyRef {
  const ref: PolicyRef = { kind: p.kind, name: p.name };
  if (p.namespace !== undefined) ref.namespace = p.namespace;
  if (
    p.kind === 'CalicoNetworkPolicy' ||
    p.kind === 'GlobalNetworkPolicy' ||
    p.kind === 'ClusterNetworkPolicy' ||
    p.kind === 'AdminNetworkPolicy' ||
    p.kind === 'BaselineAdminNetworkPolicy'
  )
    ref.tier = p.tier;
  return ref;
}

/** `ns/name` for namespaced policies, `name` for cluster-wide ones. */
export function policyRefString(r: PolicyRef): string {
  return r.namespace !== undefined ? `${r.namespace}/${r.name}` : r.name;
}

/** The object key used by upsert/delete: `Kind/ns/name` or `Kind//name`. */
export function objectKey(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ''}/${name}`;
}

export function inventoryObjectKey(o: InventoryObject): string {
  const ns = o.kind === 'Namespace' || !('namespace' in o) ? undefined : o.namespace;
  return objectKey(o.kind, ns, o.name);
}
