/**
 * Rule conditions over stored per-minute roll-ups: which edges, namespaces or policies meet a
 * rule's condition now. Pure: the rows come from PostgreSQL, the baseline answer too.
 */
import type { AlertRule, RateRule, UnexpectedDropRule } from './alert-rules.js';
import { matchesAll, type Labels, type Matcher } from './matchers.js';

/** The edge an alert is about, kept with the alert for the message and the suggested fix. */
export interface AlertEdge {
  cluster: string;
  srcKind: string;
  srcNamespace: string;
  srcWorkload: string;
  srcLabels: Record<string, string>;
  dstKind: string;
  dstNamespace: string;
  dstWorkload: string;
  dstLabels: Record<string, string>;
  dstPort: number;
  protocol: string;
  direction: string;
  dropReason: string;
  attributionLevel: string;
  policies: string[];
}

/** One roll-up row of the evaluation window (edge_rollups, camelCased): an edge plus its counts. */
export interface WindowRow extends AlertEdge {
  source: string;
  verdict: string;
  count: number;
  firstSeen: number;
  lastSeen: number;
}

/** A rule's condition holding for one label set at this evaluation. */
export interface Candidate {
  ruleId: string;
  labels: Labels;
  annotations: Record<string, string>;
  /** Drops in the rule's window. */
  count: number;
  firstSeen: number;
  lastSeen: number;
  edge?: AlertEdge;
}

/** The identity of an edge across minutes (the baseline looks it up by this key). */
export function edgeIdentity(r: AlertEdge): string {
  return JSON.stringify([
    r.cluster,
    r.srcKind,
    r.srcNamespace,
    r.srcWorkload,
    r.dstKind,
    r.dstNamespace,
    r.dstWorkload,
    r.dstPort,
    r.protocol,
  ]);
}

/** The row's FlowRecord fields by the names rule `match` matchers use. `policy` is tested per policy. */
function flowFields(r: WindowRow, policy: string): Labels {
  const out: Labels = {
    cluster: r.cluster,
    source: r.source,
    verdict: r.verdict,
    direction: r.direction,
    dropReason: r.dropReason,
    protocol: r.protocol,
    dstPort: String(r.dstPort),
    attributionLevel: r.attributionLevel,
    policy,
    'src.kind': r.srcKind,
    'src.namespace': r.srcNamespace,
    'src.workload': r.srcWorkload,
    'dst.kind': r.dstKind,
    'dst.namespace': r.dstNamespace,
    'dst.workload': r.dstWorkload,
  };
  for (const [k, v] of Object.entries(r.srcLabels)) out[`src.labels.${k}`] = v;
  for (const [k, v] of Object.entries(r.dstLabels)) out[`dst.labels.${k}`] = v;
  return out;
}

/** Rules see denied rows unless their matchers name a verdict themselves. */
function ruleSelects(rule: AlertRule, r: WindowRow): boolean {
  if (!rule.match.some((m) => m.name === 'verdict') && r.verdict !== 'denied') return false;
  const policies = r.policies.length > 0 ? r.policies : [''];
  return policies.some((p) => matchesAll(rule.match, flowFields(r, p)));
}

/** The namespace whose policy enforced the drop: the destination on ingress, the source on egress. */
export function owningNamespace(e: AlertEdge): string {
  return e.direction === 'egress' ? e.srcNamespace || e.dstNamespace : e.dstNamespace || e.srcNamespace;
}

function endpointName(kind: string, ns: string, workload: string): string {
  if (ns && workload) return `${ns}/${workload}`;
  return ns || workload || kind;
}

export function edgeText(e: AlertEdge): string {
  const proto = e.protocol === '' ? '' : `/${e.protocol}`;
  return `${endpointName(e.srcKind, e.srcNamespace, e.srcWorkload)} → ${endpointName(e.dstKind, e.dstNamespace, e.dstWorkload)}:${e.dstPort}${proto}`;
}

function edgeLabels(e: AlertEdge): Labels {
  return {
    cluster: e.cluster,
    namespace: owningNamespace(e),
    src_namespace: e.srcNamespace,
    src_workload: e.srcWorkload || e.srcKind,
    dst_namespace: e.dstNamespace,
    dst_workload: e.dstWorkload || e.dstKind,
    dst_port: String(e.dstPort),
    protocol: e.protocol,
    direction: e.direction,
    policy: e.policies.join(','),
  };
}

function ruleLabels(rule: AlertRule): Labels {
  return { alertname: rule.name, rule: rule.id, severity: rule.severity, ...rule.labels };
}

interface EdgeAccumulator {
  edge: AlertEdge;
  count: number;
  firstSeen: number;
  lastSeen: number;
}

