import type { FlowRecord } from '../flow/flow-record.js';

/** A long-running source of flows (Hubble Relay, Calico flow-log files, Goldmane). */
export interface Collector {
  readonly name: string;
  start(): Promise<void>;
  /** Stops reading, publishes what it holds, resolves when nothing is in flight. */
  stop(): Promise<void>;
}

/** Reads the positions the aggregator stored with the data (exactly-once resume). */
export interface CheckpointReader {
  load(stream: string): Promise<string | undefined>;
}

/** One input line of a file source turned into flows, or skipped with a reason. */
export type LineResult = { kind: 'flows'; records: FlowRecord[] } | { kind: 'skipped'; what: string };

/**
 * Maps text lines (`hubble observe -o json`, Calico flows.log) to FlowRecords. Throws an Error
 * with a readable message on a malformed line. May keep a little state (Hubble's drop de-dup),
 * hence `flush` at end of input.
 */
export interface LineMapper {
  map(line: string): LineResult;
  flush(): FlowRecord[];
  /**
   * Flow lines so far folded into another line's record (Hubble's policy-verdict/drop pairs):
   * each flow line ends as one record or one collapse, which is how summaries account for it.
   */
  readonly collapsed?: number;
}
