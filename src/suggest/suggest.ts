/**
 * suggest(inventory, edges, options): the allow rules that fix denied flows (`fix`), or the
 * policies that lock a namespace down without breaking its observed traffic (`baseline`), each
 * verified by the evaluator against the inventory plus itself.
 */
import {
  buildInventory,
  NetworkPolicyEvaluator,
  normalizeObject,
  type InventoryObject,
  type PolicyEndpoint,
  type PolicyInventory,
} from '../policy/index.js';
import { compactCidrs } from './external-peers.js';
import { overPermission, type OverPermission } from './over-permission.js';
import { edgeKey, type EdgeEndpoint, type ObservedEdge } from './observed-edge.js';
import { renderPolicy, toMultiDocYaml, type RenderedPolicy } from './policy-dialects.js';
import {
  edgeText,
  portText,
  type PortSpec,
  type SuggestedPeer,
  type SuggestedPolicy,
  type SuggestedRule,
  type SuggestFormat,
  type SuggestMode,
} from './suggestion-model.js';
import { labelsMatch, stableLabels, workloadSelector } from './workload-labels.js';

export interface SuggestOptions {
  mode: SuggestMode;
  format: SuggestFormat;
  /** Only policies placed in this namespace (required sense for baseline: which namespace to lock down). */
  namespace?: string;
  /** The window the edges come from, for the coverage note; default: first..last seen of the edges. */
  window?: { from: string; to: string };
  /** Most over-permission examples per suggestion; default 5. */
  maxExamples?: number;
}

export interface Verification {
  /** Observed edges the suggestion claims to fix or keep working. */
  claimed: number;
  /** Of those, the edges the evaluator admits (every replica pair) with the suggestion applied. */
  admitted: number;
  /** Edges whose rules the evaluator cannot check (Cilium toFQDNs) or no dialect rule can express. */
  unverified: number;
  /** Pod pairs newly admitted that no observed flow asked for (src/suggest/over-permission.ts). */
  overPermission: OverPermission;
  notes: string[];
}

export interface SuggestionItem {
  namespace: string;
  yaml: string;
  /** The rendered objects, in YAML order. */
  policies: Array<Record<string, unknown>>;
  /** The observed edges this suggestion covers, as text. */
  covers: string[];
  verification: Verification;
}

export interface CoverageNote {
  window: { from: string; to: string } | undefined;
  edges: number;
  flows: number;
  edgesSeenOnce: number;
  /** Edges that an existing policy already admits (nothing to suggest). */
  alreadyAdmitted: number;
  /** Edges outside the mode's verdicts or namespace. */
  ignored: number;
}

export interface SuggestionResult {
  mode: SuggestMode;
  format: SuggestFormat;
  items: SuggestionItem[];
  coverage: CoverageNote;
  /** All suggestions applied together: claimed edges admitted end to end (both sides). */
  combined: { claimed: number; admitted: number };
  notes: string[];
}

export class SuggestInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SuggestInputError';
  }
}

const POLICY_PREFIX = 'dropscope';
const DNS_PORT = 53;
const DEFAULT_DNS_PEER: SuggestedPeer = {
  kind: 'pod',
  namespace: 'kube-system',
  name: 'kube-dns',
  selector: { 'k8s-app': 'kube-dns' },
};

function slug(s: string): string {
  const out = s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return (out || 'workload').slice(0, 200);
}

function inventoryObjects(inv: PolicyInventory): InventoryObject[] {
  return [...inv.namespaces.values(), ...inv.pods, ...inv.policies];
}

/** The replicas of an edge endpoint as evaluator endpoints (every pod of the workload). */
function replicas(ev: NetworkPolicyEvaluator, e: EdgeEndpoint): PolicyEndpoint[] {
  if (e.kind === 'host')
    return e.ips.length > 0 ? e.ips.map((ip) => ({ kind: 'host', labels: {}, ip })) : [{ kind: 'host', labels: {} }];
  if (e.kind === 'world')
    return e.ips.length > 0
      ? e.ips.map((ip) => ({ kind: 'external', labels: {}, ip }))
      : [{ kind: 'external', labels: {} }];
  const ns = e.namespace ?? '';
  const pods = ev.inventory.pods.filter(
    (p) => p.namespace === ns && !p.hostNetwork && labelsMatch(e.labels, stableLabels(p.labels)),
  );
  if (pods.length > 0) return pods.map((p) => ev.endpointForPod(p));
  return [{ kind: 'pod', namespace: ns, labels: e.labels, namespaceLabels: ev.inventory.namespaceLabels(ns) }];
}

