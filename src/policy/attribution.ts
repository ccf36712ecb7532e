/**
 * Which policy dropped a flow (DESIGN.md "Attribution"): three levels.
 * - reported: the source named the policy (Hubble `*_denied_by`, the deny / end-of-tier entry of
 *   a Calico enforced policy trace).
 * - inferred: the source named none; the inventory covers the namespace of the enforcing side, so
 *   the evaluator lists the policies that isolate the endpoint and why no rule admitted the flow.
 * - unknown: no inventory for that namespace (or the loaded policies would admit the flow): said
 *   so in `reason`, never guessed.
 * `FlowAttributor.attribute` is called per drop by the aggregator: attributions are memoized
 * (bounded) by what decides them, looked up before the evaluator is asked; decisions come from
 * the evaluator's cache.
 */
import type { FlowEndpoint, FlowRecord } from '../flow/flow-record.js';
import {
  reportedAttribution,
  reportedPolicies,
  type AttributedClosestRule,
  type AttributedPolicy,
  type Attribution,
  type FlowAttributor,
} from './attribution.contract.js';
import { describeLabels } from './label-selector.js';
import { policyEndpointFromFlow } from './flow-endpoints.js';
import {
  NetworkPolicyEvaluator,
  type DirectionDecision,
  type EvaluatorOptions,
  type PolicyEndpoint,
} from './network-policy.evaluator.js';
import { DecisionCache, MAX_KEY } from './decision-cache.js';
import { LruCache } from './lru-cache.js';
import { PolicyInventory } from './policy-inventory.js';
import { policyRefString, type PolicyDirection, type PolicyRef, type RuleRef } from './policy-model.js';

export * from './attribution.contract.js';

/** Distinct flow protocols that get memoized attributions (TCP, UDP, SCTP, ICMP, ...). */
const MAX_PROTOCOLS = 16;

function describeEndpoint(e: PolicyEndpoint): string {
  if (e.kind === 'external') return e.ip ?? 'an external address';
  if (e.kind === 'host') return `host ${e.ip ?? ''}`.trim();
  return `${e.namespace ?? ''}/${describeLabels(e.labels)}`;
}

function flowPortText(protocol: string, port: number | undefined): string {
  return port !== undefined ? `${protocol}/${port}` : protocol;
}

function toAttributed(r: PolicyRef | RuleRef): AttributedPolicy {
  const out: AttributedPolicy = { kind: r.kind, name: r.name };
  if (r.namespace !== undefined) out.namespace = r.namespace;
  if (r.tier !== undefined) out.tier = r.tier;
  if ('ruleIndex' in r) {
    out.action = r.action;
    out.ruleIndex = r.ruleIndex;
    out.direction = r.direction;
  }
  return out;
}

/** The one-sentence reason a side denied: also what `policy-test` prints for a denied side. */
export function sideReason(d: DirectionDecision, src: PolicyEndpoint, dst: PolicyEndpoint, portText: string): string {
  const peer = d.direction === 'egress' ? `to ${describeEndpoint(dst)}` : `from ${describeEndpoint(src)}`;
  const self =
    d.direction === 'egress' ? `egress from ${describeEndpoint(src)}` : `ingress to ${describeEndpoint(dst)}`;
  const explicit = d.deniedBy.filter((r) => r.ruleIndex >= 0);
  const endOfTier = d.deniedBy.filter((r) => r.ruleIndex < 0);
  let s: string;
  if (explicit.length > 0) {
    s = `explicit deny in tier ${d.tier ?? explicit[0].tier ?? 'default'}: ${explicit.map((r) => `${policyRefString(r)} ${r.direction}${r.kind.startsWith('Cilium') ? 'Deny' : ''}[${r.ruleIndex}]`).join(', ')} denies ${portText} ${peer}`;
  } else if (endOfTier.length > 0) {
    s = `end of Calico tier ${endOfTier[0].tier ?? 'default'}: no rule of ${endOfTier.map(policyRefString).join(', ')} matches ${portText} ${peer}`;
  } else {
    s = `no rule of ${d.isolatedBy.map(policyRefString).join(', ')} admits ${portText} ${peer} (${self} is isolated: denied by default isolation)`;
  }
  if (d.closestRules.length > 0) {
    const c = d.closestRules[0];
    s += `; closest: ${policyRefString(c.rule)} ${c.rule.direction}[${c.rule.ruleIndex}] ${c.detail}`;
  }
  return s;
}

