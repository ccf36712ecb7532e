/**
 * Over-permission of a suggestion: pod pairs it newly admits on its ports that no observed flow
 * asked for. Counted per class of equivalent pods rather than per pod pair: pods the evaluators
 * cannot tell apart (same namespace, labels, address ranges and named ports, before and after the
 * suggestion) get the same verdicts, so one probe per pair of classes decides |A| x |B| pod pairs.
 * Only class pairs a suggested rule can open are probed: a subject's egress toward the classes its
 * rules' pod peers select (every class when a rule has an address peer), and an ingress subject
 * from the classes its rules select. Adding allow rules opens nothing else. The probes are capped
 * (MAX_CLASS_PAIRS); past the cap the count is a lower bound, marked approximate.
 */
import type { NetworkPolicyEvaluator, PodObject, PolicyDirection, PolicyInventory } from '../policy/index.js';
import { portText, type PortSpec, type SuggestedPolicy, type SuggestedRule } from './suggestion-model.js';
import { labelsMatch } from './workload-labels.js';

export interface OverPermission {
  /** Distinct (source pod, destination pod) pairs; a lower bound when `approximate`. */
  podPairs: number;
  /** Up to `maxExamples` of them: `ns/src -> ns/dst PROTO/port`. */
  examples: string[];
  /** Present when the class pairs to probe exceeded the cap: `podPairs` counts the probed ones. */
  approximate?: true;
}

/** Pairs of pod classes probed per suggestion item before the count is cut short (approximate). */
export const MAX_CLASS_PAIRS = 250_000;

/** Observed pod pairs: `ns/src>ns/dst` → the ports (`TCP/80`) flows asked for. */
export type ClaimedPairs = ReadonlyMap<string, ReadonlySet<string>>;

interface PodClass {
  index: number;
  members: PodObject[];
  /** Selected by a suggested policy with ingress (egress) rules. */
  ingressSubject: boolean;
  egressSubject: boolean;
}

const ref = (p: PodObject): string => `${p.namespace}/${p.name}`;

export function overPermission(
  inv: PolicyInventory,
  before: NetworkPolicyEvaluator,
  after: NetworkPolicyEvaluator,
  policies: readonly SuggestedPolicy[],
  claimed: ClaimedPairs,
  opts: { maxExamples: number; maxClassPairs?: number },
): OverPermission {
  const ports = new Map<string, PortSpec>();
  for (const p of policies)
    for (const r of [...p.ingress, ...p.egress]) for (const x of r.ports) ports.set(portText(x), x);
  const classes = podClasses(inv, before, after);
  const candidates = candidatePairs(classes, policies);
  const observed = observedByClass(classes, claimed);

  // Newly admitted on `dir`'s side: denied before, allowed after.
  const newly = (dir: PolicyDirection, a: PodClass, b: PodClass, port: PortSpec): boolean => {
    const probe = (ev: NetworkPolicyEvaluator) =>
      ev.evaluate({
        src: ev.endpointForPod(a.members[0]),
        dst: ev.endpointForPod(b.members[0]),
        port: port.port,
        protocol: port.protocol,
      })[dir].allowed;
    return !probe(before) && probe(after);
  };

  const maxPairs = opts.maxClassPairs ?? MAX_CLASS_PAIRS;
  let probed = 0;
  let podPairs = 0;
  const examples: string[] = [];
  for (const a of classes) {
    for (const b of candidates(a)) {
      if (++probed > maxPairs) return { podPairs, examples, approximate: true };
      const opened = [...ports.values()].filter(
        (port) =>
          (b.ingressSubject && newly('ingress', a, b, port)) || (a.egressSubject && newly('egress', a, b, port)),
      );
      if (opened.length === 0) continue;
      const unclaimed = (s: PodObject, d: PodObject): PortSpec | undefined => {
        const asked = claimed.get(`${ref(s)}>${ref(d)}`);
        return opened.find((port) => !asked?.has(portText(port)));
      };
      // Every member pair but a pod with itself, less the observed pairs whose opened ports were all asked for.
      let n = a.members.length * b.members.length - (a === b ? a.members.length : 0);
      for (const [s, d] of observed.get(a)?.get(b) ?? []) if (unclaimed(s, d) === undefined) n--;
      podPairs += n;
      if (n > 0 && examples.length < opts.maxExamples) addExamples(a, b, unclaimed, examples, opts.maxExamples);
    }
  }
  return { podPairs, examples };
}