interface SideResult {
  allowed: boolean;
  ingressDenied: boolean;
  egressDenied: boolean;
  ingressAllowed: boolean;
  egressAllowed: boolean;
}

/** Evaluate an edge for every replica pair. */
function evaluateEdge(ev: NetworkPolicyEvaluator, e: ObservedEdge): SideResult {
  const r: SideResult = {
    allowed: true,
    ingressDenied: false,
    egressDenied: false,
    ingressAllowed: true,
    egressAllowed: true,
  };
  const dsts = replicas(ev, e.dst);
  for (const src of replicas(ev, e.src))
    for (const dst of dsts) {
      const d = ev.evaluate({ src, dst, port: e.dstPort, protocol: e.protocol });
      if (!d.ingress.allowed) r.ingressDenied = true;
      if (!d.egress.allowed) r.egressDenied = true;
    }
  r.ingressAllowed = !r.ingressDenied;
  r.egressAllowed = !r.egressDenied;
  r.allowed = r.ingressAllowed && r.egressAllowed;
  return r;
}

function neighbourLabels(inv: PolicyInventory, ns: string): Array<Record<string, string>> {
  return inv.pods.filter((p) => p.namespace === ns && !p.hostNetwork).map((p) => stableLabels(p.labels));
}

function workloadName(e: EdgeEndpoint): string {
  return e.workload ?? (Object.values(e.labels)[0] || 'workload');
}

function peerOf(inv: PolicyInventory, e: EdgeEndpoint, edge: ObservedEdge): SuggestedPeer {
  if (e.kind === 'pod') {
    const ns = e.namespace ?? '';
    return {
      kind: 'pod',
      namespace: ns,
      name: workloadName(e),
      selector: workloadSelector(e.labels, neighbourLabels(inv, ns)),
    };
  }
  if (e.kind === 'host')
    return { kind: 'host', cidrs: [...e.ips], entities: e.entity ? [e.entity] : ['host', 'remote-node'] };
  return { kind: 'world', cidrs: [...e.ips], names: e === edge.dst ? [...(edge.dnsNames ?? [])] : [] };
}

function peerKey(p: SuggestedPeer): string {
  if (p.kind === 'pod') return `pod:${p.namespace}:${JSON.stringify(Object.entries(p.selector).sort())}`;
  if (p.kind === 'host') return 'host';
  // External addresses group by the DNS names they answered for; unnamed ones form one peer.
  return `world:${p.names.join(',')}`;
}

function mergePeer(into: SuggestedPeer, from: SuggestedPeer): void {
  if (into.kind === 'pod' || from.kind === 'pod') return;
  for (const c of from.cidrs) if (!into.cidrs.includes(c)) into.cidrs.push(c);
  if (into.kind === 'host' && from.kind === 'host')
    for (const en of from.entities) if (!into.entities.includes(en)) into.entities.push(en);
}

/** Collects rules per (namespace, subject workload), one rule per peer with its ports merged. */
class PolicyCollector {
  readonly policies = new Map<string, SuggestedPolicy & { ruleIndex: Map<string, SuggestedRule> }>();

  constructor(readonly inv: PolicyInventory) {}

  policy(namespace: string, name: string, subject: string, selector: Record<string, string>) {
    const key = `${namespace}/${name}`;
    let p = this.policies.get(key);
    if (!p) {
      p = { namespace, name, subject, selector, types: [], ingress: [], egress: [], ruleIndex: new Map() };
      this.policies.set(key, p);
    }
    return p;
  }

  subjectPolicy(e: EdgeEndpoint) {
    const ns = e.namespace ?? '';
    const subject = workloadName(e);
    return this.policy(
      ns,
      `${POLICY_PREFIX}-allow-${slug(subject)}`,
      subject,
      workloadSelector(e.labels, neighbourLabels(this.inv, ns)),
    );
  }