/**
 * The attributor's mappings of flow endpoints that carry a label object, kept in the label
 * object itself (non-enumerable, so invisible to spreads, JSON and equality checks): one property
 * load per flow endpoint where a WeakMap of every label object seen costs a lookup in a large
 * table. Labels are shared by the flows of a workload (one object per security identity), so the
 * slot is found again by later flows. The first attributor to meet a label object owns its slot;
 * others (and frozen label objects) use their WeakMap. A slot of an earlier snapshot is ignored
 * and replaced when the label object is met again (until then it keeps that snapshot's endpoint
 * mappings alive: as many as the label objects the flow source still holds).
 */
const LABEL_MAPPINGS: unique symbol = Symbol('attributor endpoint mappings');
interface LabelSlot {
  [LABEL_MAPPINGS]?: MappingsSlot;
}
interface MappingsSlot {
  owner: object;
  epoch: number;
  byName: Map<string, MappedEndpoint[]>;
  /** The mapping last found or made through this slot: tried first (flows of a label object repeat). */
  last: MappedEndpoint | undefined;
}

/** A memoized flow endpoint mapping: the fields it was made from (labels aside) and the result. */
interface MappedEndpoint {
  from: FlowEndpoint;
  ep: PolicyEndpoint;
}

function hasKeys(o: object): boolean {
  for (const k in o) if (Object.hasOwn(o, k)) return true;
  return false;
}

/** Whether two flow endpoints with the same labels object map to the same evaluator endpoint. */
function sameMapping(a: FlowEndpoint, b: FlowEndpoint): boolean {
  return (
    a.kind === b.kind &&
    a.namespace === b.namespace &&
    a.pod === b.pod &&
    a.ip === b.ip &&
    a.service?.namespace === b.service?.namespace &&
    a.service?.name === b.service?.name
  );
}

export interface AttributorOptions extends EvaluatorOptions {
  /** Remember labels seen on flows to fill in endpoints later flows lack (default true). */
  observeEndpoints?: boolean;
  /**
   * Memoized attributions kept (LRU); default 100,000 (room for the distinct drops of a busy
   * minute): half between pods, half with an external or host side.
   */
  attributionCacheSize?: number;
}

/**
 * The attributor the aggregator calls per drop. `source` is a fixed snapshot or anything with
 * `current()` (a PolicyInventorySource): the evaluator is rebuilt when the snapshot changes.
 */
export class InventoryFlowAttributor implements FlowAttributor {
  private evaluator: NetworkPolicyEvaluator | undefined;
  /**
   * Attributions by what they are made of: the endpoints' identity numbers (which with port and
   * protocol determine the decision), port, protocol and direction; between pods three numbers,
   * else a string with the external or host addresses too (they appear in the reason). Both are
   * bounded (half of attributionCacheSize each): a scan from many addresses must not grow them
   * without limit. Identity numbers are reused after the evaluator's interner starts over, so the
   * memo starts over with it.
   */
  private readonly memo: DecisionCache<Attribution>;
  private readonly addressMemo: LruCache<string, Attribution>;
  private memoGeneration = 0;
  /** Small numbers for the protocols of flows (memo keys); at most MAX_PROTOCOLS. */
  private readonly protocols = new Map<string, number>();
  /** Upper-case protocol names by the text flows give (protocolName). */
  private readonly protocolNames = new Map<string, string>();
  /**
   * Evaluator endpoints of labelled pod flow endpoints, by the flow's label object (sources share
   * one per security identity or workload) and the fields the mapping reads; reused endpoint
   * objects keep their identities, so a repeated flow costs no identity work. Only for the current
   * snapshot (the mapping reads the inventory).
   */
  private endpoints = new WeakMap<object, Map<string, MappedEndpoint[]>>();
  /** Marks the slots (LABEL_MAPPINGS) this attributor owns, and the snapshot their mappings are for. */
  private readonly token: object = {};
  private epoch = 0;
  /** External and host endpoints by address (bounded: addresses are unbounded). */
  private addresses = new LruCache<string, PolicyEndpoint>(2_000);
  private hosts = new LruCache<string, PolicyEndpoint>(500);

