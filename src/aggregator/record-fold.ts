import type { DeadLetter } from '../bus/flow-bus.js';
import { truncateRaw } from '../bus/flow-bus.js';
import { isDrop, type FlowRecord } from '../flow/flow-record.js';
import { validateFlowRecord } from '../flow/flow-record.validator.js';
import { dropReasonLabel } from './drop-reason-label.js';
import type { Attribution } from './attribution.port.js';
import type { BatchRollup } from './edge-rollup.js';
import { parseFlowTime } from '../flow/flow-time.js';

/** How far ahead of this host's clock a flow's time may be (clock skew between nodes). */
export const MAX_FUTURE_MS = 24 * 60 * 60 * 1000;

/** Where records are folded: the roll-up, the counts the aggregator's metrics take, dead letters. */
export interface FoldTarget {
  rollup: BatchRollup;
  recordsBySource: Map<string, number>;
  processed: Map<string, number>;
  drops: Map<string, number>;
  byVerdict: Record<string, number>;
  dead: DeadLetter[];
}

function stringify(v: unknown): string {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

export function addCount(m: Map<string, number>, k: string, n: number): void {
  m.set(k, (m.get(k) ?? 0) + n);
}

/**
 * Validates each record (bad ones, and times more than a day past `now`, become dead letters with
 * the reason), counts it and folds it into the roll-up, drops with their attribution. Without
 * `attribute`, valid drops are counted but not folded: they go to `unattributed`, in order, for
 * whoever holds the policy inventory. The aggregator and the import's worker threads share this.
 */
export function foldRecords(
  records: readonly unknown[],
  into: FoldTarget,
  origin: string,
  now: number,
  attribute: ((f: FlowRecord) => Attribution) | undefined,
  unattributed?: FlowRecord[],
): void {
  // Times far in the future are bad clocks or bad input; each new day would also cost a partition.
  const latest = now + MAX_FUTURE_MS;
  for (const raw of records) foldRecord(raw, into, origin, latest, attribute, unattributed);
}

/** One record of foldRecords; `latest`: the latest time accepted (now + MAX_FUTURE_MS). */
export function foldRecord(
  raw: unknown,
  into: FoldTarget,
  origin: string,
  latest: number,
  attribute: ((f: FlowRecord) => Attribution) | undefined,
  unattributed?: FlowRecord[],
): void {
  let flow;
  try {
    flow = validateFlowRecord(raw);
  } catch (e) {
    into.dead.push({
      raw: truncateRaw(stringify(raw)),
      reason: `invalid FlowRecord: ${(e as Error).message}`,
      origin,
    });
    return;
  }
  if (parseFlowTime(flow.time) > latest) {
    into.dead.push({
      raw: truncateRaw(stringify(raw)),
      reason: `invalid FlowRecord: time: ${flow.time} is more than a day in the future`,
      origin,
    });
    return;
  }
  addCount(into.recordsBySource, flow.source, 1);
  const drop = isDrop(flow.verdict);
  if (!drop) into.rollup.add(flow, undefined);
  else if (attribute) into.rollup.add(flow, attribute(flow));
  else unattributed?.push(flow);
  addCount(into.processed, `${flow.source}\u0000${flow.verdict}`, flow.count);
  into.byVerdict[flow.verdict] = (into.byVerdict[flow.verdict] ?? 0) + flow.count;
  if (drop)
    addCount(into.drops, `${flow.verdict}\u0000${flow.direction}\u0000${dropReasonLabel(flow.dropReason)}`, flow.count);
}
