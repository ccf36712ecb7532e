/**
 * What-if: every observed edge evaluated against the current inventory (before) and the proposal
 * (after). An edge is `uncertain` wherever the evaluator cannot decide (unmodelled rules that could
 * change the verdict, unknown labels or addresses): never a guess. An edge observed denied counts
 * as denied before, whatever the inventory says, so a proposal that admits it is newly allowed.
 */
import {
  inventoryObjectKey,
  isStagedPolicy,
  NetworkPolicyEvaluator,
  policyRefString,
  type DirectionDecision,
  type EvaluatorOptions,
  type InventoryObject,
  type PodObject,
  type PolicyDecision,
  type PolicyEndpoint,
  type PolicyInventory,
  type PolicyRef,
} from '../policy/index.js';
import { labelsMatch, stableLabels, type EdgeEndpoint, type ObservedEdge } from '../suggest/index.js';
import { applyProposal, type Proposal } from './proposal.js';

export type WhatIfVerdict = 'allowed' | 'denied' | 'uncertain';

export interface WhatIfEndpoint {
  kind: EdgeEndpoint['kind'];
  namespace?: string;
  workload?: string;
  ip?: string;
}

export interface WhatIfItem {
  src: WhatIfEndpoint;
  dst: WhatIfEndpoint;
  dstPort: number;
  protocol: ObservedEdge['protocol'];
  count: number;
  lastSeen: string;
  /** The latest verdict the flow source reported for this edge. */
  observed: ObservedEdge['verdict'];
  before: WhatIfVerdict;
  after: WhatIfVerdict;
  /** Policies that deny it after the change (explicit rules, end of tier, or isolating ones). */
  deniedBy: string[];
  /** Policies whose rules admit it after the change. */
  allowedBy: string[];
  reason: string;
}

export interface WhatIfResult {
  window: { from: string; to: string };
  summary: { edges: number; newlyDenied: number; newlyAllowed: number; unchanged: number; uncertain: number };
  /** Policies the proposal added, replaced and removed (`Kind ns/name`). */
  proposal: { added: string[]; replaced: string[]; removed: string[] };
  items: WhatIfItem[];
}

export interface WhatIfOptions {
  window: { from: string; to: string };
  /** Only edges with either end in this namespace. */
  namespace?: string;
  evaluator?: EvaluatorOptions;
}

interface SideVerdict {
  verdict: WhatIfVerdict;
  deniedBy: string[];
  allowedBy: string[];
  reason: string;
}

const refText = (r: PolicyRef): string => `${r.kind === 'NetworkPolicy' ? '' : `${r.kind} `}${policyRefString(r)}`;

/** The text of a direction's decision after its side (`egress from X`), which is all that varies per edge. */
function directionTail(d: DirectionDecision): string {
  const tier = d.tier !== undefined ? `tier ${d.tier}` : 'no tier';
  if (d.allowed) {
    if (d.basis === 'rule') return ` allowed by ${[...new Set(d.allowedBy.map(refText))].join(', ')} (${tier})`;
    return ' not isolated';
  }
  if (d.basis === 'rule') return ` denied explicitly by ${[...new Set(d.deniedBy.map(refText))].join(', ')} (${tier})`;
  if (d.basis === 'end-of-tier')
    return ` denied at the end of ${tier}: no rule of ${[...new Set(d.deniedBy.map(refText))].join(', ')} matches`;
  return ` denied by default isolation: isolated by ${[...new Set(d.isolatedBy.map(refText))].join(', ')}, no rule admits`;
}

function verdictOf(d: PolicyDecision): WhatIfVerdict {
  if (d.egress.uncertain.length > 0 || d.ingress.uncertain.length > 0) return 'uncertain';
  return d.allowed ? 'allowed' : 'denied';
}

/**
 * Which endpoints the proposal can affect: a direction's decision depends only on the policies of
 * the enforcing endpoint's namespace and the cluster-scoped ones (and the Calico tiers and
 * network sets), so an edge with neither end in a changed namespace keeps its decision.
 */
