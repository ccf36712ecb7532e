/**
 * The policy evaluator: given a probe (source endpoint, destination endpoint, port, protocol) and
 * an inventory snapshot, says whether egress from the source and ingress to the destination are
 * allowed, which policies isolate each side, which rules allow, which deny, and the closest rules
 * when nothing allowed. Exact networking.k8s.io/v1 NetworkPolicy semantics (docs/POLICY.md);
 * Cilium and Calico policies to the extent attribution needs.
 *
 * Speed: policies are compiled once per snapshot and indexed by namespace; selectors are
 * predicates; decisions are cached by (source identity, destination identity, port, protocol),
 * where an identity is namespace + canonical labels (+ the ipBlocks the IP falls into, + the named
 * ports of a destination when any rule uses named ports). Decisions are frozen and shared.
 */
import { compileCalicoSelector } from './calico-selector.js';
import { cidrContains, ipBlockMatches, parseCidr, parseIp, type IpBlockMatcher, type ParsedIp } from './cidr.js';
import {
  canonicalLabels,
  compileLabelSelector,
  describeSelector,
  isEmptySelector,
  selectorRequirements,
  type LabelPredicate,
  type LabelSelector,
  type Labels,
} from './label-selector.js';
import { IdentityInterner } from './identity-interner.js';
import { LruCache } from './lru-cache.js';
import { NAMESPACE_NAME_LABEL } from './manifest.normalize.js';
import type { PolicyInventory } from './policy-inventory.js';
import {
  policyRefOf,
  policyRefString,
  type CalicoEntityRule,
  type CalicoPolicyObject,
  type CalicoPortSpec,
  type CiliumPolicyObject,
  type CiliumRule,
  type IpBlockSpec,
  type K8sNetworkPolicyObject,
  type NamedPort,
  type NpPeer,
  type NpPort,
  type PodObject,
  type PolicyDirection,
  type PolicyObject,
  type PolicyRef,
  type RuleRef,
} from './policy-model.js';

// ---- public types ----------------------------------------------------------------------------

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
}

// ---- compiled forms --------------------------------------------------------------------------

interface Ctx {
  ep: PolicyEndpoint;
  nsLabels: Labels;
  ip: ParsedIp | undefined;
  /** A pod that policies can select/peer-select (kind pod, not hostNetwork). */
  isPod: boolean;
  ciliumLabels?: Labels;
  calicoLabels?: Labels;
  calicoNsLabels?: Labels;
}

type PortResult = 'match' | 'nomatch' | 'unresolved';

interface CompiledRule {
  ref: RuleRef;
  /** Calico rules: the full rule decides; others: peer and port parts. */
  matchPeer(peer: Ctx, self: Ctx): boolean;
  matchPort(port: number | undefined, proto: string, dst: Ctx): PortResult;
  describePeer: string;
  describePorts: string;
  notes: string[];
  /** Calico `Log` rules: matching them does not decide. */
  logOnly?: boolean;
}

interface CompiledDirection {
  isolates: boolean;
  /** Allow rules (k8s NP, Cilium), or Calico rules in order with their actions. */
  rules: CompiledRule[];
  /** Cilium ingressDeny/egressDeny. */
  denyRules: CompiledRule[];
}

interface CompiledPolicy {
  ref: PolicyRef;
  refString: string;
  family: 'k8s' | 'cilium' | 'calico';
  tier: string;
  order: number;
  selects(self: Ctx): boolean;
  ingress?: CompiledDirection;
  egress?: CompiledDirection;
}

const NO_REFS: readonly PolicyRef[] = Object.freeze([]);
const NO_RULES: readonly RuleRef[] = Object.freeze([]);
const NO_CLOSEST: readonly ClosestRule[] = Object.freeze([]);
const NO_NOTES: readonly string[] = Object.freeze([]);

const PROTO_NUMBERS: ReadonlyMap<string, string> = new Map([
  ['6', 'TCP'],
  ['17', 'UDP'],
  ['132', 'SCTP'],
  ['1', 'ICMP'],
  ['58', 'ICMPV6'],
]);

function normProto(p: string | undefined): string {
  if (!p) return 'TCP';
  const u = p.toUpperCase();
  return PROTO_NUMBERS.get(u) ?? u;
}

function toIpBlock(b: IpBlockSpec): IpBlockMatcher | undefined {
  const cidr = parseCidr(b.cidr);
  if (!cidr) return undefined;
  const except = b.except.map(parseCidr).filter((c): c is NonNullable<typeof c> => c !== undefined);
  return { cidr, except, text: b.except.length > 0 ? `${b.cidr} except ${b.except.join(',')}` : b.cidr };
}

function selectorReferencesKey(sel: LabelSelector, key: string): boolean {
  return selectorRequirements(sel).some((r) => r.key === key);
}

function describeNpPort(p: NpPort): string {
  if (p.port === undefined) return `${p.protocol}/*`;
  if (p.endPort !== undefined) return `${p.protocol}/${p.port}-${p.endPort}`;
  return `${p.protocol}/${p.port}`;
}

