import type { DeadLetter } from '../bus/flow-bus.js';
import { reportedOnlyAttributor } from '../aggregator/attribution.port.js';
import { BatchRollup } from '../aggregator/edge-rollup.js';
import type { PrefoldedSegment } from '../aggregator/prefolded-segment.js';
import { foldRecords } from '../aggregator/record-fold.js';
import type { FlowRecord } from '../flow/flow-record.js';
import { eventsToCopyText, labelsField, rollupHead } from '../storage/copy-text.js';
import { recordsByDay } from './retention-tally.js';

/**
 * Does in a worker thread what the aggregator would do with a segment's records (validation,
 * counts, roll-up, drop events as COPY text), so the main thread only merges the result
 * (BatchRollup.merge) and writes. Drops are attributed here only with `attributeHere` (no policy
 * inventory: attribution is then a function of the flow alone); otherwise the main thread's
 * attributor, which holds the inventory, attributes them in file order, as it would without
 * workers.
 */
export function prefoldSegment(
  records: readonly unknown[],
  origin: string,
  now: number,
  attributeHere: boolean,
): PrefoldedSegment {
  const rollup = new BatchRollup();
  const byVerdict: Record<string, number> = {};
  const recordsBySource = new Map<string, number>();
  const processed = new Map<string, number>();
  const dropLabels = new Map<string, number>();
  const invalid: DeadLetter[] = [];
  const unattributed: FlowRecord[] = [];
  foldRecords(
    records,
    { rollup, recordsBySource, processed, drops: dropLabels, byVerdict, dead: invalid },
    origin,
    now,
    attributeHere ? (f) => reportedOnlyAttributor.attribute(f) : undefined,
    unattributed,
  );
  const n = rollup.rollups.size;
  const keys = new Array<string>(n);
  const heads = new Array<string>(n);
  const srcLabels = new Array<string | null>(n);
  const dstLabels = new Array<string | null>(n);
  const numbers = new Float64Array(n * 5);
  let i = 0;
  for (const [key, r] of rollup.rollups) {
    keys[i] = key;
    heads[i] = rollupHead(r);
    srcLabels[i] = r.src_labels === null ? null : labelsField(r.src_labels);
    dstLabels[i] = r.dst_labels === null ? null : labelsField(r.dst_labels);
    numbers.set([r.count, r.packets, r.bytes, r.first_seen, r.last_seen], i * 5);
    i++;
  }
  return {
    records: records.length,
    rows: { keys, heads, srcLabels, dstLabels, numbers },
    events: rollup.events.length > 0 ? eventsToCopyText(rollup.events) : '',
    eventCount: rollup.events.length,
    unattributed,
    days: [...rollup.days],
    flows: rollup.flows,
    drops: rollup.drops,
    byVerdict,
    recordsBySource,
    processed,
    dropLabels,
    invalid,
    byDay: recordsByDay(records),
  };
}
