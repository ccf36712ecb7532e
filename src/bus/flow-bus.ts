/**
 * The bus between collectors and the aggregator. Kafka in production (kafka-flow.bus.ts), an
 * in-process queue in the embedded default (in-process-flow.bus.ts); both honour this contract.
 *
 * Exactly-once into PostgreSQL rests on checkpoints: each consumed batch names the stream
 * positions it covers (a Kafka partition offset, or a collector's source position such as a
 * Calico file offset), and the aggregator writes them in the same transaction as the roll-ups.
 */

import type { PrefoldedSegment } from '../aggregator/prefolded-segment.js';

/** A position in one input stream, stored by the aggregator with the data it covers. */
export interface StreamCheckpoint {
  /** e.g. `kafka:dropscope.flows.v1:3`, `calico-file:/var/log/calico/flows.log`, `hubble:relay:4245` */
  stream: string;
  /** Opaque to the aggregator: the next Kafka offset, a byte offset, a timestamp. */
  position: string;
  /**
   * Fencing (Kafka partitions): the generation this writer was given when it claimed the stream
   * (ConsumeOptions.claimCheckpoints). A write whose generation is older than the stored one is
   * refused with StaleGenerationError, in the transaction of its data. Absent means 0 (streams
   * that are never claimed: collector positions, import files).
   */
  generation?: number;
  /**
   * The position this batch continues from, for a publisher with several batches in flight: the
   * write is refused with CheckpointConflictError unless the stored position is this one (null:
   * none stored yet). So once a batch fails, no later batch of its stream can commit a position
   * past the failed data. Absent: not checked. Batches merged into one write keep the first one's.
   */
  after?: string | null;
}

/** Merges a later checkpoint of a stream into an earlier one: its position, the earlier `after`. */
export function laterCheckpoint(earlier: StreamCheckpoint | undefined, later: StreamCheckpoint): StreamCheckpoint {
  if (earlier === undefined || earlier.after === later.after) return later;
  const merged: StreamCheckpoint = { ...later };
  if (earlier.after === undefined) delete merged.after;
  else merged.after = earlier.after;
  return merged;
}

/** A stream claimed by a consumer: its stored position (if any) and the generation it now holds. */
export interface ClaimedStream {
  position?: string;
  generation: number;
}

/**
 * A write refused because another consumer claimed the stream since (a newer generation is
 * stored): this writer lost the partition, its batch is somebody else's now. Nothing of the
 * batch was stored.
 */
export class StaleGenerationError extends Error {
  override readonly name = 'StaleGenerationError';
  readonly code = 'stale_generation';
  constructor(readonly streams: string[]) {
    super(`checkpoint write refused: a newer consumer generation owns ${streams.join(', ')}`);
  }
}

/**
 * A write refused because its stream's stored position is not the one the batch continues from
 * (StreamCheckpoint.after): an earlier batch of the stream failed to store, and this one would
 * have moved the position past the lost data. Nothing of the batch was stored; the publisher
 * sends again from the stored position.
 */
export class CheckpointConflictError extends Error {
  override readonly name = 'CheckpointConflictError';
  readonly code = 'checkpoint_conflict';
  constructor(readonly streams: string[]) {
    super(
      `checkpoint write refused: ${streams.join(', ')} is not stored where this batch continues from (an earlier batch of it failed)`,
    );
  }
}

/**
 * A batch not written because a write ordered before it failed (its data may continue a stream
 * of the failed one): nothing of it was stored, and it is delivered again. The failure itself is
 * reported with the batch whose write failed.
 */
export class EarlierWriteFailedError extends Error {
  override readonly name = 'EarlierWriteFailedError';
  constructor() {
    super('an earlier batch failed to store; this one is retried with it');
  }
}