  add(
    p: SuggestedPolicy & { ruleIndex: Map<string, SuggestedRule> },
    dir: 'ingress' | 'egress',
    peer: SuggestedPeer,
    ports: PortSpec[],
    edge?: ObservedEdge,
  ): SuggestedRule {
    const key = `${dir}|${peerKey(peer)}`;
    let rule = p.ruleIndex.get(key);
    if (!rule) {
      rule = { peer, ports: [], covers: [] };
      p.ruleIndex.set(key, rule);
      p[dir].push(rule);
    } else mergePeer(rule.peer, peer);
    for (const port of ports)
      if (!rule.ports.some((x) => x.protocol === port.protocol && x.port === port.port)) rule.ports.push(port);
    if (edge && !rule.covers.includes(edge)) rule.covers.push(edge);
    const type = dir === 'ingress' ? 'Ingress' : 'Egress';
    if (!p.types.includes(type)) p.types.push(type);
    return rule;
  }
}

function sortPolicy(p: SuggestedPolicy): void {
  const byPeer = (a: SuggestedRule, b: SuggestedRule): number => {
    const ka = peerKey(a.peer);
    const kb = peerKey(b.peer);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  };
  for (const rules of [p.ingress, p.egress]) {
    rules.sort(byPeer);
    for (const r of rules) {
      r.ports.sort((a, b) => (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : a.port - b.port));
      if (r.peer.kind !== 'pod') r.peer.cidrs = compactCidrs(r.peer.cidrs);
      r.covers.sort((a, b) => (edgeKey(a) < edgeKey(b) ? -1 : 1));
    }
  }
  p.types.sort();
}

function defaultDeny(namespace: string): SuggestedPolicy {
  return {
    namespace,
    name: `${POLICY_PREFIX}-default-deny`,
    subject: '*',
    selector: {},
    types: ['Egress', 'Ingress'],
    ingress: [],
    egress: [],
  };
}

function isDnsEdge(e: ObservedEdge): boolean {
  return e.dstPort === DNS_PORT && (e.protocol === 'UDP' || e.protocol === 'TCP') && e.dst.kind === 'pod';
}

/** Toward external names, Cilium learns addresses only from DNS answers its proxy sees. */
function addFqdnSupport(c: PolicyCollector, edges: readonly ObservedEdge[]): void {
  const dnsPeers = edges.filter(isDnsEdge).map((e) => peerOf(c.inv, e.dst, e));
  const peer = dnsPeers[0] ?? DEFAULT_DNS_PEER;
  for (const p of c.policies.values()) {
    if (!p.egress.some((r) => r.peer.kind === 'world' && r.peer.names.length > 0)) continue;
    const rule = c.add(p, 'egress', { ...peer }, [
      { protocol: 'TCP', port: DNS_PORT },
      { protocol: 'UDP', port: DNS_PORT },
    ]);
    rule.support = 'DNS through the Cilium proxy, so toFQDNs learns the addresses';
  }
}

interface Placement {
  policy: SuggestedPolicy;
  dir: 'ingress' | 'egress';
  edge: ObservedEdge;
}

function buildFix(
  inv: PolicyInventory,
  ev: NetworkPolicyEvaluator,
  edges: readonly ObservedEdge[],
  opts: SuggestOptions,
  coverage: CoverageNote,
) {
  const c = new PolicyCollector(inv);
  const placements: Placement[] = [];
  for (const e of edges) {
    if (e.verdict === 'allowed') {
      coverage.ignored++;
      continue;
    }
    const r = evaluateEdge(ev, e);
    if (r.allowed) {
      coverage.alreadyAdmitted++;
      continue;
    }
    let placed = false;
    const port: PortSpec = { protocol: e.protocol, port: e.dstPort };
    if (r.ingressDenied && e.dst.kind === 'pod' && (!opts.namespace || opts.namespace === e.dst.namespace)) {
      const p = c.subjectPolicy(e.dst);
      c.add(p, 'ingress', peerOf(inv, e.src, e), [port], e);
      placements.push({ policy: p, dir: 'ingress', edge: e });
      placed = true;
    }
    if (r.egressDenied && e.src.kind === 'pod' && (!opts.namespace || opts.namespace === e.src.namespace)) {
      const p = c.subjectPolicy(e.src);
      c.add(p, 'egress', peerOf(inv, e.dst, e), [port], e);
      placements.push({ policy: p, dir: 'egress', edge: e });
      placed = true;
    }
    if (!placed) coverage.ignored++;
  }
  if (opts.format === 'cilium') addFqdnSupport(c, edges);
  return { collector: c, placements, extra: [] as SuggestedPolicy[] };
}

