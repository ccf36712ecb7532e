/**
 * The policy decision engine: given a probe (source endpoint, destination endpoint, port,
 * protocol) and an inventory snapshot, says whether egress from the source and ingress to the
 * destination are allowed, which policies isolate each side, which rules allow, which deny, and
 * the closest rules when nothing allowed. It knows no policy dialect: each policy is compiled once
 * per snapshot by the compiler registered for its kind (policy-compilers.ts) into the common
 * shape of compiled-policy.ts. Exact networking.k8s.io/v1 NetworkPolicy semantics (docs/POLICY.md);
 * Cilium and Calico policies to the extent attribution needs.
 *
 * Speed (docs/PERFORMANCE.md), in layers, each keyed by what the answer depends on:
 * - an identity is namespace + canonical labels (+ namespace labels when they differ from the
 *   inventory's, + the IP matchers the IP falls into, + the named ports of a destination when any
 *   rule uses named ports), interned to a number by a bounded interner whose restarts invalidate
 *   every cache keyed by ids;
 * - which policies select an endpoint, per direction, is computed once per identity from the
 *   selection index (selection-index.ts: policies by namespace and by a label every selected pod
 *   must carry) and shared as a plan by every identity with the same selecting policies;
 * - a direction's decision is a function of its plan and of what each of the plan's rules says
 *   about the probe (port: match / no match / unresolved; peer: match or not): that outcome
 *   vector is computed per probe (no allocation), and the decision object per distinct vector
 *   is built once and shared; a rule's port answer, when it depends on port and protocol only,
 *   is kept per plan by port slot (DirectionPlan.portCodes);
 * - whole decisions are cached (bounded LRU) by (source identity, destination identity, port,
 *   protocol), as numbers. Decisions are frozen and shared.
 * A snapshot that changes only pods keeps all of it (`withInventory`): compiled policies and
 * caches depend on identity contents, never on which pods exist.
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
import { IpBlockIndex } from './ip-block-index.js';
import { canonicalLabels, labelValue, type Labels } from './label-selector.js';
import { DecisionCache, MAX_KEY } from './decision-cache.js';
import { SelectionIndex } from './selection-index.js';
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
import {
  policyRefString,
  type NamedPort,
  type PodObject,
  type PolicyDirection,
  type PolicyRef,
  type RuleRef,
} from './policy-model.js';
import { matchesByNumberOnly, normProto } from './port-matching.js';

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

interface Selected {
  p: CompiledPolicy;
  d: CompiledDirection;
}

/**
 * The policies that select an endpoint for one direction, in evaluation order, with what the
 * decision needs precomputed. Shared by every identity with the same selecting policies.
 */
interface DirectionPlan {
  direction: PolicyDirection;
  selecting: Selected[];
  /** Every rule the decision may consult (deny rules, then rules, per policy): one outcome each. */
  rules: CompiledRule[];
  ruleIndex: Map<CompiledRule, number>;
  /** Rules whose peer is matched even when the port does not (closest rules need both). */
  peerAlways: boolean[];
  /** Rules whose port answer depends on port and protocol only (port-matching.ts matchesByNumberOnly), */
  byNumber: boolean[];
  /**
   * and their port codes + 1 (0: not yet known) by port slot (CompiledState.portSlot): the same
   * rule's port check is answered once per port and protocol, not for every pair of endpoints.
   * Made on first use when any rule is byNumber.
   */
  portCodes: Uint8Array | undefined;
  /** Decisions by outcome vector (base-6 digits, one per rule); plans of up to 20 rules only. */
  outcomes: Map<number, DirectionDecision>;
  /** What every decision of the plan shares, worked out with the plan: the isolating policies, */
  isolatedBy: readonly PolicyRef[];
  /** the tiers of the selecting policies in evaluation order, each with its policies, */
  tiers: readonly PlanTier[];
  /** and the notes about those tiers (the first notes of each decision). */
  tierNotes: readonly string[];
}

interface PlanTier {
  info: TierInfo;
  policies: readonly Selected[];
}

/** Per rule: port 0 no match, 1 match, 2 unresolved; +3 when the peer matched (when computed). */
const PORT_MATCH = 1;
const PORT_UNRESOLVED = 2;
const PEER_MATCH = 3;
/** 6^20 < 2^53: an outcome vector of up to 20 rules is one exact number. */
const MAX_KEYED_RULES = 20;
/** The cache key's third number: (port or 65536 for none) × PROTO_SLOTS + protocol. */
const PORT_SLOTS = 65537;
const PROTO_SLOTS = 32;

/** A protocol as probes give it: its normalized name, and its index in cache keys (-1: none left). */
interface ProtocolEntry {
  name: string;
  index: number;
}