function changedScope(current: PolicyInventory, next: PolicyInventory): { all: boolean; namespaces: Set<string> } {
  const namespaces = new Set<string>();
  const key = (o: InventoryObject): string => inventoryObjectKey(o);
  const was = new Map<string, InventoryObject>(current.objects().map((o) => [key(o), o]));
  const now = new Map<string, InventoryObject>(next.objects().map((o) => [key(o), o]));
  let all = false;
  const note = (o: InventoryObject): void => {
    if (o.kind === 'Namespace' || o.kind === 'Pod' || isStagedPolicy(o)) return;
    if (o.namespace === undefined || o.kind === 'NetworkSet') all = true;
    else namespaces.add(o.namespace);
  };
  for (const [k, o] of now) if (was.get(k) !== o) note(o);
  for (const [k, o] of was) if (!now.has(k)) note(o);
  return { all, namespaces };
}

/** What a direction decision says, apart from the endpoint texts: computed once per decision. */
interface DirectionSummary {
  deniedBy: readonly string[];
  allowedBy: readonly string[];
  tail: string;
}

/** Direction decisions are shared by the evaluator (one per plan and rule outcome): memoized. */
const summaries = new WeakMap<DirectionDecision, DirectionSummary>();

function summaryOf(x: DirectionDecision): DirectionSummary {
  let s = summaries.get(x);
  if (!s) {
    const denied = x.allowed ? [] : x.deniedBy.length > 0 ? x.deniedBy : x.isolatedBy;
    s = {
      deniedBy: [...new Set(denied.map(policyRefString))],
      allowedBy: x.allowed ? [...new Set(x.allowedBy.map(policyRefString))] : [],
      tail: directionTail(x),
    };
    summaries.set(x, s);
  }
  return s;
}

/** The names of two lists, in order, each once. */
function union(a: readonly string[], b: readonly string[]): string[] {
  if (b.length === 0) return a.slice();
  if (a.length === 0) return b.slice();
  return [...new Set([...a, ...b])];
}

function sideVerdict(d: PolicyDecision, src: string, dst: string): SideVerdict {
  const eg = summaryOf(d.egress);
  const ing = summaryOf(d.ingress);
  const egDenied = !d.egress.allowed;
  const ingDenied = !d.ingress.allowed;
  const deniedBy = union(egDenied ? eg.deniedBy : [], ingDenied ? ing.deniedBy : []);
  const allowedBy = union(egDenied ? [] : eg.allowedBy, ingDenied ? [] : ing.allowedBy);
  // The denied directions explain a denial; otherwise every direction that applies.
  const egText = egDenied || (!ingDenied && d.egress.applies);
  const ingText = ingDenied || (!egDenied && d.ingress.applies);
  let reason =
    egText && ingText
      ? `egress from ${src}${eg.tail}; ingress to ${dst}${ing.tail}`
      : egText
        ? `egress from ${src}${eg.tail}`
        : ingText
          ? `ingress to ${dst}${ing.tail}`
          : 'neither end is a pod that policies select';
  const uncertain =
    d.egress.uncertain.length + d.ingress.uncertain.length > 0
      ? [...new Set([...d.egress.uncertain, ...d.ingress.uncertain])]
      : [];
  if (uncertain.length > 0) reason = `cannot decide: ${uncertain.join('; ')} (${reason})`;
  return {
    verdict: uncertain.length > 0 ? 'uncertain' : d.allowed ? 'allowed' : 'denied',
    deniedBy,
    allowedBy,
    reason,
  };
}

/** An edge endpoint as the evaluator sees it, or why it cannot be evaluated. */
interface ResolvedEndpoint {
  ep: PolicyEndpoint;
  text: string;
  unknown?: string;
}

class EndpointResolver {
  private readonly memo = new Map<string, ResolvedEndpoint>();
  private readonly podsByNs = new Map<string, PodObject[]>();

  constructor(private readonly inventory: PolicyInventory) {
    for (const p of inventory.pods) {
      if (p.hostNetwork) continue;
      let l = this.podsByNs.get(p.namespace);
      if (!l) this.podsByNs.set(p.namespace, (l = []));
      l.push(p);
    }
  }

  resolve(e: EdgeEndpoint, key: string): ResolvedEndpoint {
    let r = this.memo.get(key);
    if (!r) this.memo.set(key, (r = this.build(e)));
    return r;
  }