export interface PublishBatch {
  /** Normalized flows (already validated by the collector's mapper). */
  records: unknown[];
  /** Where the producing collector stands once these records are stored (embedded mode). */
  checkpoints?: StreamCheckpoint[];
  /** Input the collector could not map, stored with the batch (same transaction in embedded mode). */
  deadLetters?: DeadLetter[];
  /** Nothing follows soon (the end of an import file): store without waiting to carry more. */
  flush?: boolean;
  /** Segments already validated and folded (import worker threads; the in-process bus only). */
  prefolded?: PrefoldedSegment[];
  /**
   * Called once the bus holds the batch (in process: queued, so the publisher may read on;
   * the returned promise still settles only once the batch is stored).
   */
  accepted?: () => void;
}

export interface ConsumedBatch {
  /** Raw values as they arrived: validate before use; bad ones go to dead letters. */
  records: unknown[];
  /** Positions that become durable when this batch is committed with its data. */
  checkpoints: StreamCheckpoint[];
  /** Dead letters that travelled with the batch (in-process bus); stored with its data. */
  deadLetters?: DeadLetter[];
  /**
   * Who found `deadLetters`: the collectors that published them (in-process bus), or, unset, the
   * bus's own consumer (Kafka messages it could not read). Only the metric's `stage` label.
   */
  deadLettersFrom?: 'collector';
  /** A publisher asked for this batch to be stored without waiting for more (PublishBatch.flush). */
  flush?: boolean;
  /** Segments already folded (PublishBatch.prefolded), after `records`. */
  prefolded?: PrefoldedSegment[];
}

/** Records a published batch stands for: its own and those of its folded segments. */
export function batchRecordCount(batch: Pick<PublishBatch, 'records' | 'prefolded'>): number {
  let n = batch.records.length;
  for (const p of batch.prefolded ?? []) n += p.records;
  return n;
}

export interface DeadLetter {
  /** The raw input (truncated by the bus if huge). */
  raw: string;
  reason: string;
  /** Where it came from: `kafka:<topic>:<partition>:<offset>`, `calico-file:...:<line>`, ... */
  origin: string;
}

export type BatchHandler = (batch: ConsumedBatch) => Promise<void>;

export interface ConsumeOptions {
  /** Consumer group (Kafka); ignored in process. */
  groupId: string;
  /** Stored positions to resume from, read at partition assignment. */
  loadCheckpoints: (streams: string[]) => Promise<Map<string, string>>;
  /**
   * Kafka: claims the assigned partitions' streams instead of only loading them. Each claim bumps
   * the stream's stored generation and returns it with the position; the bus puts that generation
   * on every checkpoint it hands out, so a member that lost the partition (a zombie) is refused.
   */
  claimCheckpoints?: (streams: string[]) => Promise<Map<string, ClaimedStream>>;
  /** Largest batch handed to the handler. */
  maxBatch?: number;
  /**
   * For a handler that carries batches across its writes (in-process bus): the next batch is
   * handed over once this resolves, without waiting for earlier handler calls to settle, and
   * leaves the queue's count then (the handler bounds what it holds).
   */
  ready?: () => Promise<void>;
}

export interface FlowBus {
  readonly kind: 'in-process' | 'kafka';
  /** Resolves once the bus accepted the batch; waits (backpressure) when the bus is full. */
  publish(batch: PublishBatch): Promise<void>;
  publishDeadLetters(letters: DeadLetter[]): Promise<void>;
  /** Starts delivering batches; the handler's promise settling is the acknowledgement. */
  consume(handler: BatchHandler, options: ConsumeOptions): Promise<void>;
  /** Stops consuming and flushes producers. */
  close(): Promise<void>;
}

export const FLOW_BUS = Symbol('FLOW_BUS');

export const FLOWS_TOPIC = 'dropscope.flows.v1';
export const DLQ_TOPIC = 'dropscope.flows.dlq';

/** Longest raw value kept in a dead letter; the rest is cut and marked. */
export const DEAD_LETTER_MAX_RAW = 16 * 1024;

export function truncateRaw(raw: string): string {
  return raw.length <= DEAD_LETTER_MAX_RAW
    ? raw
    : `${raw.slice(0, DEAD_LETTER_MAX_RAW)}...[truncated ${raw.length - DEAD_LETTER_MAX_RAW} chars]`;
}
