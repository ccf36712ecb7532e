/**
 * The policy decision engine: given a probe (source endpoint, destination endpoint, port,
 * protocol) and an inventory snapshot, says whether egress from the source and ingress to the
 * destination are allowed, which policies isolate each side, which rules allow, which deny, and
 * the closest rules when nothing allowed. It knows no policy dialect: each policy is compiled once
 * per snapshot by the compiler registered for its kind (policy-compilers.ts) into the common
 * shape of compiled-policy.ts. Exact networking.k8s.io/v1 NetworkPolicy semantics (docs/POLICY.md);
 * Cilium and Calico policies to the extent attribution needs.
 *
 * Speed: compiled policies are indexed by namespace; selectors are predicates; decisions are
 * cached (bounded LRU) by (source identity, destination identity, port, protocol), where an
 * identity is namespace + canonical labels (+ the IP matchers the IP falls into, + the named
 * ports of a destination when any rule uses named ports), interned to a number by a bounded
 * interner whose restarts invalidate the decision cache. Decisions are frozen and shared.
 */
import type { ParsedIp } from './cidr.js';
import { parseIp } from './cidr.js';
import type {
  CompileEnv,
  CompiledDirection,
  CompiledPolicy,
  CompiledRule,
  EndpointContext,
  PolicyCompiler,
} from './compiled-policy.js';
import { DEFAULT_TIER } from './compiled-policy.js';
import { ADMIN_TIER, BASELINE_TIER } from './policy-model.js';
import { IdentityInterner } from './identity-interner.js';
import { canonicalLabels, type Labels } from './label-selector.js';
import { LruCache } from './lru-cache.js';
import { NAMESPACE_NAME_LABEL } from './manifest.normalize.js';
import { compilersByKind, POLICY_COMPILERS } from './policy-compilers.js';
import type {
  ClosestRule,
  DirectionDecision,
  EvaluatorOptions,
  PolicyDecision,
  PolicyEndpoint,
  PolicyProbe,
} from './policy-decision.js';
import type { PolicyInventory } from './policy-inventory.js';
import { policyRefString, type PodObject, type PolicyDirection, type PolicyRef, type RuleRef } from './policy-model.js';
import { normProto } from './port-matching.js';

export type {
  ClosestRule,
  DirectionDecision,
  EvaluatorOptions,
  PolicyDecision,
  PolicyEndpoint,
  PolicyEndpointKind,
  PolicyProbe,
} from './policy-decision.js';

type Ctx = EndpointContext;

const NO_REFS: readonly PolicyRef[] = Object.freeze([]);
const NO_RULES: readonly RuleRef[] = Object.freeze([]);
const NO_CLOSEST: readonly ClosestRule[] = Object.freeze([]);
const NO_NOTES: readonly string[] = Object.freeze([]);

const byOrderThenName = (a: CompiledPolicy, b: CompiledPolicy): number =>
  a.order - b.order || (a.refString < b.refString ? -1 : a.refString > b.refString ? 1 : 0);

/** Where a tier runs and what happens when none of its rules match. */
interface TierInfo {
  name: string;
  order: number;
  /** `deny` (Calico default), `pass` (Calico defaultAction Pass), `through` (Admin, Baseline). */
  whenNoMatch: 'deny' | 'pass' | 'through';
  /** A Calico tier that no Tier resource describes (order assumed just before default). */
  assumed?: boolean;
}

/** Tier orders as Calico 3.32 places them: kube-admin 1,000, default 1,000,000, kube-baseline 10,000,000. */
const ADMIN_ORDER = 1000;
const DEFAULT_ORDER = 1_000_000;
const BASELINE_ORDER = 10_000_000;
const BUILTIN_TIERS: ReadonlyMap<string, TierInfo> = new Map([
  [ADMIN_TIER, { name: ADMIN_TIER, order: ADMIN_ORDER, whenNoMatch: 'through' }],
  [DEFAULT_TIER, { name: DEFAULT_TIER, order: DEFAULT_ORDER, whenNoMatch: 'deny' }],
  [BASELINE_TIER, { name: BASELINE_TIER, order: BASELINE_ORDER, whenNoMatch: 'through' }],
]);

