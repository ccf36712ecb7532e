/**
 * The common compiled form every policy dialect compiles to, and the contract of a compiler.
 * The decision engine (network-policy.evaluator.ts) evaluates only this shape; a new dialect
 * (AdminNetworkPolicy, Calico staged policies, ...) is a new `PolicyCompiler` registered in
 * policy-compilers.ts.
 *
 * Evaluation model the shape encodes: tiers in order (network-policy.evaluator.ts `tierTable`:
 * Admin, Calico tiers, the default tier, Baseline). In a tier other than DEFAULT_TIER the
 * `ordered` policies run by order, the first matching rule decides, `pass` skips the tier, and
 * no match applies the tier's default action (Calico: deny or pass; Admin and Baseline: fall
 * through). In the default tier `denyRules` of any selecting policy win first, `ordered`
 * policies decide in order and the others' allow rules are additive; an isolated endpoint with
 * nothing allowing is denied there.
 */
import { parseCidr, type Cidr, type IpBlockMatcher, type ParsedIp } from './cidr.js';
import { requiredLabel, type LabelSelector, type Labels } from './label-selector.js';
import type { PolicyEndpoint } from './policy-decision.js';
import type {
  CalicoNetworkSetObject,
  IpBlockSpec,
  NamedPort,
  PolicyDirection,
  PolicyObject,
  PolicyRef,
  RuleRef,
} from './policy-model.js';
import type { PortResult } from './port-matching.js';

export const DEFAULT_TIER = 'default';

/** One side of a probe as rules see it. */
export interface EndpointContext {
  ep: PolicyEndpoint;
  /**
   * The endpoint's labels and container ports (what rules read instead of `ep.labels` and
   * `ep.namedPorts`): equal in content, and the evaluator gives endpoints with equal ones one
   * shared object, so that matching many pods reads a few objects, not one per pod.
   */
  labels: Labels;
  namedPorts: readonly NamedPort[] | undefined;
  nsLabels: Labels;
  ip: ParsedIp | undefined;
  /** A pod that policies can select/peer-select (kind pod, not hostNetwork). */
  isPod: boolean;
  /** Dialect-specific label views (Cilium, Calico), built once per context. */
  views?: Map<string, Labels>;
}

/** A label view of an endpoint for one dialect, built at most once per context. */
export function labelView(c: EndpointContext, name: string, build: (c: EndpointContext) => Labels): Labels {
  if (!c.views) c.views = new Map();
  let v = c.views.get(name);
  if (!v) c.views.set(name, (v = build(c)));
  return v;
}

export interface CompiledRule {
  ref: RuleRef;
  /** Ordered (Calico) rules: the full rule decides; others: peer and port parts. */
  matchPeer(peer: EndpointContext, self: EndpointContext): boolean;
  matchPort(port: number | undefined, proto: string, dst: EndpointContext): PortResult;
  describePeer: string;
  describePorts: string;
  notes: string[];
  /** Rules that only log (Calico `Log`): matching them does not decide. */
  logOnly?: boolean;
  /**
   * The rule has a peer or match the model cannot decide (toFQDNs, nodes, services, ...): it is
   * treated as not matching, and any verdict it could have changed is uncertain.
   */
  uncertain?: string;
  /** The rule also has L7 parts, matched at L4 only: an allow it gives is uncertain. */
  l4Only?: string;
}

export interface CompiledDirection {
  isolates: boolean;
  /** Allow rules (additive policies), or rules in order with their actions (ordered policies). */
  rules: CompiledRule[];
  /** Deny rules that take precedence over every allow (Cilium ingressDeny/egressDeny). */
  denyRules: CompiledRule[];
}

export interface CompiledPolicy {
  ref: PolicyRef;
  refString: string;
  tier: string;
  /** Order within the tier (lower first); policies of equal order sort by refString. */
  order: number;
  /** First matching rule decides (Calico); otherwise allow rules are additive (NetworkPolicy). */
  ordered: boolean;
  selects(self: EndpointContext): boolean;
  /**
   * A label every endpoint `selects` accepts carries (`key` with one of `values`, in the pod's own
   * labels), for the selection index (selection-index.ts). Absent when the selector has none.
   */
  selectionHint?: { key: string; values: readonly string[] };
  ingress?: CompiledDirection;
  egress?: CompiledDirection;
}

/** What a compiler may ask of the evaluator while compiling. */
export interface CompileEnv {
  /** Whether NetworkPolicy ipBlock peers match pod IPs (EvaluatorOptions). */
  readonly ipBlockMatchesPodIps: boolean;
  /**
   * Every IP block a rule matches addresses with (a CIDR alone: no except), so identities carry
   * which of them an address falls into. One block per key.
   */
  registerIpMatcher(key: string, block: IpBlockMatcher): void;
  /** A rule uses named ports: destination identities then include the pod's container ports. */
  useNamedPorts(): void;
  /** Calico NetworkSets and GlobalNetworkSets, for rule selectors (none when absent). */
  readonly networkSets?: readonly CalicoNetworkSetObject[];
  /** Labels of a namespace, for NetworkSets selected by namespaceSelector. */
  namespaceLabels?(namespace: string): Labels;
}

export interface PolicyCompiler {
  readonly kinds: readonly PolicyObject['kind'][];
  compile(policy: PolicyObject, env: CompileEnv): CompiledPolicy;
}

/**
 * A peer matcher that matches when any of `matchers` does (none: nothing). One matcher is
 * returned as it is, and several are tried in a loop: no callback allocated per call.
 */
export function anyOf(matchers: readonly ((c: EndpointContext) => boolean)[]): (c: EndpointContext) => boolean {
  if (matchers.length === 0) return () => false;
  if (matchers.length === 1) return matchers[0];
  return (c) => {
    for (let i = 0; i < matchers.length; i++) if (matchers[i](c)) return true;
    return false;
  };
}

/** A policy with its ingress and egress compiled (a direction the policy lacks stays absent). */
export function withDirections(
  base: Omit<CompiledPolicy, 'ingress' | 'egress'>,
  compileDirection: (direction: PolicyDirection) => CompiledDirection | undefined,
): CompiledPolicy {
  const c: CompiledPolicy = { ...base };
  const ingress = compileDirection('ingress');
  if (ingress) c.ingress = ingress;
  const egress = compileDirection('egress');
  if (egress) c.egress = egress;
  return c;
}

/** A CIDR as an IP block without except. */
export function cidrBlock(cidr: Cidr): IpBlockMatcher {
  return { cidr, except: [], text: cidr.text };
}

export function toIpBlock(b: IpBlockSpec): IpBlockMatcher | undefined {
  const cidr = parseCidr(b.cidr);
  if (!cidr) return undefined;
  const except = b.except.map(parseCidr).filter((c): c is NonNullable<typeof c> => c !== undefined);
  return { cidr, except, text: b.except.length > 0 ? `${b.cidr} except ${b.except.join(',')}` : b.cidr };
}

/** The selection-index hint of a selector over the pod's own labels (`CompiledPolicy.selectionHint`). */
export function selectionHintOf(podSelector: LabelSelector): Pick<CompiledPolicy, 'selectionHint'> {
  const h = requiredLabel(podSelector);
  return h ? { selectionHint: h } : {};
}
