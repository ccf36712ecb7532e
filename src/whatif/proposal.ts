/**
 * A proposed change to the policy inventory: policies added (or replacing the one of the same
 * kind, namespace and name) and policies removed by `ns/name` (`name` for cluster-scoped ones).
 * Calico staged policies become the change they stage (`--staged`).
 */
import {
  buildInventory,
  inventoryObjectKey,
  isPolicyObject,
  isStagedPolicy,
  objectKey,
  policyRefString,
  type InventoryObject,
  type PolicyInventory,
  type PolicyObject,
  type StagedPolicyObject,
} from '../policy/index.js';

/** Bad input of a what-if (a removal that names nothing, an added Pod): the caller's mistake. */
export class WhatIfInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WhatIfInputError';
  }
}

export interface Proposal {
  /** Policies, Calico Tiers and network sets to add or replace; staged policies stage their change. */
  add: readonly InventoryObject[];
  /** `ns/name` of namespaced policies, `name` of cluster-scoped ones. */
  remove: readonly string[];
}

export interface AppliedProposal {
  inventory: PolicyInventory;
  added: string[];
  replaced: string[];
  removed: string[];
}

function policyName(p: PolicyObject): string {
  return `${p.kind} ${policyRefString({ kind: p.kind, name: p.name, ...(p.namespace !== undefined ? { namespace: p.namespace } : {}) })}`;
}

/** The staged policies of an inventory as a proposal (Set adds, Delete removes; Learn and Ignore do nothing). */
export function stagedProposal(inventory: PolicyInventory): Proposal {
  return { add: inventory.staged, remove: [] };
}

function stagedChange(s: StagedPolicyObject): { add?: PolicyObject; removeKey?: string } {
  if (s.stagedAction === 'Set' && s.policy) return { add: s.policy };
  if (s.stagedAction === 'Delete') return { removeKey: objectKey(s.target.kind, s.target.namespace, s.target.name) };
  return {};
}

/** The inventory with the proposal applied; Namespaces and Pods stay as they are. */
export function applyProposal(current: PolicyInventory, proposal: Proposal): AppliedProposal {
  const objects = new Map<string, InventoryObject>();
  for (const o of current.objects()) objects.set(inventoryObjectKey(o), o);
  const added: string[] = [];
  const replaced: string[] = [];
  const removed: string[] = [];

  for (const ref of proposal.remove) {
    const slash = ref.indexOf('/');
    const ns = slash >= 0 ? ref.slice(0, slash) : undefined;
    const name = slash >= 0 ? ref.slice(slash + 1) : ref;
    if (name === '' || ns === '') throw new WhatIfInputError(`remove ${JSON.stringify(ref)}: expected NS/NAME or NAME`);
    const matches = current.policies.filter((p) => p.name === name && p.namespace === ns);
    if (matches.length === 0)
      throw new WhatIfInputError(
        `remove ${ref}: no policy of that ${ns === undefined ? 'name' : 'namespace and name'}`,
      );
    for (const p of matches) {
      objects.delete(inventoryObjectKey(p));
      removed.push(policyName(p));
    }
  }

  for (const o of proposal.add) {
    let obj: InventoryObject = o;
    if (o.kind === 'Namespace' || o.kind === 'Pod')
      throw new WhatIfInputError(`add ${o.kind} ${o.name}: only policies, Tiers and network sets can be proposed`);
    if (isStagedPolicy(o)) {
      const change = stagedChange(o);
      if (change.removeKey !== undefined) {
        const target = objects.get(change.removeKey);
        if (target && isPolicyObject(target)) {
          objects.delete(change.removeKey);
          removed.push(policyName(target));
        }
        continue;
      }
      if (!change.add) continue;
      obj = change.add;
    }
    const key = inventoryObjectKey(obj);
    const label = isPolicyObject(obj) ? policyName(obj) : `${obj.kind} ${obj.name}`;
    (objects.has(key) ? replaced : added).push(label);
    objects.set(key, obj);
  }
  return { inventory: buildInventory([...objects.values()], current.issues), added, replaced, removed };
}