function resolveNamedPort(dst: Ctx, name: string, protocol: string): PortResult | number {
  const ports = dst.ep.namedPorts;
  if (!dst.isPod) return 'nomatch';
  if (ports === undefined) return 'unresolved';
  for (const p of ports) if (p.name === name && p.protocol === protocol) return p.port;
  return 'nomatch';
}

const CILIUM_NS_KEY = 'io.kubernetes.pod.namespace';
const CILIUM_NS_LABEL_PREFIX = 'io.cilium.k8s.namespace.labels.';

// ---- the evaluator ---------------------------------------------------------------------------

export class NetworkPolicyEvaluator {
  private readonly byNamespace = new Map<string, CompiledPolicy[]>();
  private readonly clusterWide: CompiledPolicy[] = [];
  private readonly cache: LruCache<string, PolicyDecision>;
  private readonly ipBlockMatchesPodIps: boolean;
  /** Every distinct IP matcher in the inventory, for IP signatures in identities. */
  private readonly ipMatchers: Array<(ip: ParsedIp) => boolean> = [];
  private readonly ipMatcherKeys = new Map<string, number>();
  /** IP signatures by address text; bounded because external addresses are unbounded. */
  private readonly ipSigCache = new LruCache<string, string>(100_000);
  private usesNamedPorts = false;
  private readonly interner: IdentityInterner;
  /** Identities per endpoint object, valid only in the interner generation they were made in. */
  private readonly identityMemo = new WeakMap<PolicyEndpoint, { generation: number; src: number; dst: number }>();
  private readonly podEndpoints = new WeakMap<PodObject, PolicyEndpoint>();
  private readonly nsLabelIds = new Map<string, string>();

  constructor(
    readonly inventory: PolicyInventory,
    options: EvaluatorOptions = {},
  ) {
    this.cache = new LruCache(options.cacheSize ?? 200_000);
    this.ipBlockMatchesPodIps = options.ipBlockMatchesPodIps ?? true;
    // Ids are only cache keys: when the interner starts over, cached decisions go with them.
    this.interner = new IdentityInterner(options.identityCacheSize ?? 1_000_000, () => this.cache.clear());
    for (const p of inventory.policies) {
      const c = this.compile(p);
      if (p.namespace === undefined) this.clusterWide.push(c);
      else {
        let list = this.byNamespace.get(p.namespace);
        if (!list) this.byNamespace.set(p.namespace, (list = []));
        list.push(c);
      }
    }
    const sortKey = (a: CompiledPolicy, b: CompiledPolicy): number =>
      a.order - b.order || (a.refString < b.refString ? -1 : a.refString > b.refString ? 1 : 0);
    for (const l of this.byNamespace.values()) l.sort(sortKey);
    this.clusterWide.sort(sortKey);
  }

  // ---- endpoints ----

  /** The endpoint of an inventory pod (memoized, so its identity is computed once). */
  endpointForPod(pod: PodObject): PolicyEndpoint {
    let e = this.podEndpoints.get(pod);
    if (!e) {
      e = {
        kind: 'pod',
        namespace: pod.namespace,
        name: pod.name,
        labels: pod.labels,
        namespaceLabels: this.inventory.namespaceLabels(pod.namespace),
        namedPorts: pod.ports,
        hostNetwork: pod.hostNetwork,
      };
      if (pod.ips[0] !== undefined) e.ip = pod.ips[0];
      this.podEndpoints.set(pod, e);
    }
    return e;
  }

  /** An IP: the inventory pod that owns it, else an external endpoint. */
  endpointForIp(ip: string): PolicyEndpoint {
    const pod = this.inventory.podByIp(ip);
    if (pod) return { ...this.endpointForPod(pod), ip };
    return { kind: 'external', labels: {}, ip };
  }

  // ---- evaluation ----

  /** Evaluate with the decision cache. The result is frozen and shared: do not mutate. */
  evaluate(probe: PolicyProbe): PolicyDecision {
    const proto = normProto(probe.protocol);
    let generation: number;
    let key: string;
    do {
      // Both ids must come from one interner generation (interning dst may start it over).
      generation = this.interner.generation;
      key = `${this.identity(probe.src, false)}>${this.identity(probe.dst, true)}|${probe.port ?? ''}/${proto}`;
    } while (generation !== this.interner.generation);
    const hit = this.cache.get(key);
    if (hit) return hit;
    const d = this.evaluateUncached(probe);
    this.cache.set(key, d);
    return d;
  }

  evaluateUncached(probe: PolicyProbe): PolicyDecision {
    const proto = normProto(probe.protocol);
    const src = this.ctx(probe.src);
    const dst = this.ctx(probe.dst);
    const egress = this.evaluateDirection('egress', src, dst, src, dst, probe.port, proto);
    const ingress = this.evaluateDirection('ingress', dst, src, src, dst, probe.port, proto);
    return Object.freeze({ allowed: egress.allowed && ingress.allowed, egress, ingress });
  }