/** The pods (hostNetwork ones are never selected) by their identity before and after, in inventory order. */
function podClasses(inv: PolicyInventory, before: NetworkPolicyEvaluator, after: NetworkPolicyEvaluator): PodClass[] {
  const byKey = new Map<string, PodClass>();
  for (const pod of inv.pods) {
    if (pod.hostNetwork) continue;
    const key = `${before.equivalenceKey(before.endpointForPod(pod))}\n${after.equivalenceKey(after.endpointForPod(pod))}`;
    let c = byKey.get(key);
    if (!c) byKey.set(key, (c = { index: byKey.size, members: [], ingressSubject: false, egressSubject: false }));
    c.members.push(pod);
  }
  return [...byKey.values()];
}

/**
 * For each source class, the destination classes a suggested rule may open, in class order:
 * its egress rules' peers when it is an egress subject, and the ingress subjects whose rules'
 * peers select it.
 */
function candidatePairs(
  classes: readonly PodClass[],
  policies: readonly SuggestedPolicy[],
): (a: PodClass) => readonly PodClass[] {
  const selects = (c: PodClass, namespace: string, selector: Record<string, string>) =>
    c.members[0].namespace === namespace && labelsMatch(selector, c.members[0].labels);
  // The classes a rule's peer selects; every class for an address peer (a CIDR may hold pod IPs).
  const peers = (rules: readonly SuggestedRule[]): readonly PodClass[] => {
    const out = new Set<PodClass>();
    for (const r of rules) {
      if (r.peer.kind !== 'pod') return classes;
      const { namespace, selector } = r.peer;
      for (const c of classes) if (selects(c, namespace, selector)) out.add(c);
    }
    return [...out];
  };
  const egressTo = new Map<PodClass, Set<PodClass>>();
  const ingressFrom = new Map<PodClass, Set<PodClass>>();
  const add = (m: Map<PodClass, Set<PodClass>>, k: PodClass, v: PodClass) => {
    let s = m.get(k);
    if (!s) m.set(k, (s = new Set()));
    s.add(v);
  };
  const fromAnyone = new Set<PodClass>();
  const toAnyone = new Set<PodClass>();
  for (const p of policies) {
    const subjects = classes.filter((c) => selects(c, p.namespace, p.selector));
    if (p.egress.length > 0) {
      const to = peers(p.egress);
      for (const a of subjects) {
        a.egressSubject = true;
        if (to === classes) toAnyone.add(a);
        else for (const b of to) add(egressTo, a, b);
      }
    }
    if (p.ingress.length > 0) {
      const from = peers(p.ingress);
      for (const b of subjects) {
        b.ingressSubject = true;
        if (from === classes) fromAnyone.add(b);
        else for (const a of from) add(ingressFrom, a, b);
      }
    }
  }
  const byIndex = (x: PodClass, y: PodClass) => x.index - y.index;
  const anyone = [...fromAnyone].sort(byIndex);
  return (a) => {
    if (toAnyone.has(a)) return classes;
    const to = egressTo.get(a);
    const from = ingressFrom.get(a);
    if (!to && !from) return anyone;
    const all = new Set([...(to ?? []), ...(from ?? []), ...anyone]);
    return [...all].sort(byIndex);
  };
}

/** The observed pod pairs (a pod with another) by source class, then destination class. */
function observedByClass(
  classes: readonly PodClass[],
  claimed: ClaimedPairs,
): Map<PodClass, Map<PodClass, Array<[PodObject, PodObject]>>> {
  const out = new Map<PodClass, Map<PodClass, Array<[PodObject, PodObject]>>>();
  if (claimed.size === 0) return out;
  const pods = new Map<string, { pod: PodObject; c: PodClass }>();
  for (const c of classes) for (const pod of c.members) pods.set(ref(pod), { pod, c });
  for (const pair of claimed.keys()) {
    const [s, d] = pair.split('>').map((r) => pods.get(r));
    if (!s || !d || s.pod === d.pod) continue;
    let row = out.get(s.c);
    if (!row) out.set(s.c, (row = new Map()));
    const list = row.get(d.c);
    if (list) list.push([s.pod, d.pod]);
    else row.set(d.c, [[s.pod, d.pod]]);
  }
  return out;
}

function addExamples(
  a: PodClass,
  b: PodClass,
  unclaimed: (s: PodObject, d: PodObject) => PortSpec | undefined,
  out: string[],
  max: number,
): void {
  for (const s of a.members)
    for (const d of b.members) {
      if (out.length >= max) return;
      if (s === d) continue;
      const port = unclaimed(s, d);
      if (port) out.push(`${ref(s)} -> ${ref(d)} ${portText(port)}`);
    }
}