/** Sums window rows per edge (and policy set): minutes and reporters collapse into one. */
export function edgesOf(rows: readonly WindowRow[], rule: AlertRule, now: number): EdgeAccumulator[] {
  const from = now - rule.windowMs;
  const byKey = new Map<string, EdgeAccumulator>();
  for (const r of rows) {
    if (r.lastSeen < from || r.firstSeen > now || !ruleSelects(rule, r)) continue;
    const key = `${edgeIdentity(r)}|${r.policies.join(',')}`;
    const acc = byKey.get(key);
    if (acc) {
      acc.count += r.count;
      acc.firstSeen = Math.min(acc.firstSeen, r.firstSeen);
      acc.lastSeen = Math.max(acc.lastSeen, r.lastSeen);
      if (Object.keys(acc.edge.srcLabels).length === 0) acc.edge.srcLabels = r.srcLabels;
      if (Object.keys(acc.edge.dstLabels).length === 0) acc.edge.dstLabels = r.dstLabels;
    } else {
      const { count, firstSeen, lastSeen, verdict: _verdict, source: _source, ...edge } = r;
      byKey.set(key, { edge: { ...edge, policies: [...edge.policies] }, count, firstSeen, lastSeen });
    }
  }
  return [...byKey.values()];
}

function edgeCandidate(rule: AlertRule, a: EdgeAccumulator): Candidate {
  return {
    ruleId: rule.id,
    labels: { ...ruleLabels(rule), ...edgeLabels(a.edge) },
    annotations: {
      summary: `${rule.name}: ${edgeText(a.edge)} denied${a.edge.policies.length > 0 ? ` by ${a.edge.policies.join(', ')}` : ''}`,
      attribution_level: a.edge.attributionLevel,
      drop_reason: a.edge.dropReason,
    },
    count: a.count,
    firstSeen: a.firstSeen,
    lastSeen: a.lastSeen,
    edge: a.edge,
  };
}

/**
 * Unexpected drops: denied edges in the window whose identity has no denied roll-up in the
 * baseline (`inBaseline` answers from PostgreSQL) and that no expected-drop matcher covers.
 * Edges with an active alert skip the baseline test: their own episode must not expire them.
 */
export function unexpectedDropCandidates(
  rule: UnexpectedDropRule,
  rows: readonly WindowRow[],
  now: number,
  inBaseline: ReadonlySet<string>,
  expected: ReadonlyArray<readonly Matcher[]>,
  active: ReadonlySet<string>,
): Candidate[] {
  const out: Candidate[] = [];
  for (const a of edgesOf(rows, rule, now)) {
    const c = edgeCandidate(rule, a);
    if (expected.some((ms) => matchesAll(ms, c.labels))) continue;
    if (!active.has(`${rule.id}|${edgeIdentity(a.edge)}`) && inBaseline.has(edgeIdentity(a.edge))) continue;
    out.push(c);
  }
  return out;
}

/** Drop rate per namespace, policy or edge over the window, per minute, above the threshold. */
export function rateCandidates(rule: RateRule, rows: readonly WindowRow[], now: number): Candidate[] {
  const perMinute = (n: number) => n / (rule.windowMs / 60_000);
  if (rule.by === 'edge')
    return edgesOf(rows, rule, now)
      .filter((a) => perMinute(a.count) > rule.perMinute)
      .map((a) => {
        const c = edgeCandidate(rule, a);
        c.annotations.summary = `${rule.name}: ${perMinute(a.count).toFixed(1)} drops/min on ${edgeText(a.edge)} (threshold ${rule.perMinute})`;
        return { ...c, lastSeen: now };
      });
  const groups = new Map<string, { count: number; firstSeen: number; lastSeen: number }>();
  for (const a of edgesOf(rows, rule, now)) {
    const keys =
      rule.by === 'namespace' ? [owningNamespace(a.edge)] : a.edge.policies.length > 0 ? a.edge.policies : ['(none)'];
    for (const k of keys) {
      const g = groups.get(k) ?? { count: 0, firstSeen: a.firstSeen, lastSeen: a.lastSeen };
      g.count += a.count;
      g.firstSeen = Math.min(g.firstSeen, a.firstSeen);
      g.lastSeen = Math.max(g.lastSeen, a.lastSeen);
      groups.set(k, g);
    }
  }
  const out: Candidate[] = [];
  for (const [k, g] of groups) {
    const rate = perMinute(g.count);
    if (rate <= rule.perMinute) continue;
    const labels: Labels = { ...ruleLabels(rule) };
    if (rule.by === 'namespace') labels.namespace = k;
    else {
      labels.policy = k;
      labels.namespace = k.includes('/') ? k.slice(0, k.indexOf('/')) : '';
    }
    out.push({
      ruleId: rule.id,
      labels,
      annotations: {
        summary: `${rule.name}: ${rate.toFixed(1)} drops/min in ${rule.by} ${k} over ${rule.windowMs / 60_000}m (threshold ${rule.perMinute})`,
      },
      count: g.count,
      firstSeen: g.firstSeen,
      // The condition holds at this evaluation: the quiet period counts from now.
      lastSeen: now,
    });
  }
  return out;
}
