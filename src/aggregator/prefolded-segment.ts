import type { DeadLetter } from '../bus/flow-bus.js';
import type { FlowRecord } from '../flow/flow-record.js';

/** A segment's roll-up rows, column by column (cheap to pass between threads). */
export interface PrefoldedRows {
  /** The roll-up key (BatchRollup's: bucket first). */
  keys: string[];
  /** Each row's COPY fields up to `source` (rollupHead). */
  heads: string[];
  /**
   * Each distinct label set of the segment's rows once, as a COPY field: rows of one workload
   * share a few sets, so passing them once per segment rather than once per row spares cloning.
   */
  labels: string[];
  /** Each row's labels as an index into `labels`, -1 for none. */
  srcLabels: Int32Array;
  dstLabels: Int32Array;
  /** count, packets, bytes, first_seen, last_seen (epoch ms) of each row: five numbers a row. */
  numbers: Float64Array;
}

/**
 * A segment of an import file validated and folded in a worker thread (src/ingest/segment-fold.ts):
 * what the aggregator would have made of its records, in a compact form, so the main thread only
 * merges it into the open flush (BatchRollup.merge) and writes. Drops that need the policy
 * inventory to be attributed come back as records (`unattributed`), attributed and folded on the
 * main thread in file order.
 */
export interface PrefoldedSegment {
  /** Records the segment's lines became (valid or not): what the bus counts. */
  records: number;
  rows: PrefoldedRows;
  /**
   * Drop events as COPY text in UTF-8, whole lines (newlines included), one after the other. Its
   * buffer is transferred to the merging thread, not copied, and stays off the JavaScript heap.
   */
  events: Uint8Array;
  /** Where each event's line ends in `events`. */
  eventEnds: Int32Array;
  /** Each event's roll-up row, as an index into `rows.keys` (what the merging thread's sampler counts by). */
  eventRows: Int32Array;
  /** Drop events the segment's thread left out (DropEventSampler). */
  eventsSampledOut: number;
  /** Valid drops not folded yet: the main thread attributes and folds them, in this order. */
  unattributed: FlowRecord[];
  /** UTC days (epoch days) the rows touch. */
  days: number[];
  /** Flows and dropped flows in `rows` (not in `unattributed`). */
  flows: number;
  drops: number;
  /** Counts over every valid record, `unattributed` included (the aggregator's metrics). */
  byVerdict: Record<string, number>;
  recordsBySource: Map<string, number>;
  processed: Map<string, number>;
  dropLabels: Map<string, number>;
  /** Records that were not valid FlowRecords, as the aggregator words them. */
  invalid: DeadLetter[];
  /** Per UTC day of the records: [day, flows, drops, ...] (retention warnings). */
  byDay: number[];
}