/**
 * Port and protocol pairs given a slot in plans' port-code memos (DirectionPlan.portCodes); later
 * pairs are matched on every probe. Probes use a handful (the bench five, a cluster its services').
 */
const PORT_MEMO_SLOTS = 64;
const NO_PORT_SLOT = 255;

/**
 * What is memoized per endpoint object: its context (the object itself: one object fewer to
 * reach per decision), and its ids in one interner generation.
 */
class IdentityIds implements EndpointContext {
  views: Map<string, Labels> | undefined = undefined;
  /** `ep.labels` and `ep.namedPorts`, replaced by the shared equal ones when the ids are first made. */
  labels: Labels;
  namedPorts: readonly NamedPort[] | undefined;
  /** The interner generation of the ids below (-1: none yet). */
  generation = -1;
  /** Without named ports: as a source, and for selection. */
  src = 0;
  /** With named ports when rules use them: as a destination. */
  dst = 0;
  /** The endpoint's plans once looked up (null: nothing selects it), saving the lookup by id. */
  ingress: DirectionPlan | null | undefined = undefined;
  egress: DirectionPlan | null | undefined = undefined;

  constructor(
    /** The compiled state the ids belong to (its number: the memo must not keep it alive). */
    readonly stateId: number,
    readonly ep: PolicyEndpoint,
    readonly nsLabels: Labels,
    readonly ip: ParsedIp | undefined,
    readonly isPod: boolean,
  ) {
    this.labels = ep.labels;
    this.namedPorts = ep.namedPorts;
  }
}

/**
 * Endpoints made for evaluation (endpointForPod, endpointForIp, flow-endpoints.ts) carry their memo in this
 * non-enumerable slot: reading it is one property load on an object the decision reads anyway,
 * where the WeakMap (kept for endpoints made by callers) costs a hash lookup in a large table.
 * Not enumerable, so spreads and equality checks of endpoints do not see it.
 */
const MEMO: unique symbol = Symbol('policy endpoint identity');
interface MemoSlot {
  [MEMO]?: IdentityIds;
}

/** Gives an endpoint made for evaluation the slot (flow-endpoints.ts, endpointForPod). */
export function withMemoSlot<E extends PolicyEndpoint>(e: E): E {
  Object.defineProperty(e, MEMO, { value: undefined, writable: true, enumerable: false, configurable: false });
  return e;
}

/**
 * The endpoint of an inventory pod (endpointForPod), built by a constructor so that its memo slot
 * is stored in the object itself: a literal has room for its own fields only, and the slot added
 * later would live in a separate property array, one more dependent memory read per endpoint on
 * every cold decision. The object is still plain (prototype Object.prototype, the fields of the
 * literal it replaces, in the same order; the slot not enumerable).
 */
const PodEndpoint = function (this: PolicyEndpoint, pod: PodObject, namespaceLabels: Labels): void {
  this.kind = 'pod';
  this.namespace = pod.namespace;
  this.name = pod.name;
  this.labels = pod.labels;
  this.namespaceLabels = namespaceLabels;
  this.namedPorts = pod.ports;
  this.hostNetwork = pod.hostNetwork;
  if (pod.ips[0] !== undefined) this.ip = pod.ips[0];
  withMemoSlot(this);
} as unknown as new (pod: PodObject, namespaceLabels: Labels) => PolicyEndpoint;
PodEndpoint.prototype = Object.prototype;

/**
 * Whether a probe's port (PORT_SLOTS - 1 for none) and protocol fit the numeric keys of the
 * decision cache and of the port-code memo: a protocol with a cache-key index, an integer port.
 */
function keyedPort(protocol: ProtocolEntry, port: number): boolean {
  return protocol.index >= 0 && Number.isInteger(port) && port >= 0 && port < PORT_SLOTS;
}

/** A port answer as an outcome code (PORT_MATCH, PORT_UNRESOLVED or 0). */
function portCode(r: CompiledRule, port: number | undefined, proto: string, dst: Ctx): number {
  const pm = r.matchPort(port, proto, dst);
  return pm === 'match' ? PORT_MATCH : pm === 'unresolved' ? PORT_UNRESOLVED : 0;
}

/**
 * What rule `i` of a plan says about a probe (see PORT_MATCH, PEER_MATCH): its port code from
 * the plan's memo for port slot `slot` when the rule allows it (slot -1: no memo), and its peer
 * when the port matched or the plan needs the peer anyway (`peerAlways`).
 */
