/**
 * Which compiled policies may select an endpoint, found by index instead of by trying every
 * policy's selector: policies by namespace (cluster-scoped ones apart), and within each group by a
 * label every pod they select must carry (`selectionHint` of the compiled policy: the first
 * `key In (values)` / matchLabels requirement of its pod selector). A policy without a hint is
 * always a candidate. Candidates are then checked with the policy's own `selects`, so the index
 * only has to be complete, never exact.
 */
import type { CompiledPolicy } from './compiled-policy.js';
import { labelValue, type Labels } from './label-selector.js';

class PolicyGroup {
  private readonly unhinted: CompiledPolicy[] = [];
  private readonly byLabel = new Map<string, Map<string, CompiledPolicy[]>>();

  constructor(policies: readonly CompiledPolicy[]) {
    for (const p of policies) {
      const hint = p.selectionHint;
      if (!hint) {
        this.unhinted.push(p);
        continue;
      }
      let byValue = this.byLabel.get(hint.key);
      if (!byValue) this.byLabel.set(hint.key, (byValue = new Map()));
      for (const v of new Set(hint.values)) {
        let list = byValue.get(v);
        if (!list) byValue.set(v, (list = []));
        list.push(p);
      }
    }
  }

  /** Appends the candidates for pod labels `labels`. */
  collect(labels: Labels, out: CompiledPolicy[]): void {
    for (const p of this.unhinted) out.push(p);
    for (const [key, byValue] of this.byLabel) {
      const v = labelValue(labels, key);
      if (v === undefined) continue;
      const list = byValue.get(v);
      if (list) for (const p of list) out.push(p);
    }
  }
}

export class SelectionIndex {
  private readonly byNamespace = new Map<string, PolicyGroup>();
  private readonly clusterWide: PolicyGroup;
  /** Position of each policy in evaluation order (order, then name). */
  private readonly rank = new Map<CompiledPolicy, number>();

  /** `ordered`: every policy in evaluation order; `namespaceOf` gives a policy's namespace. */
  constructor(
    readonly ordered: readonly CompiledPolicy[],
    readonly namespaceOf: (p: CompiledPolicy) => string | undefined,
  ) {
    const local = new Map<string, CompiledPolicy[]>();
    const global: CompiledPolicy[] = [];
    ordered.forEach((p, i) => {
      this.rank.set(p, i);
      const ns = namespaceOf(p);
      if (ns === undefined) global.push(p);
      else {
        let l = local.get(ns);
        if (!l) local.set(ns, (l = []));
        l.push(p);
      }
    });
    for (const [ns, l] of local) this.byNamespace.set(ns, new PolicyGroup(l));
    this.clusterWide = new PolicyGroup(global);
  }

  /** Policies that may select a pod of `namespace` with `labels`, in evaluation order. */
  candidates(namespace: string | undefined, labels: Labels): CompiledPolicy[] {
    const out: CompiledPolicy[] = [];
    const group = namespace !== undefined ? this.byNamespace.get(namespace) : undefined;
    if (group) group.collect(labels, out);
    this.clusterWide.collect(labels, out);
    if (out.length > 1) {
      out.sort((a, b) => (this.rank.get(a) ?? 0) - (this.rank.get(b) ?? 0));
      // A policy hinted by several values of one key appears once per matching value at most,
      // and one key has one value per pod: no duplicates to remove.
    }
    return out;
  }

  /** The evaluation-order position of a compiled policy. */
  rankOf(p: CompiledPolicy): number {
    return this.rank.get(p) ?? -1;
  }
}