  /** Policies that select the endpoint for a direction (isolating it). */
  isolatingPolicies(ep: PolicyEndpoint, direction: PolicyDirection): PolicyRef[] {
    const self = this.ctx(ep);
    if (!self.isPod) return [];
    return this.candidates(self)
      .filter((p) => p[direction]?.isolates && p.selects(self))
      .map((p) => p.ref);
  }

  cacheStats(): { hits: number; misses: number; size: number } {
    return { hits: this.cache.hits, misses: this.cache.misses, size: this.cache.size };
  }

  // ---- internals: identity ----

  private nsLabelsOf(ep: PolicyEndpoint): Labels {
    const ns = ep.namespace;
    if (ns === undefined) return {};
    if (this.inventory.hasNamespaceManifest(ns) || !ep.namespaceLabels) return this.inventory.namespaceLabels(ns);
    return ep.namespaceLabels[NAMESPACE_NAME_LABEL] === ns
      ? ep.namespaceLabels
      : { ...ep.namespaceLabels, [NAMESPACE_NAME_LABEL]: ns };
  }

  private ipSignature(ipText: string | undefined): string {
    if (ipText === undefined || this.ipMatchers.length === 0) return '';
    let sig = this.ipSigCache.get(ipText);
    if (sig === undefined) {
      const ip = parseIp(ipText);
      sig = '';
      if (ip) for (let i = 0; i < this.ipMatchers.length; i++) if (this.ipMatchers[i](ip)) sig += `${i},`;
      this.ipSigCache.set(ipText, sig);
    }
    return sig;
  }

  private identity(ep: PolicyEndpoint, asDst: boolean): number {
    const memo = this.identityMemo.get(ep);
    if (memo && memo.generation === this.interner.generation) return asDst ? memo.dst : memo.src;
    const ns = ep.namespace ?? '';
    let nsId = '';
    if (ep.kind === 'pod') {
      const nsl = this.nsLabelsOf(ep);
      nsId = nsl === this.inventory.namespaceLabels(ns) ? '' : canonicalLabels(nsl);
    }
    const base = `${ep.kind}${ep.hostNetwork ? 'H' : ''}|${ns}|${canonicalLabels(ep.labels)}|${nsId}|${this.ipSignature(ep.ip)}`;
    const withPorts =
      this.usesNamedPorts && ep.kind === 'pod'
        ? `${base}|${ep.namedPorts === undefined ? '?' : ep.namedPorts.map((p) => `${p.name ?? ''}:${p.port}/${p.protocol}`).join(',')}`
        : base;
    let ids: { generation: number; src: number; dst: number };
    do {
      const generation = this.interner.generation;
      ids = { generation, src: this.interner.intern(base), dst: this.interner.intern(withPorts) };
    } while (ids.generation !== this.interner.generation);
    this.identityMemo.set(ep, ids);
    return asDst ? ids.dst : ids.src;
  }

  private ctx(ep: PolicyEndpoint): Ctx {
    const ip = ep.ip !== undefined ? parseIp(ep.ip) : undefined;
    return { ep, nsLabels: this.nsLabelsOf(ep), ip, isPod: ep.kind === 'pod' && !ep.hostNetwork };
  }

  private ciliumLabels(c: Ctx): Labels {
    if (!c.ciliumLabels) {
      const l: Record<string, string> = { ...c.ep.labels };
      if (c.ep.namespace !== undefined) l[CILIUM_NS_KEY] = c.ep.namespace;
      for (const [k, v] of Object.entries(c.nsLabels)) l[CILIUM_NS_LABEL_PREFIX + k] = v;
      c.ciliumLabels = l;
    }
    return c.ciliumLabels;
  }

  private calicoLabels(c: Ctx): Labels {
    if (!c.calicoLabels) {
      const l: Record<string, string> = { ...c.ep.labels, 'projectcalico.org/orchestrator': 'k8s' };
      if (c.ep.namespace !== undefined) l['projectcalico.org/namespace'] = c.ep.namespace;
      c.calicoLabels = l;
    }
    return c.calicoLabels;
  }

  private calicoNsLabels(c: Ctx): Labels {
    if (!c.calicoNsLabels) {
      c.calicoNsLabels =
        c.ep.namespace !== undefined ? { ...c.nsLabels, 'projectcalico.org/name': c.ep.namespace } : c.nsLabels;
    }
    return c.calicoNsLabels;
  }

  private registerIpMatcher(key: string, fn: (ip: ParsedIp) => boolean): void {
    if (this.ipMatcherKeys.has(key)) return;
    this.ipMatcherKeys.set(key, this.ipMatchers.length);
    this.ipMatchers.push(fn);
  }

  private candidates(self: Ctx): readonly CompiledPolicy[] {
    const local = self.ep.namespace !== undefined ? this.byNamespace.get(self.ep.namespace) : undefined;
    if (!local) return this.clusterWide;
    if (this.clusterWide.length === 0) return local;
    return [...local, ...this.clusterWide];
  }

