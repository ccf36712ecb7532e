/** The policy inventory as the API shows it, joined with drop counts (plain TypeScript). */
import type { PolicyDropStats } from '../storage/readers.js';
import { CONFIGURE_INVENTORY } from './api-errors.js';
import type { PolicyInventory } from '../policy/policy-inventory.js';
import { policyRefOf, policyRefString, type PolicyObject } from '../policy/policy-model.js';

export interface PolicyDrops {
  count: number;
  firstSeen: string | null;
  lastSeen: string | null;
  verdicts: Record<string, number>;
}

export interface PolicyView {
  ref: string;
  kind: string | null;
  namespace: string | null;
  name: string;
  tier?: string;
  inInventory: boolean;
  drops: PolicyDrops;
}

export const NO_INVENTORY_NOTE = `no policy inventory is configured (${CONFIGURE_INVENTORY}); listing only the policies named by drops`;

function drops(s: PolicyDropStats | undefined): PolicyDrops {
  return s
    ? { count: s.count, firstSeen: s.firstSeen, lastSeen: s.lastSeen, verdicts: s.verdicts }
    : { count: 0, firstSeen: null, lastSeen: null, verdicts: {} };
}

function fromObject(p: PolicyObject, stats: Map<string, PolicyDropStats>): PolicyView {
  const ref = policyRefOf(p);
  const key = policyRefString(ref);
  const v: PolicyView = {
    ref: key,
    kind: p.kind,
    namespace: p.namespace ?? null,
    name: p.name,
    inInventory: true,
    drops: drops(stats.get(key)),
  };
  if (ref.tier !== undefined) v.tier = ref.tier;
  return v;
}

function fromDropsOnly(key: string, s: PolicyDropStats): PolicyView {
  const slash = key.indexOf('/');
  return {
    ref: key,
    kind: null,
    namespace: slash >= 0 ? key.slice(0, slash) : null,
    name: slash >= 0 ? key.slice(slash + 1) : key,
    inInventory: false,
    drops: drops(s),
  };
}

/** Inventory policies (with their drops) plus policies that drops name but the inventory lacks. */
export function listPolicyViews(
  inventory: PolicyInventory | undefined,
  stats: Map<string, PolicyDropStats>,
): PolicyView[] {
  const out: PolicyView[] = [];
  const seen = new Set<string>();
  for (const p of inventory?.policies ?? []) {
    const v = fromObject(p, stats);
    seen.add(v.ref);
    out.push(v);
  }
  for (const [key, s] of stats) if (!seen.has(key)) out.push(fromDropsOnly(key, s));
  return out.sort(
    (a, b) => b.drops.count - a.drops.count || a.ref.localeCompare(b.ref) || (a.kind ?? '').localeCompare(b.kind ?? ''),
  );
}

/** The inventory objects with this `ns/name` (or cluster-wide `name`); several kinds may share one. */
export function findPolicies(inventory: PolicyInventory | undefined, ref: string): PolicyObject[] {
  return (inventory?.policies ?? []).filter((p) => policyRefString(policyRefOf(p)) === ref);
}

export function policyView(
  ref: string,
  objects: PolicyObject[],
  stats: PolicyDropStats | undefined,
): PolicyView & { spec: object | null } {
  if (objects.length > 0) {
    const v = fromObject(objects[0], new Map(stats ? [[ref, stats]] : []));
    return { ...v, spec: objects[0] };
  }
  const v = stats
    ? fromDropsOnly(ref, stats)
    : {
        ...fromDropsOnly(ref, { policy: ref, count: 0, firstSeen: '', lastSeen: '', verdicts: {} }),
        drops: drops(undefined),
      };
  return { ...v, spec: null };
}
