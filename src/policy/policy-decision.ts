/**
 * What the policy evaluator takes and answers: a probe between two endpoints, and for each
 * direction whether policies isolate the enforcing side, which rules allow or deny, and the
 * closest rules when nothing allowed. Shared by the decision engine and the dialect compilers.
 */
import type { Labels } from './label-selector.js';
import type { NamedPort, PolicyDirection, PolicyRef, RuleRef } from './policy-model.js';

export type PolicyEndpointKind = 'pod' | 'external' | 'host';

/** One side of a probe. */
export interface PolicyEndpoint {
  /** `pod`: a cluster pod (policies can select it); `external`: an IP outside the cluster; `host`: a node. */
  kind: PolicyEndpointKind;
  namespace?: string;
  /** Pod name, for display only. */
  name?: string;
  /** Pod labels (empty for external and host). */
  labels: Labels;
  /** Namespace labels; when absent the inventory's (or the implicit `kubernetes.io/metadata.name`). */
  namespaceLabels?: Labels;
  ip?: string;
  /** Container ports with names; undefined = unknown (named ports then cannot be resolved). */
  namedPorts?: readonly NamedPort[];
  /** hostNetwork pods are never selected by policies and are treated as their node IP. */
  hostNetwork?: boolean;
}

export interface PolicyProbe {
  src: PolicyEndpoint;
  dst: PolicyEndpoint;
  /** Destination port; absent for port-less protocols (ICMP). */
  port?: number;
  /** TCP, UDP, SCTP (others, such as ICMPv4, only match rules without ports). Default TCP. */
  protocol?: string;
}

export interface ClosestRule {
  rule: RuleRef;
  /** What the rule did not admit: the peer (ports matched) or the port (peer matched). */
  missing: 'peer' | 'port';
  /** `admits TCP/8080 only`, `admits from ns=x,pod=b only`, ... */
  detail: string;
}

export interface DirectionDecision {
  direction: PolicyDirection;
  /** False when the side is not a pod subject to policy (external IP, host, hostNetwork pod). */
  applies: boolean;
  isolated: boolean;
  allowed: boolean;
  /** Policies that select the endpoint for this direction (and so isolate it). */
  isolatedBy: readonly PolicyRef[];
  /** Rules that admit the flow (all of them: NetworkPolicies are additive). */
  allowedBy: readonly RuleRef[];
  /** Explicit deny rules that matched, or end-of-tier entries (ruleIndex -1) for Calico tiers. */
  deniedBy: readonly RuleRef[];
  /** When denied: rules of the isolating policies that matched the peer or the port but not both. */
  closestRules: readonly ClosestRule[];
  /** Limits of the answer: unresolved named ports, unmodelled policy features. */
  notes: readonly string[];
  /**
   * How the verdict came about: a matching `rule`; default `isolation` (a NetworkPolicy-style
   * policy selects the endpoint and nothing admits); a Calico tier's `end-of-tier` default action;
   * or `default` (nothing decided: allowed).
   */
  basis: 'rule' | 'isolation' | 'end-of-tier' | 'default';
  /** The tier that decided (Admin, a Calico tier, default, Baseline); absent for `default`. */
  tier?: string;
  /**
   * Why the verdict may be wrong: rules the model cannot decide (toFQDNs, nodes peers, L7,
   * unresolvable named ports) that could have changed it. Empty when the verdict is certain.
   */
  uncertain: readonly string[];
}

export interface PolicyDecision {
  allowed: boolean;
  egress: DirectionDecision;
  ingress: DirectionDecision;
}

export interface EvaluatorOptions {
  /** Decision cache entries (LRU); default 200,000. */
  cacheSize?: number;
  /**
   * Whether NetworkPolicy ipBlock peers match pod IPs. Default true, as the upstream e2e suite
   * asserts; Cilium and Terway do not (set false to model them). Cilium CIDR rules never match
   * cluster pods regardless.
   */
  ipBlockMatchesPodIps?: boolean;
  /** Distinct identities interned before the interner starts over; default 1,000,000. */
  identityCacheSize?: number;
  /** Compute `closestRules` of denied directions (default true; what-if does not need them). */
  closestRules?: boolean;
  /**
   * Compute every inventory pod's identity and selecting policies while compiling (default
   * false): a long-lived evaluator (flow attribution) then answers its first decisions sooner;
   * one that evaluates other endpoints (what-if's workloads) would only pay for it.
   */
  precomputePods?: boolean;
}