  // ---- internals: decision ----

  private evaluateDirection(
    direction: PolicyDirection,
    self: Ctx,
    peer: Ctx,
    src: Ctx,
    dst: Ctx,
    port: number | undefined,
    proto: string,
  ): DirectionDecision {
    if (!self.isPod) {
      const notes =
        self.ep.kind === 'pod' && self.ep.hostNetwork ? ['hostNetwork pods are not selected by policies'] : NO_NOTES;
      return Object.freeze({
        direction,
        applies: false,
        isolated: false,
        allowed: true,
        isolatedBy: NO_REFS,
        allowedBy: NO_RULES,
        deniedBy: NO_RULES,
        closestRules: NO_CLOSEST,
        notes,
      });
    }
    const selecting: Array<{ p: CompiledPolicy; d: CompiledDirection }> = [];
    for (const p of this.candidates(self)) {
      const d = p[direction];
      if (d && p.selects(self)) selecting.push({ p, d });
    }
    if (this.clusterWide.length > 0 && selecting.length > 1) {
      // Calico order spans namespaced and global policies.
      selecting.sort(
        (a, b) => a.p.order - b.p.order || (a.p.refString < b.p.refString ? -1 : a.p.refString > b.p.refString ? 1 : 0),
      );
    }
    if (selecting.length === 0) {
      return Object.freeze({
        direction,
        applies: true,
        isolated: false,
        allowed: true,
        isolatedBy: NO_REFS,
        allowedBy: NO_RULES,
        deniedBy: NO_RULES,
        closestRules: NO_CLOSEST,
        notes: NO_NOTES,
      });
    }
    const notes = new Set<string>();
    const isolatedBy = selecting.filter((s) => s.d.isolates).map((s) => s.p.ref);
    const ruleMatches = (r: CompiledRule): boolean => {
      for (const n of r.notes) notes.add(n);
      const pm = r.matchPort(port, proto, dst);
      if (pm === 'unresolved')
        notes.add(
          `${policyRefString(r.ref)} ${direction}[${r.ref.ruleIndex}]: named port not resolvable (destination pod ports unknown)`,
        );
      return pm === 'match' && r.matchPeer(peer, self);
    };

    const allowedBy: RuleRef[] = [];
    const deniedBy: RuleRef[] = [];
    let verdict: 'allow' | 'deny' | undefined;

    // 1. Cilium deny rules take precedence over every allow.
    for (const { d } of selecting) for (const r of d.denyRules) if (ruleMatches(r)) deniedBy.push(r.ref);
    if (deniedBy.length > 0) verdict = 'deny';

    // 2. Calico tiers other than default, by name; first matching rule decides; Pass skips the tier.
    if (verdict === undefined) {
      const tiers = [
        ...new Set(selecting.filter((s) => s.p.family === 'calico' && s.p.tier !== 'default').map((s) => s.p.tier)),
      ].sort();
      for (const tier of tiers) {
        const inTier = selecting.filter((s) => s.p.family === 'calico' && s.p.tier === tier);
        const out = this.firstMatch(inTier, ruleMatches);
        if (out === 'pass') continue;
        if (out) {
          verdict = out.ref.action === 'allow' ? 'allow' : 'deny';
          (verdict === 'allow' ? allowedBy : deniedBy).push(out.ref);
        } else {
          verdict = 'deny';
          for (const s of inTier) deniedBy.push({ ...s.p.ref, direction, ruleIndex: -1, action: 'deny' });
        }
        break;
      }
    }

    // 3. The default tier: Calico policies in order, Kubernetes and Cilium policies (additive allows).
    if (verdict === undefined) {
      const inDefault = selecting.filter((s) => s.p.tier === 'default');
      let calicoDecided: CompiledRule | 'pass' | undefined;
      for (const s of inDefault) {
        if (s.p.family === 'calico') {
          if (calicoDecided !== undefined) continue;
          const out = this.firstMatch([s], ruleMatches);
          if (out) calicoDecided = out;
          // A Calico rule ordered before the NetworkPolicies decides before they are consulted.
          if (out && out !== 'pass' && out.ref.action === 'deny' && allowedBy.length === 0) {
            deniedBy.push(out.ref);
            verdict = 'deny';
            break;
          }
          if (out && out !== 'pass' && out.ref.action === 'allow') allowedBy.push(out.ref);
        } else {
          for (const r of s.d.rules) if (ruleMatches(r)) allowedBy.push(r.ref);
        }
      }
      if (verdict === undefined) {
        if (allowedBy.length > 0 || calicoDecided === 'pass') verdict = 'allow';
        else if (inDefault.some((s) => s.d.isolates)) {
          verdict = 'deny';
          for (const s of inDefault)
            if (s.p.family === 'calico') deniedBy.push({ ...s.p.ref, direction, ruleIndex: -1, action: 'deny' });
        } else verdict = 'allow';
      }
    }

    const allowed = verdict === 'allow';
    const closestRules = allowed ? NO_CLOSEST : this.closest(selecting, peer, self, dst, port, proto);
    return Object.freeze({
      direction,
      applies: true,
      isolated: isolatedBy.length > 0,
      allowed,
      isolatedBy: Object.freeze(isolatedBy),
      allowedBy: Object.freeze(allowedBy),
      deniedBy: Object.freeze(deniedBy),
      closestRules,
      notes: notes.size > 0 ? Object.freeze([...notes]) : NO_NOTES,
    });
  }