  private build(e: EdgeEndpoint): ResolvedEndpoint {
    const ip = e.ips[0];
    if (e.kind === 'world') {
      const ep: PolicyEndpoint = { kind: 'external', labels: {} };
      if (ip !== undefined) ep.ip = ip;
      const out: ResolvedEndpoint = { ep, text: ip ?? 'an external address' };
      if (ip === undefined) out.unknown = 'the external address is unknown';
      return out;
    }
    if (e.kind === 'host') {
      const ep: PolicyEndpoint = { kind: 'host', labels: {} };
      if (ip !== undefined) ep.ip = ip;
      return { ep, text: `host ${ip ?? ''}`.trim() };
    }
    const ns = e.namespace ?? '';
    const text = `${ns}/${e.workload ?? '?'}`;
    // A replica of the workload gives the container ports (named ports) and an address (CIDR rules).
    const replica =
      Object.keys(e.labels).length > 0
        ? this.podsByNs.get(ns)?.find((p) => labelsMatch(e.labels, stableLabels(p.labels)))
        : undefined;
    const ep: PolicyEndpoint = {
      kind: 'pod',
      namespace: ns,
      labels: e.labels,
      namespaceLabels: this.inventory.namespaceLabels(ns),
    };
    if (e.workload !== undefined) ep.name = e.workload;
    if (replica) {
      ep.namedPorts = replica.ports;
      if (replica.ips[0] !== undefined) ep.ip = replica.ips[0];
    }
    const out: ResolvedEndpoint = { ep, text };
    if (Object.keys(e.labels).length === 0) out.unknown = `the labels of ${text} are unknown`;
    return out;
  }
}

function endpointView(e: EdgeEndpoint): WhatIfEndpoint {
  const out: WhatIfEndpoint = { kind: e.kind };
  if (e.namespace !== undefined) out.namespace = e.namespace;
  if (e.workload !== undefined) out.workload = e.workload;
  if (e.ips[0] !== undefined && e.kind !== 'pod') out.ip = e.ips[0];
  return out;
}

const endpointKeys = new WeakMap<EdgeEndpoint, string>();

/** Endpoint identity for merging and memoizing: pods by namespace and labels, others by address. */
function endpointKey(e: EdgeEndpoint): string {
  let k = endpointKeys.get(e);
  if (k === undefined) {
    k =
      e.kind === 'pod'
        ? `pod|${e.namespace ?? ''}|${JSON.stringify(Object.entries(e.labels).sort())}`
        : `${e.kind}|${e.ips.join(',')}`;
    endpointKeys.set(e, k);
  }
  return k;
}

/** Edges that differ only in verdict are one edge; its observed verdict is the latest one. */
function mergeVerdicts(edges: readonly ObservedEdge[]): Array<{ edge: ObservedEdge; srcKey: string; dstKey: string }> {
  const byKey = new Map<string, { edge: ObservedEdge; srcKey: string; dstKey: string }>();
  for (const e of edges) {
    const srcKey = endpointKey(e.src);
    const dstKey = endpointKey(e.dst);
    const key = `${srcKey}>${dstKey}>${e.protocol}/${e.dstPort}`;
    const a = byKey.get(key);
    if (!a) {
      byKey.set(key, { edge: { ...e }, srcKey, dstKey });
      continue;
    }
    const m = a.edge;
    if (e.lastSeen > m.lastSeen) {
      m.lastSeen = e.lastSeen;
      m.verdict = e.verdict;
    }
    if (e.firstSeen < m.firstSeen) m.firstSeen = e.firstSeen;
    m.count += e.count;
    if (!m.src.workload && e.src.workload) m.src = { ...m.src, workload: e.src.workload };
    if (!m.dst.workload && e.dst.workload) m.dst = { ...m.dst, workload: e.dst.workload };
  }
  return [...byKey.values()];
}

const RANK: Record<string, number> = { changed: 0, uncertain: 1, unchanged: 2 };