function buildBaseline(
  inv: PolicyInventory,
  edges: readonly ObservedEdge[],
  ns: string,
  opts: SuggestOptions,
  coverage: CoverageNote,
) {
  const deny = defaultDeny(ns);
  const denied = new NetworkPolicyEvaluator(withPolicies(inv, [renderPolicy(deny, 'k8s')]));
  const c = new PolicyCollector(inv);
  const dns = c.policy(ns, `${POLICY_PREFIX}-allow-dns`, '*', {});
  const placements: Placement[] = [];
  for (const e of edges) {
    const inside = (x: EdgeEndpoint) => x.kind === 'pod' && x.namespace === ns;
    if (e.verdict !== 'allowed' || (!inside(e.src) && !inside(e.dst))) {
      coverage.ignored++;
      continue;
    }
    const r = evaluateEdge(denied, e);
    if (r.allowed) {
      coverage.alreadyAdmitted++;
      continue;
    }
    const port: PortSpec = { protocol: e.protocol, port: e.dstPort };
    if (r.egressDenied && inside(e.src)) {
      // DNS stays one namespace-wide rule, as every pod resolves names; UDP and TCP both.
      if (isDnsEdge(e)) {
        c.add(
          dns,
          'egress',
          peerOf(inv, e.dst, e),
          [
            { protocol: 'TCP', port: DNS_PORT },
            { protocol: 'UDP', port: DNS_PORT },
          ],
          e,
        );
        placements.push({ policy: dns, dir: 'egress', edge: e });
      } else {
        const p = c.subjectPolicy(e.src);
        c.add(p, 'egress', peerOf(inv, e.dst, e), [port], e);
        placements.push({ policy: p, dir: 'egress', edge: e });
      }
    }
    if (r.ingressDenied && inside(e.dst)) {
      const p = c.subjectPolicy(e.dst);
      c.add(p, 'ingress', peerOf(inv, e.src, e), [port], e);
      placements.push({ policy: p, dir: 'ingress', edge: e });
    }
  }
  if (dns.egress.length === 0) c.policies.delete(`${ns}/${dns.name}`);
  if (opts.format === 'cilium') addFqdnSupport(c, edges);
  return { collector: c, placements, extra: [deny] };
}

function toObjects(rendered: readonly RenderedPolicy[]): { objects: InventoryObject[]; errors: string[] } {
  const objects: InventoryObject[] = [];
  const errors: string[] = [];
  for (const r of rendered) {
    const res = normalizeObject(r.object);
    if (res.status === 'ok') objects.push(res.object);
    else
      errors.push(
        `${String((r.object.metadata as { name?: string }).name)}: ${res.status === 'invalid' ? res.errors.join('; ') : res.reason}`,
      );
  }
  return { objects, errors };
}

function withPolicies(inv: PolicyInventory, rendered: readonly RenderedPolicy[]): PolicyInventory {
  const { objects, errors } = toObjects(rendered);
  if (errors.length > 0) throw new Error(`suggested policy does not load: ${errors.join(' | ')}`);
  return buildInventory([...inventoryObjects(inv), ...objects]);
}

/** True when the rule form in this dialect cannot be checked or expressed for the edge. */
function unverifiableReason(rule: SuggestedRule, format: SuggestFormat): string | undefined {
  if (rule.peer.kind !== 'world') return undefined;
  if (format === 'cilium' && rule.peer.names.length > 0)
    return 'toFQDNs (the evaluator does not model DNS-based rules)';
  if (rule.peer.cidrs.length === 0) return 'no address observed for the name, and this dialect has no DNS-name rule';
  return undefined;
}