  /** Calico first-match over policies in order: the deciding rule, 'pass', or undefined. */
  private firstMatch(
    policies: Array<{ p: CompiledPolicy; d: CompiledDirection }>,
    matches: (r: CompiledRule) => boolean,
  ): CompiledRule | 'pass' | undefined {
    for (const { d } of policies) {
      for (const r of d.rules) {
        if (r.logOnly || !matches(r)) continue;
        if (r.ref.action === 'pass') return 'pass';
        return r;
      }
    }
    return undefined;
  }

  private closest(
    selecting: Array<{ p: CompiledPolicy; d: CompiledDirection }>,
    peer: Ctx,
    self: Ctx,
    dst: Ctx,
    port: number | undefined,
    proto: string,
  ): readonly ClosestRule[] {
    const out: ClosestRule[] = [];
    for (const { d } of selecting) {
      for (const r of d.rules) {
        if (r.ref.action !== 'allow' || r.logOnly) continue;
        const peerOk = r.matchPeer(peer, self);
        const portOk = r.matchPort(port, proto, dst) === 'match';
        if (peerOk && !portOk)
          out.push({ rule: r.ref, missing: 'port', detail: `admits this peer on ${r.describePorts} only` });
        else if (portOk && !peerOk)
          out.push({
            rule: r.ref,
            missing: 'peer',
            detail: `admits ${r.describePorts} from/to ${r.describePeer} only`,
          });
        if (out.length >= 5) return Object.freeze(out);
      }
    }
    return out.length > 0 ? Object.freeze(out) : NO_CLOSEST;
  }

  // ---- compilation ----

  private compile(p: PolicyObject): CompiledPolicy {
    switch (p.kind) {
      case 'NetworkPolicy':
        return this.compileK8s(p);
      case 'CiliumNetworkPolicy':
      case 'CiliumClusterwideNetworkPolicy':
        return this.compileCilium(p);
      case 'CalicoNetworkPolicy':
      case 'GlobalNetworkPolicy':
        return this.compileCalico(p);
    }
  }

  private compileK8s(p: K8sNetworkPolicyObject): CompiledPolicy {
    const ref = policyRefOf(p);
    const podSel = compileLabelSelector(p.podSelector);
    const ns = p.namespace;
    const compileDir = (direction: PolicyDirection): CompiledDirection | undefined => {
      const type = direction === 'ingress' ? 'Ingress' : 'Egress';
      if (!p.policyTypes.includes(type)) return undefined;
      const rules = (direction === 'ingress' ? p.ingress : p.egress).map((rule, i): CompiledRule => {
        const peers = rule.peers.map((peer) => this.compileNpPeer(peer, ns));
        const ports = rule.ports;
        if (ports.some((x) => typeof x.port === 'string')) this.usesNamedPorts = true;
        return {
          ref: { ...ref, direction, ruleIndex: i, action: 'allow' },
          matchPeer: peers.length === 0 ? () => true : (peerCtx) => peers.some((m) => m(peerCtx)),
          matchPort:
            ports.length === 0 ? () => 'match' : (port, proto, dst) => this.matchNpPorts(ports, port, proto, dst),
          describePeer:
            rule.peers.length === 0 ? 'any peer' : rule.peers.map((x) => this.describeNpPeer(x, ns)).join(' or '),
          describePorts: ports.length === 0 ? 'any port' : ports.map(describeNpPort).join(','),
          notes: [],
        };
      });
      return { isolates: true, rules, denyRules: [] };
    };
    const c: CompiledPolicy = {
      ref,
      refString: policyRefString(ref),
      family: 'k8s',
      tier: 'default',
      order: 1000,
      selects: (self) => self.ep.namespace === ns && podSel(self.ep.labels),
    };
    const ing = compileDir('ingress');
    if (ing) c.ingress = ing;
    const eg = compileDir('egress');
    if (eg) c.egress = eg;
    return c;
  }