  constructor(
    private readonly source: PolicyInventory | NetworkPolicyEvaluator | { current(): PolicyInventory },
    private readonly options: AttributorOptions = {},
  ) {
    const max = options.attributionCacheSize ?? 100_000;
    this.memo = new DecisionCache(Math.max(1, max - Math.floor(max / 2)));
    this.addressMemo = new LruCache(Math.max(1, Math.floor(max / 2)));
  }

  /** The evaluator for the current snapshot (updated, not rebuilt, when only pods changed). */
  currentEvaluator(): NetworkPolicyEvaluator {
    if (this.source instanceof NetworkPolicyEvaluator) return this.source;
    const inv = this.source instanceof PolicyInventory ? this.source : this.source.current();
    // Long-lived: every pod's identity and selecting policies are worked out while compiling.
    if (!this.evaluator) this.evaluator = new NetworkPolicyEvaluator(inv, { precomputePods: true, ...this.options });
    else if (this.evaluator.inventory !== inv) {
      // Only pods changed: the compiled policies and decision caches are kept (withInventory).
      // Attributions also depend on which namespaces the snapshot covers: start them over.
      this.evaluator = this.evaluator.withInventory(inv);
      this.memo.clear();
      this.addressMemo.clear();
      this.endpoints = new WeakMap();
      this.epoch++;
      this.addresses.clear();
      this.hosts.clear();
    }
    return this.evaluator;
  }

  attributionCacheStats(): { size: number; max: number } {
    return { size: this.memo.size + this.addressMemo.size, max: this.memo.max + this.addressMemo.max };
  }

  attribute(flow: FlowRecord): Attribution {
    const evaluator = this.currentEvaluator();
    if (this.options.observeEndpoints !== false) {
      evaluator.inventory.observed.observe(flow.src);
      evaluator.inventory.observed.observe(flow.dst);
    }
    const rep = reportedPolicies(flow);
    if (rep.length > 0) return reportedAttribution(flow, rep);
    if (flow.verdict === 'dropped') {
      return {
        level: 'unknown',
        policies: [],
        reason: `dropped for ${flow.dropReason ?? 'a reason other than policy'}, not by network policy`,
      };
    }
    if (flow.verdict === 'allowed') return { level: 'unknown', policies: [], reason: 'the flow was allowed' };
    return this.infer(flow, evaluator);
  }

  /** policyEndpointFromFlow, memoized where the mapping needed no guess and reads only the snapshot. */
  private endpoint(evaluator: NetworkPolicyEvaluator, e: FlowEndpoint, notes: string[]): PolicyEndpoint {
    if ((e.kind === 'world' || e.kind === 'network' || e.kind === 'host') && e.ip !== undefined) {
      const cache = e.kind === 'host' ? this.hosts : this.addresses;
      let ep = cache.get(e.ip);
      if (!ep) cache.set(e.ip, (ep = policyEndpointFromFlow(evaluator, e, notes)));
      return ep;
    }
    const labels = e.labels;
    if (labels === undefined || (e.kind !== 'pod' && e.kind !== 'service'))
      return policyEndpointFromFlow(evaluator, e, notes);
    const slot = this.ownSlot(labels);
    const last = slot?.last;
    if (last !== undefined && sameMapping(last.from, e)) return last.ep;
    let byName = slot !== undefined ? slot.byName : this.endpoints.get(labels);
    // Without labels the mapping may read the observed endpoints, which change: not memoized
    // (a label object in the memo had labels when it was put there).
    if (!byName && !hasKeys(labels)) return policyEndpointFromFlow(evaluator, e, notes);
    const name = e.pod ?? e.ip ?? '';
    const same = byName?.get(name);
    if (same)
      for (const m of same)
        if (sameMapping(m.from, e)) {
          if (slot !== undefined) slot.last = m;
          return m.ep;
        }
    const before = notes.length;
    const ep = policyEndpointFromFlow(evaluator, e, notes);
    if (notes.length === before) {
      if (!byName) this.keepMappings(labels, (byName = new Map()));
      // One label set is shared by the pods of a workload: bounded all the same.
      if (byName.size >= 10_000) byName.clear();
      const list = byName.get(name);
      const m: MappedEndpoint = { from: { ...e }, ep };
      if (list && list.length < 8) list.push(m);
      else byName.set(name, [m]);
      const kept = this.ownSlot(labels);
      if (kept !== undefined) kept.last = m;
    }
    return ep;
  }

