import type { DeadLetter, StreamCheckpoint } from '../bus/flow-bus.js';
import type { BatchRollup } from './edge-rollup.js';

/** A batch serialized and ready to store; `commit()` stores it in one transaction. */
export interface PreparedWrite {
  commit(): Promise<void>;
}

/**
 * Where the aggregator's batches go (PostgreSQL: src/storage/rollup.writer.ts). Roll-ups, drop
 * events, dead letters and the checkpoints that cover them are stored together or not at all: that
 * is what makes delivery exactly-once.
 */
export interface RollupWriter {
  /**
   * The CPU half of a write, done synchronously so the aggregator can prepare the next batch
   * while the previous one is being stored.
   */
  prepare(batch: BatchRollup, checkpoints: StreamCheckpoint[], deadLetters: DeadLetter[]): PreparedWrite;
}