  private compileNpPeer(peer: NpPeer, policyNs: string): (c: Ctx) => boolean {
    if (peer.ipBlock) {
      const b = toIpBlock(peer.ipBlock);
      if (!b) return () => false;
      const fn = (ip: ParsedIp): boolean => ipBlockMatches(b, ip);
      this.registerIpMatcher(`ipb:${b.text}`, fn);
      const podsToo = this.ipBlockMatchesPodIps;
      return (c) => c.ip !== undefined && (podsToo || !c.isPod) && fn(c.ip);
    }
    const podSel: LabelPredicate | undefined = peer.podSelector ? compileLabelSelector(peer.podSelector) : undefined;
    const nsSel: LabelPredicate | undefined = peer.namespaceSelector
      ? compileLabelSelector(peer.namespaceSelector)
      : undefined;
    if (nsSel && podSel) return (c) => c.isPod && nsSel(c.nsLabels) && podSel(c.ep.labels);
    if (nsSel) return (c) => c.isPod && nsSel(c.nsLabels);
    if (podSel) return (c) => c.isPod && c.ep.namespace === policyNs && podSel(c.ep.labels);
    return () => false;
  }

  private describeNpPeer(peer: NpPeer, policyNs: string): string {
    if (peer.ipBlock)
      return peer.ipBlock.except.length > 0
        ? `${peer.ipBlock.cidr} except ${peer.ipBlock.except.join(',')}`
        : peer.ipBlock.cidr;
    const parts: string[] = [];
    if (peer.namespaceSelector)
      parts.push(
        isEmptySelector(peer.namespaceSelector)
          ? 'all namespaces'
          : `namespaces ${describeSelector(peer.namespaceSelector)}`,
      );
    else parts.push(`namespace ${policyNs}`);
    if (peer.podSelector)
      parts.push(isEmptySelector(peer.podSelector) ? 'all pods' : `pods ${describeSelector(peer.podSelector)}`);
    return parts.join(' and ');
  }

  private matchNpPorts(ports: readonly NpPort[], port: number | undefined, proto: string, dst: Ctx): PortResult {
    let unresolved = false;
    for (const p of ports) {
      if (p.protocol !== proto) continue;
      if (p.port === undefined) return 'match';
      if (port === undefined) continue;
      if (typeof p.port === 'number') {
        if (port >= p.port && port <= (p.endPort ?? p.port)) return 'match';
        continue;
      }
      const r = resolveNamedPort(dst, p.port, p.protocol);
      if (r === port) return 'match';
      if (r === 'unresolved') unresolved = true;
    }
    return unresolved ? 'unresolved' : 'nomatch';
  }

  // Cilium

  private compileCilium(p: CiliumPolicyObject): CompiledPolicy {
    const ref = policyRefOf(p);
    const ns = p.namespace;
    const specs = p.specs
      .filter((s) => s.endpointSelector !== undefined)
      .map((s) => {
        const sel = s.endpointSelector ?? {};
        const pred = compileLabelSelector(sel);
        return {
          s,
          selects: (c: Ctx) => c.isPod && (ns === undefined || c.ep.namespace === ns) && pred(this.ciliumLabels(c)),
        };
      });
    const compileDir = (direction: PolicyDirection): CompiledDirection | undefined => {
      const rules: CompiledRule[] = [];
      const denyRules: CompiledRule[] = [];
      let isolates = false;
      let present = false;
      for (const { s } of specs) {
        const allow = direction === 'ingress' ? s.ingress : s.egress;
        const deny = direction === 'ingress' ? s.ingressDeny : s.egressDeny;
        if (allow !== undefined || deny !== undefined) present = true;
        // Cilium enforces a direction when a selecting rule has ingress/egress (or deny) rules.
        if (((allow?.length ?? 0) > 0 || (deny?.length ?? 0) > 0) && s.enableDefaultDeny[direction]) isolates = true;
        allow?.forEach((r) => rules.push(this.compileCiliumRule(r, ref, direction, rules.length, 'allow', ns)));
        deny?.forEach((r) => denyRules.push(this.compileCiliumRule(r, ref, direction, denyRules.length, 'deny', ns)));
      }
      return present ? { isolates, rules, denyRules } : undefined;
    };
    const c: CompiledPolicy = {
      ref,
      refString: policyRefString(ref),
      family: 'cilium',
      tier: 'default',
      order: 1000,
      selects: (self) => specs.some((s) => s.selects(self)),
    };
    const ing = compileDir('ingress');
    if (ing) c.ingress = ing;
    const eg = compileDir('egress');
    if (eg) c.egress = eg;
    return c;
  }

