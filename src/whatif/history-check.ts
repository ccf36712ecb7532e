/**
 * A suggestion checked against stored history: its policies proposed as a what-if over the edges
 * it was learned from. Observed-denied edges it admits are newly allowed (the fix works); edges it
 * would deny are newly denied (it breaks something that worked).
 */
import type { PolicyInventory } from '../policy/index.js';
import type { ObservedEdge } from '../suggest/index.js';
import { proposalObjects } from './proposal-objects.js';
import { whatIf } from './what-if.js';

export interface HistoryCheck {
  newlyAllowed: number;
  newlyDenied: number;
}

export function checkAgainstHistory(
  inventory: PolicyInventory,
  policies: ReadonlyArray<Record<string, unknown>>,
  edges: readonly ObservedEdge[],
  window: { from: string; to: string },
): HistoryCheck {
  const add = proposalObjects([...policies], 'suggestion');
  const { summary } = whatIf(inventory, { add, remove: [] }, edges, { window });
  return { newlyAllowed: summary.newlyAllowed, newlyDenied: summary.newlyDenied };
}