function verifyItem(
  inv: PolicyInventory,
  before: NetworkPolicyEvaluator,
  policies: readonly SuggestedPolicy[],
  rendered: readonly RenderedPolicy[],
  placements: readonly Placement[],
  format: SuggestFormat,
  maxExamples: number,
): Verification {
  const after = new NetworkPolicyEvaluator(withPolicies(inv, rendered));
  const mine = new Set(policies);
  const notes: string[] = [];
  const edgeOk = new Map<ObservedEdge, boolean>();
  const unverified = new Set<ObservedEdge>();
  for (const pl of placements) {
    if (!mine.has(pl.policy)) continue;
    const rule = pl.policy[pl.dir].find((r) => r.covers.includes(pl.edge));
    const why = rule ? unverifiableReason(rule, format) : undefined;
    if (why) {
      unverified.add(pl.edge);
      notes.push(`${edgeText(pl.edge)}: not verified: ${why}`);
      continue;
    }
    const r = evaluateEdge(after, pl.edge);
    const ok = pl.dir === 'ingress' ? r.ingressAllowed : r.egressAllowed;
    edgeOk.set(pl.edge, (edgeOk.get(pl.edge) ?? true) && ok);
  }
  for (const e of unverified) edgeOk.delete(e);
  // Pod pairs the suggestion newly admits on its own side, minus the observed ones.
  const claimed = new Map<string, Set<string>>();
  for (const pl of placements) {
    if (!mine.has(pl.policy)) continue;
    const port = portText({ protocol: pl.edge.protocol, port: pl.edge.dstPort });
    const dsts = replicas(after, pl.edge.dst);
    for (const s of replicas(after, pl.edge.src))
      for (const d of dsts) {
        if (s.name === undefined || d.name === undefined) continue; // not an inventory pod
        const k = `${s.namespace}/${s.name}>${d.namespace}/${d.name}`;
        let asked = claimed.get(k);
        if (!asked) claimed.set(k, (asked = new Set()));
        asked.add(port);
      }
  }
  const over = overPermission(inv, before, after, policies, claimed, { maxExamples });
  for (const p of policies)
    for (const r of [...p.ingress, ...p.egress])
      if (r.peer.kind === 'world')
        for (const cidr of r.peer.cidrs)
          if (!cidr.endsWith('/32') && !cidr.endsWith('/128'))
            notes.push(
              `${p.name}: ${cidr} admits addresses beyond the ${r.covers.length > 0 ? 'observed ones' : 'rule'}`,
            );
  return {
    claimed: edgeOk.size + unverified.size,
    admitted: [...edgeOk.values()].filter(Boolean).length,
    unverified: unverified.size,
    overPermission: over,
    notes,
  };
}

function coverageOf(edges: readonly ObservedEdge[], window: SuggestOptions['window']): CoverageNote {
  let from: string | undefined;
  let to: string | undefined;
  for (const e of edges) {
    if (from === undefined || e.firstSeen < from) from = e.firstSeen;
    if (to === undefined || e.lastSeen > to) to = e.lastSeen;
  }
  return {
    window: window ?? (from !== undefined && to !== undefined ? { from, to } : undefined),
    edges: edges.length,
    flows: edges.reduce((n, e) => n + e.count, 0),
    edgesSeenOnce: edges.filter((e) => e.count === 1).length,
    alreadyAdmitted: 0,
    ignored: 0,
  };
}

/** Namespaces baseline mode locks down: the one asked for, else every namespace with pods and no policy. */
function baselineNamespaces(inv: PolicyInventory, opts: SuggestOptions): string[] {
  const hasPolicy = (ns: string) => inv.policies.some((p) => p.namespace === ns);
  if (opts.namespace) {
    if (hasPolicy(opts.namespace))
      throw new SuggestInputError(
        `namespace ${opts.namespace} already has policies: baseline is for a namespace without any; use --mode fix`,
      );
    return [opts.namespace];
  }
  return [...new Set(inv.pods.map((p) => p.namespace))].filter((ns) => !hasPolicy(ns)).sort();
}