  private compileCiliumRule(
    r: CiliumRule,
    ref: PolicyRef,
    direction: PolicyDirection,
    index: number,
    action: 'allow' | 'deny',
    ns: string | undefined,
  ): CompiledRule {
    const matchers: Array<(c: Ctx) => boolean> = [];
    const desc: string[] = [];
    for (const sel of r.endpoints ?? []) {
      const pred = compileLabelSelector(sel);
      const scoped = ns !== undefined && !selectorReferencesKey(sel, CILIUM_NS_KEY);
      matchers.push((c) => c.isPod && (!scoped || c.ep.namespace === ns) && pred(this.ciliumLabels(c)));
      desc.push(`endpoints ${describeSelector(sel)}${scoped ? ` in ${ns}` : ''}`);
    }
    for (const b of r.cidrs) {
      const m = toIpBlock(b);
      if (!m) continue;
      const fn = (ip: ParsedIp): boolean => ipBlockMatches(m, ip);
      this.registerIpMatcher(`ipb:${m.text}`, fn);
      // Cilium never matches cluster endpoints (pods, nodes) with CIDR rules.
      matchers.push((c) => c.ep.kind === 'external' && c.ip !== undefined && fn(c.ip));
      desc.push(m.text);
    }
    const notes: string[] = [];
    for (const e of r.entities) {
      desc.push(`entity ${e}`);
      switch (e) {
        case 'all':
          matchers.push(() => true);
          break;
        case 'world':
        case 'world-ipv4':
        case 'world-ipv6':
          matchers.push((c) => c.ep.kind === 'external');
          break;
        case 'cluster':
          matchers.push((c) => c.ep.kind !== 'external');
          break;
        case 'host':
        case 'remote-node':
          matchers.push((c) => c.ep.kind === 'host' || c.ep.hostNetwork === true);
          break;
        default:
          notes.push(`${policyRefString(ref)}: entity ${e} not modelled`);
      }
    }
    for (const u of r.unmodelled)
      notes.push(`${policyRefString(ref)} ${direction}${action === 'deny' ? 'Deny' : ''}[${index}]: ${u} not modelled`);
    if (r.hasL7) notes.push(`${policyRefString(ref)} ${direction}[${index}]: L7 rules not modelled (evaluated at L4)`);
    const ports = r.ports;
    if (ports.some((x) => typeof x.port === 'string')) this.usesNamedPorts = true;
    const noPeerFields =
      r.endpoints === undefined && r.cidrs.length === 0 && r.entities.length === 0 && r.unmodelled.length === 0;
    // A rule with only toPorts admits every peer on those ports; a rule with nothing admits nothing.
    const matchPeer = noPeerFields
      ? ports.length > 0
        ? () => true
        : () => false
      : (c: Ctx) => matchers.some((m) => m(c));
    return {
      ref: { ...ref, direction, ruleIndex: index, action },
      matchPeer,
      matchPort:
        ports.length === 0
          ? () => 'match'
          : (port, proto, dst) => {
              let unresolved = false;
              for (const p of ports) {
                if (p.protocol !== 'ANY' && p.protocol !== proto) continue;
                if (p.port === undefined) return 'match';
                if (port === undefined) continue;
                if (typeof p.port === 'number') {
                  if (port >= p.port && port <= (p.endPort ?? p.port)) return 'match';
                  continue;
                }
                const res = resolveNamedPort(dst, p.port, p.protocol === 'ANY' ? proto : p.protocol);
                if (res === port) return 'match';
                if (res === 'unresolved') unresolved = true;
              }
              return unresolved ? 'unresolved' : 'nomatch';
            },
      describePeer: noPeerFields ? (ports.length > 0 ? 'any peer' : 'nothing') : desc.join(' or '),
      describePorts:
        ports.length === 0
          ? 'any port'
          : ports.map((p) => `${p.protocol}/${p.port ?? '*'}${p.endPort ? `-${p.endPort}` : ''}`).join(','),
      notes,
    };
  }

  // Calico

  private compileCalico(p: CalicoPolicyObject): CompiledPolicy {
    const ref = policyRefOf(p);
    const ns = p.namespace;
    const sel = compileCalicoSelector(p.selector);
    const nsSel = p.namespaceSelector !== undefined ? compileCalicoSelector(p.namespaceSelector) : undefined;
    const compileDir = (direction: PolicyDirection): CompiledDirection | undefined => {
      if (!p.types.includes(direction === 'ingress' ? 'Ingress' : 'Egress')) return undefined;
      const list = direction === 'ingress' ? p.ingress : p.egress;
      const rules = list.map((r, i): CompiledRule => {
        const srcM = this.compileCalicoEntity(r.source, ns);
        const dstM = this.compileCalicoEntity(r.destination, ns);
        const action = r.action === 'Allow' ? 'allow' : r.action === 'Deny' ? 'deny' : 'pass';
        const notes = [...r.unmodelled, ...r.source.unmodelled, ...r.destination.unmodelled].map(
          (u) => `${policyRefString(ref)} ${direction}[${i}]: ${u} not modelled`,
        );
        const proto = r.protocol !== undefined ? normProto(r.protocol) : undefined;
        const notProto = r.notProtocol !== undefined ? normProto(r.notProtocol) : undefined;
        if ([...r.destination.ports, ...r.destination.notPorts].some((x) => x.name !== undefined))
          this.usesNamedPorts = true;
        return {
          ref: { ...ref, direction, ruleIndex: i, action },
          // For ingress the peer is the source; for egress the peer is the destination. Both
          // entity matchers see (source ctx, destination ctx) via matchPeer(peer, self).
          matchPeer: (peer, self) => {
            const s = direction === 'ingress' ? peer : self;
            const d = direction === 'ingress' ? self : peer;
            return srcM.matchEndpoint(s) && dstM.matchEndpoint(d);
          },
          matchPort: (port, protocol, dst) => {
            if (proto !== undefined && proto !== protocol) return 'nomatch';
            if (notProto !== undefined && notProto === protocol) return 'nomatch';
            if (r.source.ports.length > 0) return 'unresolved';
            return dstM.matchPorts(port, protocol, dst);
          },
          describePeer: `${describeCalicoEntity(r.source)} -> ${describeCalicoEntity(r.destination)}`,
          logOnly: r.action === 'Log',
          describePorts: `${proto ?? 'any'}/${r.destination.ports.length > 0 ? r.destination.ports.map(describeCalicoPort).join(',') : '*'}`,
          notes,
        };
      });
      return { isolates: true, rules, denyRules: [] };
    };
    const c: CompiledPolicy = {
      ref,
      refString: policyRefString(ref),
      family: 'calico',
      tier: p.tier,
      order: p.order ?? Number.MAX_SAFE_INTEGER,
      selects: (self) =>
        self.isPod &&
        (ns === undefined || self.ep.namespace === ns) &&
        (!nsSel || nsSel(this.calicoNsLabels(self))) &&
        sel(this.calicoLabels(self)),
    };
    const ing = compileDir('ingress');
    if (ing) c.ingress = ing;
    const eg = compileDir('egress');
    if (eg) c.egress = eg;
    return c;
  }