  /** The label object's slot when it is this attributor's, for the current snapshot. */
  private ownSlot(labels: object): MappingsSlot | undefined {
    const slot = (labels as LabelSlot)[LABEL_MAPPINGS];
    return slot !== undefined && slot.owner === this.token && slot.epoch === this.epoch ? slot : undefined;
  }

  /** In the label object's slot when it has none or ours (of an earlier snapshot), else in the WeakMap. */
  private keepMappings(labels: object, byName: Map<string, MappedEndpoint[]>): void {
    const slot = (labels as LabelSlot)[LABEL_MAPPINGS];
    const value: MappingsSlot = { owner: this.token, epoch: this.epoch, byName, last: undefined };
    if (slot !== undefined && slot.owner === this.token) (labels as LabelSlot)[LABEL_MAPPINGS] = value;
    else if (slot === undefined && !Object.hasOwn(labels, LABEL_MAPPINGS) && Object.isExtensible(labels))
      Object.defineProperty(labels, LABEL_MAPPINGS, { value, writable: true, enumerable: false });
    else this.endpoints.set(labels, byName);
  }

  private infer(flow: FlowRecord, evaluator: NetworkPolicyEvaluator): Attribution {
    const inv = evaluator.inventory;
    if (inv.isEmpty)
      return {
        level: 'unknown',
        policies: [],
        reason: 'no policy inventory is loaded (set POLICY_MANIFESTS or POLICY_KUBERNETES)',
      };
    const notes: string[] = [];
    const src = this.endpoint(evaluator, flow.src, notes);
    const dst = this.endpoint(evaluator, flow.dst, notes);
    const protocol = this.protocolName(flow.protocol);
    // The memo first: a repeated flow needs the identity numbers, not the decision. The memo key:
    // identity numbers of one interner generation, port, protocol, direction.
    let a: number;
    let b: number;
    let generation: number;
    do {
      generation = evaluator.identityGeneration;
      a = evaluator.identityNumber(src, 'source');
      b = evaluator.identityNumber(dst, 'destination');
    } while (generation !== evaluator.identityGeneration);
    if (generation !== this.memoGeneration) {
      this.memo.clear();
      this.addressMemo.clear();
      this.memoGeneration = generation;
    }
    const c = a > MAX_KEY || b > MAX_KEY ? -1 : this.memoKeyPart(flow, protocol);
    const betweenPods = src.kind === 'pod' && dst.kind === 'pod';
    const addressKey =
      c < 0 || betweenPods
        ? ''
        : `${a}|${b}|${c}|${src.kind === 'pod' ? '' : (src.ip ?? '')}|${dst.kind === 'pod' ? '' : (dst.ip ?? '')}`;
    // A mapping that needed a guess adds notes to the reason: such flows are not memoized.
    if (c >= 0 && notes.length === 0) {
      const hit = betweenPods ? this.memo.get(a, b, c) : this.addressMemo.get(addressKey);
      if (hit) return hit;
    }
    const decision = evaluator.evaluate({ src, dst, port: flow.dstPort, protocol });
    const sides: PolicyDirection[] =
      flow.direction === 'egress' ? ['egress'] : flow.direction === 'ingress' ? ['ingress'] : ['egress', 'ingress'];
    const portText = flowPortText(protocol, flow.dstPort);
    const uncovered: string[] = [];
    const denied: DirectionDecision[] = [];
    const admitted: DirectionDecision[] = [];
    for (const side of sides) {
      const self = side === 'egress' ? src : dst;
      if (self.kind !== 'pod') continue;
      const ns = self.namespace ?? '';
      if (!inv.coversNamespace(ns)) {
        uncovered.push(ns);
        continue;
      }
      const d = side === 'egress' ? decision.egress : decision.ingress;
      if (!d.allowed) denied.push(d);
      else admitted.push(d);
    }

    let result: Attribution;
    if (denied.length > 0) {
      const policies: AttributedPolicy[] = [];
      const isolatedBy: string[] = [];
      const closest: AttributedClosestRule[] = [];
      for (const d of denied) {
        for (const r of d.isolatedBy) {
          const s = policyRefString(r);
          if (!isolatedBy.includes(s)) {
            isolatedBy.push(s);
            policies.push(toAttributed(r));
          }
        }
        for (const r of d.deniedBy) policies.push(toAttributed(r));
        for (const c of d.closestRules)
          closest.push({
            policy: policyRefString(c.rule),
            direction: c.rule.direction,
            ruleIndex: c.rule.ruleIndex,
            detail: c.detail,
          });
      }
      result = {
        level: 'inferred',
        policies,
        isolatedBy,
        reason: denied.map((d) => sideReason(d, src, dst, portText)).join('; '),
      };
      if (denied.length === 1) result.direction = denied[0].direction;
      if (closest.length > 0) result.closestRules = closest;
    } else if (uncovered.length > 0) {
      result = {
        level: 'unknown',
        policies: [],
        reason: `no policy inventory for namespace ${[...new Set(uncovered)].join(', ')}`,
      };
    } else if (admitted.length > 0) {
      const iso = admitted.flatMap((d) => d.isolatedBy.map(policyRefString));
      result = {
        level: 'unknown',
        policies: [],
        reason: `the loaded policies admit ${portText} from ${describeEndpoint(src)} to ${describeEndpoint(dst)}${iso.length > 0 ? ` (isolated by ${[...new Set(iso)].join(', ')})` : ''}; the inventory may be stale or the drop comes from something not modelled`,
      };
      if (iso.length > 0) result.isolatedBy = [...new Set(iso)];
    } else {
      result = {
        level: 'unknown',
        policies: [],
        reason: `neither side of the flow is a pod policy can select (${describeEndpoint(src)} → ${describeEndpoint(dst)})`,
      };
    }
    const limits = [...notes, ...[...decision.egress.notes, ...decision.ingress.notes]];
    if (limits.length > 0 && result.reason) result.reason += ` [${[...new Set(limits)].join('; ')}]`;
    Object.freeze(result);
    // Not when the numbers changed meanwhile (the interner started over while deciding).
    if (notes.length === 0 && c >= 0 && generation === evaluator.identityGeneration) {
      if (betweenPods) this.memo.set(a, b, c, result);
      else this.addressMemo.set(addressKey, result);
    }
    return result;
  }