function category(i: WhatIfItem): 'changed' | 'uncertain' | 'unchanged' {
  if (i.before === 'uncertain' || i.after === 'uncertain') return 'uncertain';
  return i.before !== i.after ? 'changed' : 'unchanged';
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Changed edges first, then by count, ties by the text of `[src, dst, dstPort, protocol]` as JSON.
 * That text is compared as its parts are: a JSON object is never a prefix of another, so the
 * first difference falls in the first differing part, and `,` and `"` sort before digits and
 * letters. So each endpoint's JSON is ranked once and items compare by numbers.
 */
function sortItems(items: readonly WhatIfItem[]): Array<{ i: WhatIfItem; c: 'changed' | 'uncertain' | 'unchanged' }> {
  const json = new Map<string, number>();
  const texts = items.map((i) => {
    const src = JSON.stringify(i.src);
    const dst = JSON.stringify(i.dst);
    json.set(src, 0);
    json.set(dst, 0);
    return { src, dst };
  });
  [...json.keys()].sort(byText).forEach((t, n) => json.set(t, n));
  const keyed = items.map((i, n) => ({
    i,
    c: category(i),
    src: json.get(texts[n].src) ?? 0,
    dst: json.get(texts[n].dst) ?? 0,
    port: String(i.dstPort),
  }));
  keyed.sort(
    (x, y) =>
      RANK[x.c] - RANK[y.c] ||
      y.i.count - x.i.count ||
      x.src - y.src ||
      x.dst - y.dst ||
      byText(x.port, y.port) ||
      byText(x.i.protocol, y.i.protocol),
  );
  return keyed;
}

/** Evaluate observed edges before and after a proposal. */
export function whatIf(
  current: PolicyInventory,
  proposal: Proposal,
  edges: readonly ObservedEdge[],
  options: WhatIfOptions,
): WhatIfResult {
  const applied = applyProposal(current, proposal);
  const evaluatorOptions: EvaluatorOptions = { closestRules: false, ...options.evaluator };
  const before = new NetworkPolicyEvaluator(current, evaluatorOptions);
  const after = new NetworkPolicyEvaluator(applied.inventory, evaluatorOptions);
  const resolver = new EndpointResolver(current);
  const scope = changedScope(current, applied.inventory);
  const ns = options.namespace;
  const items: WhatIfItem[] = [];
  for (const { edge, srcKey, dstKey } of mergeVerdicts(edges)) {
    if (ns !== undefined && edge.src.namespace !== ns && edge.dst.namespace !== ns) continue;
    const src = resolver.resolve(edge.src, srcKey);
    const dst = resolver.resolve(edge.dst, dstKey);
    const probe = { src: src.ep, dst: dst.ep, port: edge.dstPort, protocol: edge.protocol };
    const unknown = [src.unknown, dst.unknown].filter((x): x is string => x !== undefined);
    // Every merged edge is a distinct pair of identities: a decision cache would never hit.
    const bd = before.evaluateUncached(probe);
    const affected =
      scope.all ||
      (edge.src.namespace !== undefined && scope.namespaces.has(edge.src.namespace)) ||
      (edge.dst.namespace !== undefined && scope.namespaces.has(edge.dst.namespace));
    const b = { verdict: verdictOf(bd) };
    const a = sideVerdict(affected ? after.evaluateUncached(probe) : bd, src.text, dst.text);
    if (unknown.length > 0) {
      b.verdict = 'uncertain';
      a.verdict = 'uncertain';
      a.reason = `cannot decide: ${unknown.join('; ')}`;
    }
    // What was observed denied was denied, whatever the inventory says.
    if (edge.verdict === 'denied') b.verdict = 'denied';
    items.push({
      src: endpointView(edge.src),
      dst: endpointView(edge.dst),
      dstPort: edge.dstPort,
      protocol: edge.protocol,
      count: edge.count,
      lastSeen: edge.lastSeen,
      observed: edge.verdict,
      before: b.verdict,
      after: a.verdict,
      deniedBy: a.verdict === 'allowed' ? [] : a.deniedBy,
      allowedBy: a.verdict === 'denied' ? [] : a.allowedBy,
      reason: a.reason,
    });
  }
  const keyed = sortItems(items);
  const summary = { edges: items.length, newlyDenied: 0, newlyAllowed: 0, unchanged: 0, uncertain: 0 };
  for (const { i, c } of keyed) {
    if (c === 'uncertain') summary.uncertain++;
    else if (c === 'unchanged') summary.unchanged++;
    else if (i.after === 'denied') summary.newlyDenied++;
    else summary.newlyAllowed++;
  }
  return {
    window: options.window,
    summary,
    proposal: { added: applied.added, replaced: applied.replaced, removed: applied.removed },
    items: keyed.map((x) => x.i),
  };
}