const byTierOrder = (a: TierInfo, b: TierInfo): number =>
  a.order - b.order || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

interface UncertainCandidate {
  action: 'allow' | 'deny' | 'pass';
  reason: string;
}

/**
 * Reasons from rules the model cannot decide that could have changed the verdict: an undecidable
 * allow when denied, an undecidable deny when allowed, any undecidable pass; an L4-only match of
 * a rule with L7 parts when it allowed.
 */
function uncertainReasons(
  undecided: readonly UncertainCandidate[],
  l4Only: readonly CompiledRule[],
  verdict: 'allow' | 'deny',
): readonly string[] {
  const out = new Set<string>();
  for (const u of undecided)
    if (u.action === 'pass' || (u.action === 'allow') !== (verdict === 'allow')) out.add(u.reason);
  if (verdict === 'allow') for (const r of l4Only) if (r.l4Only !== undefined) out.add(r.l4Only);
  return out.size > 0 ? Object.freeze([...out]) : NO_NOTES;
}

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
  private readonly tierTable = new Map<string, TierInfo>(BUILTIN_TIERS);
  private readonly mergedCandidates = new Map<readonly CompiledPolicy[], readonly CompiledPolicy[]>();
  private readonly interner: IdentityInterner;
  /** Identities per endpoint object, valid only in the interner generation they were made in. */
  private readonly identityMemo = new WeakMap<PolicyEndpoint, { generation: number; src: number; dst: number }>();
  private readonly podEndpoints = new WeakMap<PodObject, PolicyEndpoint>();
  private readonly ctxMemo = new WeakMap<PolicyEndpoint, { ip: ParsedIp | undefined; nsLabels: Labels }>();
  private readonly closestRules: boolean;

  constructor(
    readonly inventory: PolicyInventory,
    options: EvaluatorOptions = {},
    compilers: readonly PolicyCompiler[] = POLICY_COMPILERS,
  ) {
    this.cache = new LruCache(options.cacheSize ?? 200_000);
    this.ipBlockMatchesPodIps = options.ipBlockMatchesPodIps ?? true;
    this.closestRules = options.closestRules ?? true;
    // Ids are only cache keys: when the interner starts over, cached decisions go with them.
    this.interner = new IdentityInterner(options.identityCacheSize ?? 1_000_000, () => this.cache.clear());
    const byKind = compilersByKind(compilers);
    const env: CompileEnv = {
      ipBlockMatchesPodIps: this.ipBlockMatchesPodIps,
      registerIpMatcher: (key, fn) => this.registerIpMatcher(key, fn),
      useNamedPorts: () => {
        this.usesNamedPorts = true;
      },
      networkSets: inventory.networkSets,
      namespaceLabels: (ns) => inventory.namespaceLabels(ns),
    };
    for (const t of inventory.tiers.values()) {
      if (t.name === DEFAULT_TIER) continue; // always order 1,000,000 and Deny
      this.tierTable.set(t.name, {
        name: t.name,
        order: t.order ?? Number.POSITIVE_INFINITY,
        whenNoMatch: t.defaultAction === 'Pass' ? 'pass' : 'deny',
      });
    }
    for (const p of inventory.policies) {
      const compiler = byKind.get(p.kind);
      if (!compiler) throw new Error(`no policy compiler for ${p.kind}`);
      const c = compiler.compile(p, env);
      if (p.namespace === undefined) this.clusterWide.push(c);
      else {
        let list = this.byNamespace.get(p.namespace);
        if (!list) this.byNamespace.set(p.namespace, (list = []));
        list.push(c);
      }
    }
    for (const l of this.byNamespace.values()) l.sort(byOrderThenName);
    this.clusterWide.sort(byOrderThenName);
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

  /**
   * Endpoints with the same key get the same decisions, as source and as destination (the
   * identity the decision cache is keyed by): callers can evaluate one endpoint per key.
   */
  equivalenceKey(ep: PolicyEndpoint): string {
    return this.identityTexts(ep).withPorts;
  }

  /** `base` decides an endpoint as source; `withPorts` adds its named ports, for a destination. */
  private identityTexts(ep: PolicyEndpoint): { base: string; withPorts: string } {
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
    return { base, withPorts };
  }

  private identity(ep: PolicyEndpoint, asDst: boolean): number {
    const memo = this.identityMemo.get(ep);
    if (memo && memo.generation === this.interner.generation) return asDst ? memo.dst : memo.src;
    const { base, withPorts } = this.identityTexts(ep);
    let ids: { generation: number; src: number; dst: number };
    do {
      const generation = this.interner.generation;
      ids = { generation, src: this.interner.intern(base), dst: this.interner.intern(withPorts) };
    } while (ids.generation !== this.interner.generation);
    this.identityMemo.set(ep, ids);
    return asDst ? ids.dst : ids.src;
  }

  private ctx(ep: PolicyEndpoint): Ctx {
    // The parsed address and namespace labels of an endpoint object do not change: parse once.
    let base = this.ctxMemo.get(ep);
    if (!base) {
      const ip = ep.ip !== undefined ? parseIp(ep.ip) : undefined;
      base = { ip, nsLabels: this.nsLabelsOf(ep) };
      this.ctxMemo.set(ep, base);
    }
    return { ep, nsLabels: base.nsLabels, ip: base.ip, isPod: ep.kind === 'pod' && !ep.hostNetwork };
  }

  private registerIpMatcher(key: string, fn: (ip: ParsedIp) => boolean): void {
    if (this.ipMatcherKeys.has(key)) return;
    this.ipMatcherKeys.set(key, this.ipMatchers.length);
    this.ipMatchers.push(fn);
  }

  /** The policies that may select an endpoint of the namespace, by order then name (memoized). */
  private candidates(self: Ctx): readonly CompiledPolicy[] {
    const local = self.ep.namespace !== undefined ? this.byNamespace.get(self.ep.namespace) : undefined;
    if (!local) return this.clusterWide;
    if (this.clusterWide.length === 0) return local;
    let merged = this.mergedCandidates.get(local);
    if (!merged) this.mergedCandidates.set(local, (merged = [...local, ...this.clusterWide].sort(byOrderThenName)));
    return merged;
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
        basis: 'default',
        uncertain: NO_NOTES,
      });
    }
    const selecting: Array<{ p: CompiledPolicy; d: CompiledDirection }> = [];
    for (const p of this.candidates(self)) {
      const d = p[direction];
      if (d && p.selects(self)) selecting.push({ p, d });
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
        basis: 'default',
        uncertain: NO_NOTES,
      });
    }
    const notes = new Set<string>();
    const isolatedBy = selecting.filter((s) => s.d.isolates).map((s) => s.p.ref);
    const undecided: UncertainCandidate[] = [];
    const l4Only: CompiledRule[] = [];
    const ruleMatches = (r: CompiledRule): boolean => {
      for (const n of r.notes) notes.add(n);
      const pm = r.matchPort(port, proto, dst);
      if (pm === 'unresolved') {
        const n = `${policyRefString(r.ref)} ${direction}[${r.ref.ruleIndex}]: named port not resolvable (destination pod ports unknown)`;
        notes.add(n);
        undecided.push({ action: r.ref.action, reason: n });
      }
      if (r.uncertain !== undefined && pm !== 'nomatch') undecided.push({ action: r.ref.action, reason: r.uncertain });
      const m = pm === 'match' && r.matchPeer(peer, self);
      if (m && r.l4Only !== undefined) l4Only.push(r);
      return m;
    };

    const allowedBy: RuleRef[] = [];
    const deniedBy: RuleRef[] = [];
    let verdict: 'allow' | 'deny' | undefined;
    let basis: DirectionDecision['basis'] = 'default';
    let decidingTier: string | undefined;

    // Tiers in order: Admin, Calico tiers, the default tier (NetworkPolicy, Cilium, Calico default
    // tier), Baseline. A tier none of whose policies selects the endpoint is skipped.
    const tiers: TierInfo[] = [];
    for (const s of selecting) if (!tiers.some((t) => t.name === s.p.tier)) tiers.push(this.tierInfo(s.p.tier, notes));
    if (tiers.length > 1) tiers.sort(byTierOrder);
    for (const tier of tiers) {
      const inTier = tiers.length === 1 ? selecting : selecting.filter((s) => s.p.tier === tier.name);
      if (tier.name === DEFAULT_TIER) {
        const out = this.defaultTier(inTier, ruleMatches, allowedBy, deniedBy, direction);
        if (out === undefined) continue;
        verdict = out.verdict;
        basis = out.basis;
        decidingTier = DEFAULT_TIER;
        break;
      }
      const out = this.firstMatch(inTier, ruleMatches);
      if (out === 'pass') continue;
      if (out) {
        verdict = out.ref.action === 'allow' ? 'allow' : 'deny';
        (verdict === 'allow' ? allowedBy : deniedBy).push(out.ref);
        basis = 'rule';
        decidingTier = tier.name;
        break;
      }
      if (tier.whenNoMatch !== 'deny') continue;
      verdict = 'deny';
      basis = 'end-of-tier';
      decidingTier = tier.name;
      for (const s of inTier) deniedBy.push({ ...s.p.ref, direction, ruleIndex: -1, action: 'deny' });
      break;
    }
    // Nothing decided (no policy selects, or everything passed or fell through): allowed.
    verdict ??= 'allow';

    const allowed = verdict === 'allow';
    const closestRules =
      allowed || !this.closestRules ? NO_CLOSEST : this.closest(selecting, peer, self, dst, port, proto);
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
      basis,
      ...(decidingTier !== undefined ? { tier: decidingTier } : {}),
      uncertain: uncertainReasons(undecided, allowedBy.length > l4Only.length ? [] : l4Only, verdict),
    });
  }

  private tierInfo(name: string, notes: Set<string>): TierInfo {
    let t = this.tierTable.get(name);
    if (!t) {
      // Without its Tier resource a Calico tier's order is unknown: assume it runs before default.
      t = { name, order: DEFAULT_ORDER - 1, whenNoMatch: 'deny', assumed: true };
      this.tierTable.set(name, t);
    }
    if (t.assumed) notes.add(`tier ${name} has no Tier resource: assumed to run before the default tier`);
    return t;
  }

  /**
   * The default tier: Cilium deny rules first, then ordered (Calico) policies in order and the
   * additive (NetworkPolicy, Cilium) allow rules. Undefined when it does not decide: nothing
   * isolates the endpoint for this direction, or a Calico rule passed.
   */
  private defaultTier(
    inDefault: Array<{ p: CompiledPolicy; d: CompiledDirection }>,
    ruleMatches: (r: CompiledRule) => boolean,
    allowedBy: RuleRef[],
    deniedBy: RuleRef[],
    direction: PolicyDirection,
  ): { verdict: 'allow' | 'deny'; basis: DirectionDecision['basis'] } | undefined {
    for (const { d } of inDefault) for (const r of d.denyRules) if (ruleMatches(r)) deniedBy.push(r.ref);
    if (deniedBy.length > 0) return { verdict: 'deny', basis: 'rule' };
    let orderedDecided: CompiledRule | 'pass' | undefined;
    for (const s of inDefault) {
      if (s.p.ordered) {
        if (orderedDecided !== undefined) continue;
        const out = this.firstMatch([s], ruleMatches);
        if (out) orderedDecided = out;
        // An ordered rule before the additive policies decides before they are consulted.
        if (out && out !== 'pass' && out.ref.action === 'deny' && allowedBy.length === 0) {
          deniedBy.push(out.ref);
          return { verdict: 'deny', basis: 'rule' };
        }
        if (out && out !== 'pass' && out.ref.action === 'allow') allowedBy.push(out.ref);
      } else {
        for (const r of s.d.rules) if (ruleMatches(r)) allowedBy.push(r.ref);
      }
    }
    if (allowedBy.length > 0) return { verdict: 'allow', basis: 'rule' };
    if (orderedDecided === 'pass' || !inDefault.some((s) => s.d.isolates)) return undefined;
    let calico = false;
    for (const s of inDefault)
      if (s.p.ordered) {
        calico = true;
        deniedBy.push({ ...s.p.ref, direction, ruleIndex: -1, action: 'deny' });
      }
    return { verdict: 'deny', basis: calico ? 'end-of-tier' : 'isolation' };
  }

  /** First match over ordered policies: the deciding rule, 'pass', or undefined. */
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
}