  private compileCalicoEntity(
    e: CalicoEntityRule,
    policyNs: string | undefined,
  ): { matchEndpoint(c: Ctx): boolean; matchPorts(port: number | undefined, proto: string, dst: Ctx): PortResult } {
    const sel = e.selector !== undefined ? compileCalicoSelector(e.selector) : undefined;
    const notSel = e.notSelector !== undefined ? compileCalicoSelector(e.notSelector) : undefined;
    const nsSel = e.namespaceSelector !== undefined ? compileCalicoSelector(e.namespaceSelector) : undefined;
    const nets = e.nets.map((n) => parseCidr(n)).filter((x): x is NonNullable<typeof x> => x !== undefined);
    const notNets = e.notNets.map((n) => parseCidr(n)).filter((x): x is NonNullable<typeof x> => x !== undefined);
    nets.forEach((n) => this.registerIpMatcher(`net:${n.text}`, (ip) => cidrContains(n, ip)));
    notNets.forEach((n) => this.registerIpMatcher(`net:${n.text}`, (ip) => cidrContains(n, ip)));
    const unmodelled = e.unmodelled.length > 0;
    const inRange = (list: CalicoPortSpec[], port: number, proto: string, dst: Ctx): PortResult => {
      let unresolved = false;
      for (const p of list) {
        if (p.name !== undefined) {
          const r = resolveNamedPort(dst, p.name, proto);
          if (r === port) return 'match';
          if (r === 'unresolved') unresolved = true;
        } else if (p.from !== undefined && port >= p.from && port <= (p.to ?? p.from)) return 'match';
      }
      return unresolved ? 'unresolved' : 'nomatch';
    };
    return {
      matchEndpoint: (c) => {
        if (unmodelled) return false;
        if (nets.length > 0 && (!c.ip || !nets.some((n) => c.ip !== undefined && cidrContains(n, c.ip)))) return false;
        if (notNets.length > 0 && c.ip && notNets.some((n) => c.ip !== undefined && cidrContains(n, c.ip)))
          return false;
        if (sel || nsSel) {
          if (!c.isPod) return false;
          if (nsSel) {
            if (!nsSel(this.calicoNsLabels(c))) return false;
          } else if (policyNs !== undefined && c.ep.namespace !== policyNs) return false;
          if (sel && !sel(this.calicoLabels(c))) return false;
        }
        if (notSel && c.isPod && notSel(this.calicoLabels(c))) return false;
        return true;
      },
      matchPorts: (port, proto, dst) => {
        if (e.ports.length === 0 && e.notPorts.length === 0) return 'match';
        if (port === undefined) return 'nomatch';
        if (e.notPorts.length > 0 && inRange(e.notPorts, port, proto, dst) === 'match') return 'nomatch';
        if (e.ports.length === 0) return 'match';
        return inRange(e.ports, port, proto, dst);
      },
    };
  }
}

function describeCalicoPort(p: CalicoPortSpec): string {
  if (p.name !== undefined) return p.name;
  return p.from === p.to ? String(p.from) : `${p.from}:${p.to}`;
}

function describeCalicoEntity(e: CalicoEntityRule): string {
  const parts: string[] = [];
  if (e.namespaceSelector) parts.push(`namespaceSelector ${e.namespaceSelector}`);
  if (e.selector) parts.push(`selector ${e.selector}`);
  if (e.nets.length > 0) parts.push(`nets ${e.nets.join(',')}`);
  if (e.notNets.length > 0) parts.push(`notNets ${e.notNets.join(',')}`);
  return parts.length > 0 ? parts.join(' ') : 'any';
}
