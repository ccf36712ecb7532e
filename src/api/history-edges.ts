/**
 * What the suggestion and what-if endpoints share: the policy inventory (or the 409 that says how to
 * configure one), stored edges as the suggester's ObservedEdges, and domain input errors as 400s.
 */
import type { PolicyInventory } from '../policy/index.js';
import type { EdgeReader } from '../storage/readers.js';
import { edgesFromStored, SuggestInputError, type ObservedEdge } from '../suggest/index.js';
import { WhatIfInputError } from '../whatif/index.js';
import type { PolicyInventoryProvider } from './api-dependencies.js';
import { ApiError, NoPolicyInventoryError } from './api-errors.js';
import type { TimeRange } from './query-params.js';

export function requireInventory(provider: PolicyInventoryProvider, operation: string): PolicyInventory {
  const inventory = provider.current();
  if (!inventory) throw new NoPolicyInventoryError(operation);
  return inventory;
}

/** The stored edges of the window (either end in `namespace` when given). */
export async function historyEdges(
  reader: EdgeReader,
  inventory: PolicyInventory,
  range: TimeRange,
  namespace: string | undefined,
): Promise<ObservedEdge[]> {
  const stored = await reader.observedEdges({ ...range, ...(namespace !== undefined ? { namespace } : {}) });
  return edgesFromStored(stored, inventory).edges;
}

export function isoWindow(range: TimeRange): { from: string; to: string } {
  return { from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString() };
}

/** Runs a domain computation; its input errors (a namespace not in the inventory, a bad removal) are 400s. */
export function asBadInput<T>(run: () => T): T {
  try {
    return run();
  } catch (e) {
    if (e instanceof SuggestInputError || e instanceof WhatIfInputError)
      throw new ApiError('INVALID_PARAMETER', e.message);
    throw e;
  }
}