  /** The flow's protocol in upper case, remembered for the few protocols flows carry (a runtime call each otherwise). */
  private protocolName(given: string): string {
    let name = this.protocolNames.get(given);
    if (name === undefined) {
      name = given.toUpperCase();
      if (this.protocolNames.size < 64) this.protocolNames.set(given, name);
    }
    return name;
  }

  /** Port, protocol and direction in one number for memo keys; -1 when they do not fit one. */
  private memoKeyPart(flow: FlowRecord, protocol: string): number {
    const port = flow.dstPort ?? 65536;
    if (!Number.isInteger(port) || port < 0 || port > 65536) return -1;
    let p = this.protocols.get(protocol);
    if (p === undefined) {
      if (this.protocols.size >= MAX_PROTOCOLS) return -1;
      this.protocols.set(protocol, (p = this.protocols.size));
    }
    const dir = flow.direction === 'egress' ? 1 : flow.direction === 'ingress' ? 2 : 3;
    return (port * MAX_PROTOCOLS + p) * 4 + dir;
  }
}

/** One-off attribution (builds an evaluator when given an inventory; prefer InventoryFlowAttributor). */
export function attributeFlow(flow: FlowRecord, source: PolicyInventory | NetworkPolicyEvaluator): Attribution {
  return new InventoryFlowAttributor(source).attribute(flow);
}