function outcome(
  plan: DirectionPlan,
  i: number,
  slot: number,
  peer: Ctx,
  self: Ctx,
  dst: Ctx,
  port: number | undefined,
  proto: string,
): number {
  const r = plan.rules[i];
  let code: number;
  if (slot >= 0 && plan.byNumber[i]) {
    const n = plan.rules.length;
    const memo = (plan.portCodes ??= new Uint8Array(n * PORT_MEMO_SLOTS));
    const at = slot * n + i;
    code = memo[at] - 1;
    if (code < 0) {
      code = portCode(r, port, proto, dst);
      memo[at] = code + 1;
    }
  } else code = portCode(r, port, proto, dst);
  if ((code === PORT_MATCH || plan.peerAlways[i]) && r.matchPeer(peer, self)) return code + PEER_MATCH;
  return code;
}

/** The value kept under `key`, or `value`, then kept. */
function shared<T>(table: Map<string, T>, key: string, value: T): T {
  const kept = table.get(key);
  if (kept !== undefined) return kept;
  table.set(key, value);
  return value;
}

/** The array frozen, or the shared empty one. */
function frozenOrEmpty<T>(a: T[], empty: readonly T[]): readonly T[] {
  return a.length > 0 ? Object.freeze(a) : empty;
}

function fixedDirection(direction: PolicyDirection, applies: boolean, notes: readonly string[]): DirectionDecision {
  return Object.freeze({
    direction,
    applies,
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

const HOST_NETWORK_NOTES = Object.freeze(['hostNetwork pods are not selected by policies']);
/** Decisions that depend on nothing but the direction. */
const FIXED = {
  notPod: { ingress: fixedDirection('ingress', false, NO_NOTES), egress: fixedDirection('egress', false, NO_NOTES) },
  hostNetwork: {
    ingress: fixedDirection('ingress', false, HOST_NETWORK_NOTES),
    egress: fixedDirection('egress', false, HOST_NETWORK_NOTES),
  },
  notIsolated: { ingress: fixedDirection('ingress', true, NO_NOTES), egress: fixedDirection('egress', true, NO_NOTES) },
} as const;

/**
 * What is compiled from a snapshot's policies, tiers, network sets and namespaces, and the caches
 * keyed by identity contents: shared by the evaluators of snapshots that differ only in pods.
 */
let nextStateId = 1;

class CompiledState {
  readonly id = nextStateId++;
  readonly selection: SelectionIndex;
  readonly cache: DecisionCache<PolicyDecision>;
  readonly ipBlockMatchesPodIps: boolean;
  /** Every distinct IP block rules use (by key), for IP signatures in identities. */
  readonly ipBlocks = new IpBlockIndex();
  readonly ipBlockKeys = new Set<string>();
  /** One object per canonical label text and per named-port text (IdentityIds.labels, .namedPorts). */
  readonly sharedLabels = new Map<string, Labels>();
  readonly sharedPorts = new Map<string, readonly NamedPort[]>();
  usesNamedPorts = false;
  readonly tierTable = new Map<string, TierInfo>(BUILTIN_TIERS);
  readonly interner: IdentityInterner;
  /** Context and identities per endpoint object (an endpoint object does not change). */
  readonly identityMemo = new WeakMap<PolicyEndpoint, IdentityIds>();
  readonly podEndpoints = new WeakMap<PodObject, PolicyEndpoint>();
  /** Plans by the selection identity (the source id) of the enforcing endpoint; ids: cleared on restart. */
  readonly plans = {
    ingress: new Map<number, DirectionPlan | undefined>(),
    egress: new Map<number, DirectionPlan | undefined>(),
  };
  /** Plans by their selecting policies, so identities selected alike share outcome caches. */
  readonly plansBySelection = { ingress: new Map<string, DirectionPlan>(), egress: new Map<string, DirectionPlan>() };
  /** Protocol as given in probes → its normalized name and cache-key index (one lookup per probe). */
  readonly protocols = new Map<string, ProtocolEntry>();
  /** Cache-key indexes by normalized protocol name. */
  readonly protocolIndexes = new Map<string, number>();
  /**
   * By protocol cache-key index, by port (PORT_SLOTS - 1: none): the port's memo slot + 1, 0 when
   * not given yet, NO_PORT_SLOT when none was left (evaluator portSlot).
   */
  readonly portSlots: (Uint8Array | undefined)[] = [];
  portSlotCount = 0;
  readonly closestRules: boolean;

  constructor(
    readonly inventory: PolicyInventory,
    readonly options: EvaluatorOptions,
    compilers: readonly PolicyCompiler[],
  ) {
    this.cache = new DecisionCache(options.cacheSize ?? 200_000);
    this.ipBlockMatchesPodIps = options.ipBlockMatchesPodIps ?? true;
    this.closestRules = options.closestRules ?? true;
    // Ids are only cache keys: when the interner starts over, what is keyed by ids goes with them.
    this.interner = new IdentityInterner(options.identityCacheSize ?? 1_000_000, () => {
      this.cache.clear();
      this.sharedLabels.clear();
      this.sharedPorts.clear();
      this.plans.ingress.clear();
      this.plans.egress.clear();
    });
    const byKind = compilersByKind(compilers);
    const env: CompileEnv = {
      ipBlockMatchesPodIps: this.ipBlockMatchesPodIps,
      registerIpMatcher: (key, block) => {
        if (this.ipBlockKeys.has(key)) return;
        this.ipBlockKeys.add(key);
        this.ipBlocks.add(block);
      },
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
    const compiled: CompiledPolicy[] = [];
    const namespaceOf = new Map<CompiledPolicy, string | undefined>();
    for (const p of inventory.policies) {
      const compiler = byKind.get(p.kind);
      if (!compiler) throw new Error(`no policy compiler for ${p.kind}`);
      const c = compiler.compile(p, env);
      compiled.push(c);
      namespaceOf.set(c, p.namespace);
    }
    // A stable sort of all policies gives the order of any namespace's merged candidates.
    compiled.sort(byOrderThenName);
    this.selection = new SelectionIndex(compiled, (c) => namespaceOf.get(c));
  }

  /** Whether `next` differs from the compiled snapshot in pods only (and so can share this state). */
  compatibleWith(next: PolicyInventory): boolean {
    const a = this.inventory;
    if (a === next) return true;
    const sameList = <T>(x: readonly T[], y: readonly T[]): boolean =>
      x.length === y.length && x.every((o, i) => o === y[i]);
    const sameMap = <T>(x: ReadonlyMap<string, T>, y: ReadonlyMap<string, T>): boolean =>
      x.size === y.size && [...x].every(([k, v]) => y.get(k) === v);
    return (
      sameList(a.policies, next.policies) &&
      sameList(a.networkSets, next.networkSets) &&
      sameMap(a.tiers, next.tiers) &&
      sameMap(a.namespaces, next.namespaces)
    );
  }
}

export class NetworkPolicyEvaluator {
  private readonly s: CompiledState;

  constructor(
    readonly inventory: PolicyInventory,
    options: EvaluatorOptions = {},
    compilers: readonly PolicyCompiler[] = POLICY_COMPILERS,
    /** Compiled state to share (`withInventory`); only when it is compatible with `inventory`. */
    shared?: CompiledState,
  ) {
    this.s = shared ?? new CompiledState(inventory, options, compilers);
    if (!shared && options.precomputePods) this.precomputePods();
  }

  /**
   * The evaluator of another snapshot of the same cluster: this one for the same snapshot; one
   * that keeps the compiled policies and every cache when only pods changed (decisions depend on
   * identity contents, so a changed pod just has a new identity); else a new compilation.
   */
  withInventory(
    next: PolicyInventory,
    compilers: readonly PolicyCompiler[] = POLICY_COMPILERS,
  ): NetworkPolicyEvaluator {
    if (next === this.inventory) return this;
    if (this.s.compatibleWith(next)) return new NetworkPolicyEvaluator(next, this.s.options, compilers, this.s);
    return new NetworkPolicyEvaluator(next, this.s.options, compilers);
  }

  /** True when both evaluators use one compilation of the policies (and share its caches). */
  sharesCompilation(other: NetworkPolicyEvaluator): boolean {
    return this.s === other.s;
  }

  // ---- endpoints ----

  /** The endpoint of an inventory pod (memoized, so its identity is computed once). */
  endpointForPod(pod: PodObject): PolicyEndpoint {
    let e = this.s.podEndpoints.get(pod);
    if (!e) {
      e = new PodEndpoint(pod, this.inventory.namespaceLabels(pod.namespace));
      this.s.podEndpoints.set(pod, e);
    }
    return e;
  }

  /** An IP: the inventory pod that owns it, else an external endpoint. */
  endpointForIp(ip: string): PolicyEndpoint {
    const pod = this.inventory.podByIp(ip);
    if (pod) return withMemoSlot({ ...this.endpointForPod(pod), ip });
    return withMemoSlot({ kind: 'external', labels: {}, ip });
  }

  // ---- evaluation ----

  /** Evaluate with the decision cache. The result is frozen and shared: do not mutate. */
  evaluate(probe: PolicyProbe): PolicyDecision {
    const s = this.s;
    const protocol = this.protocol(probe.protocol);
    const proto = protocol.name;
    let src: IdentityIds;
    let dst: IdentityIds;
    do {
      // All ids must come from one interner generation (interning dst may start it over).
      src = this.identity(probe.src);
      dst = this.identity(probe.dst);
    } while (src.generation !== s.interner.generation || dst.generation !== s.interner.generation);
    const port = probe.port ?? PORT_SLOTS - 1;
    if (!keyedPort(protocol, port) || src.src > MAX_KEY || dst.dst > MAX_KEY)
      return this.decide(probe, proto, -1, src, dst);
    const portProto = port * PROTO_SLOTS + protocol.index;
    const hit = s.cache.get(src.src, dst.dst, portProto);
    if (hit) return hit;
    const d = this.decide(probe, proto, this.portSlot(protocol, port), src, dst);
    s.cache.addMissing(src.src, dst.dst, portProto, d);
    return d;
  }

  evaluateUncached(probe: PolicyProbe): PolicyDecision {
    let src: IdentityIds;
    let dst: IdentityIds;
    do {
      src = this.identity(probe.src);
      dst = this.identity(probe.dst);
    } while (src.generation !== this.s.interner.generation || dst.generation !== this.s.interner.generation);
    const protocol = this.protocol(probe.protocol);
    const port = probe.port ?? PORT_SLOTS - 1;
    return this.decide(probe, protocol.name, keyedPort(protocol, port) ? this.portSlot(protocol, port) : -1, src, dst);
  }

  /** Policies that select the endpoint for a direction (isolating it). */
  isolatingPolicies(ep: PolicyEndpoint, direction: PolicyDirection): PolicyRef[] {
    const self = this.ctx(ep);
    if (!self.isPod) return [];
    return this.s.selection
      .candidates(ep.namespace, ep.labels)
      .filter((p) => p[direction]?.isolates && p.selects(self))
      .map((p) => p.ref);
  }

  /**
   * The number an endpoint's decisions are cached by, as source or as destination: two probes
   * whose endpoints have the same numbers, port and protocol get the same decision, as long as
   * `identityGeneration` has not changed (numbers are reused after the identity interner starts
   * over) and on evaluators that share a compilation (`sharesCompilation`).
   */
  identityNumber(ep: PolicyEndpoint, role: 'source' | 'destination'): number {
    const ids = this.identity(ep);
    return role === 'source' ? ids.src : ids.dst;
  }

  /** Changes each time identity numbers start over (see identityNumber). */
  get identityGeneration(): number {
    return this.s.interner.generation;
  }

  cacheStats(): { hits: number; misses: number; size: number } {
    return { hits: this.s.cache.hits, misses: this.s.cache.misses, size: this.s.cache.size };
  }

  // ---- internals: identity ----

  /** The normalized name and cache-key index of a probe's protocol (default TCP). */
  private protocol(p: string | undefined): ProtocolEntry {
    const s = this.s;
    const given = p ?? 'TCP';
    let e = s.protocols.get(given);
    if (e === undefined) {
      const name = normProto(given);
      e = { name, index: this.protoIndex(name) };
      // Bounded: protocols outside the table are normalized on each use.
      if (s.protocols.size < 256) s.protocols.set(given, e);
    }
    return e;
  }

  /**
   * The port-code memo slot of a port (an integer in [0, PORT_SLOTS), PORT_SLOTS - 1 for none) of
   * a protocol with a cache-key index; -1 once PORT_MEMO_SLOTS are taken.
   */
  private portSlot(protocol: ProtocolEntry, port: number): number {
    const s = this.s;
    const slots = (s.portSlots[protocol.index] ??= new Uint8Array(PORT_SLOTS));
    const given = slots[port];
    if (given !== 0) return given === NO_PORT_SLOT ? -1 : given - 1;
    const slot = s.portSlotCount < PORT_MEMO_SLOTS ? s.portSlotCount++ : -1;
    slots[port] = slot < 0 ? NO_PORT_SLOT : slot + 1;
    return slot;
  }

  /** A small number per protocol for cache keys; -1 once PROTO_SLOTS are taken (not cached). */
  private protoIndex(proto: string): number {
    let i = this.s.protocolIndexes.get(proto);
    if (i === undefined) {
      if (this.s.protocolIndexes.size >= PROTO_SLOTS) return -1;
      i = this.s.protocolIndexes.size;
      this.s.protocolIndexes.set(proto, i);
    }
    return i;
  }

  private nsLabelsOf(ep: PolicyEndpoint): Labels {
    const ns = ep.namespace;
    if (ns === undefined) return {};
    if (this.inventory.hasNamespaceManifest(ns) || !ep.namespaceLabels) return this.inventory.namespaceLabels(ns);
    return ep.namespaceLabels[NAMESPACE_NAME_LABEL] === ns
      ? ep.namespaceLabels
      : { ...ep.namespaceLabels, [NAMESPACE_NAME_LABEL]: ns };
  }

  /** The IP blocks the address falls into (ip-block-index.ts); '' for none or no address. */
  private ipSignature(ip: ParsedIp | undefined): string {
    return ip === undefined ? '' : this.s.ipBlocks.signature(ip);
  }

  /**
   * Endpoints with the same key get the same decisions, as source and as destination (the
   * identity the decision cache is keyed by): callers can evaluate one endpoint per key.
   */
  equivalenceKey(ep: PolicyEndpoint): string {
    return this.identityTexts(this.identity(ep)).withPorts;
  }

  /** The memo of an endpoint, with ids of the current interner generation. */
  private identity(ep: PolicyEndpoint): IdentityIds {
    const s = this.s;
    let memo = (ep as MemoSlot)[MEMO];
    if (memo === undefined || memo.stateId !== s.id) {
      memo = s.identityMemo.get(ep);
      if (memo === undefined) {
        const ip = ep.ip !== undefined ? parseIp(ep.ip) : undefined;
        memo = new IdentityIds(s.id, ep, this.nsLabelsOf(ep), ip, ep.kind === 'pod' && !ep.hostNetwork);
        // The slot keeps the memo of the first compiled state that meets the endpoint.
        if (MEMO in ep && (ep as MemoSlot)[MEMO] === undefined) (ep as MemoSlot)[MEMO] = memo;
        else s.identityMemo.set(ep, memo);
      }
    }
    if (memo.generation === s.interner.generation) return memo;
    const { base, withPorts, labels, ports } = this.identityTexts(memo);
    if (memo.generation === -1) {
      // Endpoints whose labels (or ports) have the same canonical text share one object: rules
      // then read a few hot objects instead of one per pod (identities already equate them).
      memo.labels = shared(s.sharedLabels, labels, memo.labels);
      if (ports !== undefined && memo.namedPorts !== undefined)
        memo.namedPorts = shared(s.sharedPorts, ports, memo.namedPorts);
    }
    do {
      memo.generation = s.interner.generation;
      memo.src = s.interner.intern(base);
      memo.dst = withPorts === base ? memo.src : s.interner.intern(withPorts);
    } while (memo.generation !== s.interner.generation);
    memo.ingress = undefined;
    memo.egress = undefined;
    return memo;
  }

  /**
   * `base` decides an endpoint as source; `withPorts` adds its named ports, for a destination.
   * Also the canonical texts of its labels and (when rules use named ports) ports.
   */
  private identityTexts(ctx: Ctx): { base: string; withPorts: string; labels: string; ports: string | undefined } {
    const ep = ctx.ep;
    const ns = ep.namespace ?? '';
    let nsId = '';
    if (ep.kind === 'pod') {
      const nsl = ctx.nsLabels;
      nsId = nsl === this.inventory.namespaceLabels(ns) ? '' : canonicalLabels(nsl);
    }
    const labels = canonicalLabels(ep.labels);
    const base = `${ep.kind}${ep.hostNetwork ? 'H' : ''}|${ns}|${labels}|${nsId}|${this.ipSignature(ctx.ip)}`;
    const ports =
      this.s.usesNamedPorts && ep.kind === 'pod'
        ? ep.namedPorts === undefined
          ? '?'
          : ep.namedPorts.map((p) => `${p.name ?? ''}:${p.port}/${p.protocol}`).join(',')
        : undefined;
    return { base, withPorts: ports === undefined ? base : `${base}|${ports}`, labels, ports };
  }

  private ctx(ep: PolicyEndpoint): Ctx {
    return this.identity(ep);
  }

  // ---- internals: decision ----

  /** `slot`: the probe's port slot (portSlot), or -1. */
  private decide(probe: PolicyProbe, proto: string, slot: number, src: IdentityIds, dst: IdentityIds): PolicyDecision {
    const egress = this.direction('egress', src, src, dst, dst, probe.port, proto, slot);
    const ingress = this.direction('ingress', dst, dst, src, dst, probe.port, proto, slot);
    return Object.freeze({ allowed: egress.allowed && ingress.allowed, egress, ingress });
  }

  /** The plan of the endpoint with selection identity `id` for a direction; undefined: nothing selects it. */
  private plan(direction: PolicyDirection, self: Ctx, id: number): DirectionPlan | undefined {
    const s = this.s;
    const byId = s.plans[direction];
    if (byId.has(id)) return byId.get(id);
    const selecting: Selected[] = [];
    for (const p of s.selection.candidates(self.ep.namespace, self.ep.labels)) {
      const d = p[direction];
      if (d && p.selects(self)) selecting.push({ p, d });
    }
    const plan = this.planOf(direction, selecting);
    byId.set(id, plan);
    return plan;
  }

  /** The shared plan of a selecting list (in evaluation order); undefined when it is empty. */
  private planOf(direction: PolicyDirection, selecting: Selected[]): DirectionPlan | undefined {
    const s = this.s;
    let plan: DirectionPlan | undefined;
    if (selecting.length > 0) {
      const key = selecting.map((x) => s.selection.rankOf(x.p)).join(',');
      plan = s.plansBySelection[direction].get(key);
      if (!plan) {
        const rules: CompiledRule[] = [];
        const peerAlways: boolean[] = [];
        for (const { d } of selecting) {
          for (const r of d.denyRules) {
            rules.push(r);
            peerAlways.push(false);
          }
          for (const r of d.rules) {
            rules.push(r);
            // closest(): every allow rule's peer and port.
            peerAlways.push(s.closestRules && r.ref.action === 'allow' && !r.logOnly);
          }
        }
        const tierNotes = new Set<string>();
        // Tiers in order: Admin, Calico tiers, the default tier (NetworkPolicy, Cilium, Calico
        // default tier), Baseline; a tier none of whose policies selects the endpoint is skipped.
        const infos: TierInfo[] = [];
        for (const x of selecting)
          if (!infos.some((t) => t.name === x.p.tier)) infos.push(this.tierInfo(x.p.tier, tierNotes));
        if (infos.length > 1) infos.sort(byTierOrder);
        plan = {
          direction,
          selecting,
          rules,
          ruleIndex: new Map(rules.map((r, i) => [r, i])),
          peerAlways,
          byNumber: rules.map((r) => matchesByNumberOnly(r.matchPort)),
          portCodes: undefined,
          outcomes: new Map(),
          isolatedBy: frozenOrEmpty(
            selecting.filter((x) => x.d.isolates).map((x) => x.p.ref),
            NO_REFS,
          ),
          tiers: infos.map((info) => ({
            info,
            policies: infos.length === 1 ? selecting : selecting.filter((x) => x.p.tier === info.name),
          })),
          tierNotes: [...tierNotes],
        };
        s.plansBySelection[direction].set(key, plan);
      }
    }
    return plan;
  }

  /**
   * Every inventory pod's identity and plans, computed from the policies' side: each policy's
   * selected pods come from a pod index (namespace → pods, then label key=value → pods for the
   * policy's selection hint) and are confirmed with its selector, so no policy scans every pod
   * unless it selects across namespaces without a required label. Part of compiling.
   */
  private precomputePods(): void {
    const s = this.s;
    const byNamespace = new Map<string, PodObject[]>();
    const all: PodObject[] = [];
    for (const pod of this.inventory.pods) {
      if (pod.hostNetwork) continue;
      all.push(pod);
      let l = byNamespace.get(pod.namespace);
      if (!l) byNamespace.set(pod.namespace, (l = []));
      l.push(pod);
    }
    // label key=value → pods, per namespace ('' for all), built for the keys hints use.
    const byLabel = new Map<string, Map<string, Map<string, PodObject[]>>>();
    const podsWith = (ns: string | undefined, key: string, value: string): readonly PodObject[] => {
      const scope = ns ?? '';
      let byKey = byLabel.get(scope);
      if (!byKey) byLabel.set(scope, (byKey = new Map()));
      let byValue = byKey.get(key);
      if (!byValue) {
        byKey.set(key, (byValue = new Map()));
        for (const pod of ns === undefined ? all : (byNamespace.get(ns) ?? [])) {
          const v = labelValue(pod.labels, key);
          if (v === undefined) continue;
          let l = byValue.get(v);
          if (!l) byValue.set(v, (l = []));
          l.push(pod);
        }
      }
      return byValue.get(value) ?? [];
    };
    const selected = new Map<PodObject, { ingress: Selected[]; egress: Selected[] }>();
    for (const pod of all) selected.set(pod, { ingress: [], egress: [] });
    for (const p of s.selection.ordered) {
      if (!p.ingress && !p.egress) continue;
      const ns = s.selection.namespaceOf(p);
      const hint = p.selectionHint;
      const candidates: Iterable<PodObject> = hint
        ? new Set(hint.values.flatMap((v) => podsWith(ns, hint.key, v)))
        : ns === undefined
          ? all
          : (byNamespace.get(ns) ?? []);
      for (const pod of candidates) {
        const ctx = this.identity(this.endpointForPod(pod));
        if (!p.selects(ctx)) continue;
        const lists = selected.get(pod);
        if (!lists) continue;
        if (p.ingress) lists.ingress.push({ p, d: p.ingress });
        if (p.egress) lists.egress.push({ p, d: p.egress });
      }
    }
    for (const [pod, lists] of selected) {
      const ids = this.identity(this.endpointForPod(pod));
      if (ids.ingress === undefined) {
        ids.ingress = this.planOf('ingress', lists.ingress) ?? null;
        s.plans.ingress.set(ids.src, ids.ingress ?? undefined);
      }
      if (ids.egress === undefined) {
        ids.egress = this.planOf('egress', lists.egress) ?? null;
        s.plans.egress.set(ids.src, ids.egress ?? undefined);
      }
    }
  }

  private direction(
    direction: PolicyDirection,
    self: Ctx,
    selfIds: IdentityIds,
    peer: Ctx,
    dst: Ctx,
    port: number | undefined,
    proto: string,
    slot: number,
  ): DirectionDecision {
    const egress = direction === 'egress';
    if (!self.isPod) {
      const fixed = self.ep.kind === 'pod' ? FIXED.hostNetwork : FIXED.notPod;
      return egress ? fixed.egress : fixed.ingress;
    }
    let plan = egress ? selfIds.egress : selfIds.ingress;
    if (plan === undefined) {
      plan = this.plan(direction, self, selfIds.src) ?? null;
      if (egress) selfIds.egress = plan;
      else selfIds.ingress = plan;
    }
    if (!plan) return egress ? FIXED.notIsolated.egress : FIXED.notIsolated.ingress;
    const rules = plan.rules;
    const n = rules.length;
    if (n > MAX_KEYED_RULES) {
      const codes: number[] = [];
      for (let i = 0; i < n; i++) codes.push(outcome(plan, i, slot, peer, self, dst, port, proto));
      return this.decideDirection(plan, codes);
    }
    let key = 0;
    for (let i = 0; i < n; i++) key = key * 6 + outcome(plan, i, slot, peer, self, dst, port, proto);
    let d = plan.outcomes.get(key);
    if (!d) {
      const codes: number[] = new Array<number>(n);
      for (let i = n - 1, k = key; i >= 0; i--, k = Math.floor(k / 6)) codes[i] = k % 6;
      d = this.decideDirection(plan, codes);
      plan.outcomes.set(key, d);
    }
    return d;
  }

  /** The decision of a plan for an outcome vector: pure, so built once per vector. */
  private decideDirection(plan: DirectionPlan, codes: readonly number[]): DirectionDecision {
    const direction = plan.direction;
    const notes = new Set<string>(plan.tierNotes);
    const undecided: UncertainCandidate[] = [];
    const l4Only: CompiledRule[] = [];
    const codeOf = (r: CompiledRule): number => codes[plan.ruleIndex.get(r) ?? -1] ?? 0;
    const ruleMatches = (r: CompiledRule): boolean => {
      for (const n of r.notes) notes.add(n);
      const c = codeOf(r);
      const pm = c % PEER_MATCH;
      if (pm === PORT_UNRESOLVED) {
        const n = `${policyRefString(r.ref)} ${direction}[${r.ref.ruleIndex}]: named port not resolvable (destination pod ports unknown)`;
        notes.add(n);
        undecided.push({ action: r.ref.action, reason: n });
      }
      if (r.uncertain !== undefined && pm !== 0) undecided.push({ action: r.ref.action, reason: r.uncertain });
      const m = pm === PORT_MATCH && c >= PEER_MATCH;
      if (m && r.l4Only !== undefined) l4Only.push(r);
      return m;
    };

    const allowedBy: RuleRef[] = [];
    const deniedBy: RuleRef[] = [];
    let verdict: 'allow' | 'deny' | undefined;
    let basis: DirectionDecision['basis'] = 'default';
    let decidingTier: string | undefined;

    for (const { info: tier, policies: inTier } of plan.tiers) {
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
    const closestRules = allowed || !this.s.closestRules ? NO_CLOSEST : this.closest(plan, codeOf);
    return Object.freeze({
      direction,
      applies: true,
      isolated: plan.isolatedBy.length > 0,
      allowed,
      isolatedBy: plan.isolatedBy,
      allowedBy: frozenOrEmpty(allowedBy, NO_RULES),
      deniedBy: frozenOrEmpty(deniedBy, NO_RULES),
      closestRules,
      notes: notes.size > 0 ? Object.freeze([...notes]) : NO_NOTES,
      basis,
      ...(decidingTier !== undefined ? { tier: decidingTier } : {}),
      uncertain: uncertainReasons(undecided, allowedBy.length > l4Only.length ? [] : l4Only, verdict),
    });
  }

  private tierInfo(name: string, notes: Set<string>): TierInfo {
    let t = this.s.tierTable.get(name);
    if (!t) {
      // Without its Tier resource a Calico tier's order is unknown: assume it runs before default.
      t = { name, order: DEFAULT_ORDER - 1, whenNoMatch: 'deny', assumed: true };
      this.s.tierTable.set(name, t);
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
    inDefault: readonly Selected[],
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
    policies: readonly Selected[],
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

  /** Allow rules that matched the peer or the port but not both (from the outcome vector). */
  private closest(plan: DirectionPlan, codeOf: (r: CompiledRule) => number): readonly ClosestRule[] {
    const out: ClosestRule[] = [];
    for (const { d } of plan.selecting) {
      for (const r of d.rules) {
        if (r.ref.action !== 'allow' || r.logOnly) continue;
        const c = codeOf(r);
        const peerOk = c >= PEER_MATCH;
        const portOk = c % PEER_MATCH === PORT_MATCH;
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
