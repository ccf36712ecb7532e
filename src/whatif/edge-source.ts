/**
 * Where a what-if gets its observed edges: a flow file (the CLI's `--flows`), or stored history
 * (the database edge reader plugs in here).
 */
import type { ObservedEdge } from '../suggest/index.js';

export interface EdgeWindow {
  /** ms since the epoch */
  from: number;
  to: number;
}

export interface EdgeSource {
  /** Edges seen in the window; with `namespace`, those with either end in it. */
  observedEdges(window: EdgeWindow, options?: { namespace?: string }): Promise<ObservedEdge[]>;
}