export function suggest(
  inventory: PolicyInventory,
  edges: readonly ObservedEdge[],
  opts: SuggestOptions,
): SuggestionResult {
  if (opts.namespace !== undefined && !inventory.coversNamespace(opts.namespace))
    throw new SuggestInputError(
      `namespace ${opts.namespace} is not in the cluster manifests (known: ${inventory.namespaceNames().join(', ') || 'none'})`,
    );
  const coverage = coverageOf(edges, opts.window);
  const maxExamples = opts.maxExamples ?? 5;
  const current = new NetworkPolicyEvaluator(inventory);
  const builds: Array<{ ns?: string; built: ReturnType<typeof buildFix> }> = [];
  if (opts.mode === 'fix') builds.push({ built: buildFix(inventory, current, edges, opts, coverage) });
  else {
    const namespaces = baselineNamespaces(inventory, opts);
    for (const ns of namespaces) {
      const cov = { ...coverage, alreadyAdmitted: 0, ignored: 0 };
      builds.push({ ns, built: buildBaseline(inventory, edges, ns, opts, cov) });
      // An edge counts once however many namespaces looked at it.
      coverage.alreadyAdmitted += cov.alreadyAdmitted;
    }
    coverage.ignored = edges.filter((e) => e.verdict !== 'allowed').length;
  }
  const items: SuggestionItem[] = [];
  const allRendered: RenderedPolicy[] = [];
  const allPlacements: Placement[] = [];
  for (const { ns: baselineNs, built } of builds) {
    const all = [
      ...built.extra,
      ...[...built.collector.policies.values()].filter((p) => p.ingress.length + p.egress.length > 0),
    ];
    for (const p of all) sortPolicy(p);
    const byNs = new Map<string, SuggestedPolicy[]>();
    for (const p of all) byNs.set(p.namespace, [...(byNs.get(p.namespace) ?? []), p]);
    for (const [ns, policies] of [...byNs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (opts.mode === 'baseline' && policies.length === 1 && baselineNs !== undefined) {
        // Only the default deny: no observed traffic in the namespace, say so rather than lock it.
        items.push(emptyBaseline(ns));
        continue;
      }
      // Default deny first, then namespace-wide policies, then one per workload, by name.
      const rank = (p: SuggestedPolicy) => (p.name.endsWith('-default-deny') ? 0 : p.subject === '*' ? 1 : 2);
      const ordered = [...policies].sort((a, b) => rank(a) - rank(b) || (a.name < b.name ? -1 : 1));
      const rendered = ordered.map((p) => renderPolicy(p, opts.format));
      const before =
        opts.mode === 'baseline'
          ? new NetworkPolicyEvaluator(withPolicies(inventory, [renderPolicy(defaultDeny(ns), 'k8s')]))
          : current;
      const verification = verifyItem(inventory, before, ordered, rendered, built.placements, opts.format, maxExamples);
      const covers = [
        ...new Set(built.placements.filter((pl) => ordered.includes(pl.policy)).map((pl) => edgeText(pl.edge))),
      ].sort();
      items.push({
        namespace: ns,
        yaml: toMultiDocYaml(rendered),
        policies: rendered.map((r) => r.object),
        covers,
        verification,
      });
      allRendered.push(...rendered);
    }
    allPlacements.push(...built.placements);
  }
  const combined = { claimed: 0, admitted: 0 };
  if (allRendered.length > 0 && opts.mode === 'fix') {
    const after = new NetworkPolicyEvaluator(withPolicies(inventory, allRendered));
    for (const e of new Set(allPlacements.map((p) => p.edge))) {
      combined.claimed++;
      if (evaluateEdge(after, e).allowed) combined.admitted++;
    }
  } else if (opts.mode === 'baseline') {
    for (const it of items) {
      combined.claimed += it.verification.claimed;
      combined.admitted += it.verification.admitted;
    }
  }
  const notes: string[] = [];
  if (inventory.isEmpty) notes.push('the cluster manifests hold no objects: every flow looks admitted');
  return { mode: opts.mode, format: opts.format, items, coverage, combined, notes };
}

function emptyBaseline(ns: string): SuggestionItem {
  return {
    namespace: ns,
    yaml: '',
    policies: [],
    covers: [],
    verification: {
      claimed: 0,
      admitted: 0,
      unverified: 0,
      overPermission: { podPairs: 0, examples: [] },
      notes: [`no allowed traffic observed for ${ns}: a default deny would be a guess, none suggested`],
    },
  };
}
