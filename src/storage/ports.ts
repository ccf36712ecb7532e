import type { ClaimedStream, DeadLetter, StreamCheckpoint } from '../bus/flow-bus.js';

/**
 * The write-side storage the pipeline depends on, as small interfaces: PostgreSQL implements them
 * in this folder (checkpoint.store.ts, dead-letter.store.ts, retention.store.ts, rollup.writer.ts);
 * unit tests use in-memory fakes (in-memory.repositories.ts).
 */

/** Stream positions (collectors, import files, Kafka partitions) stored with the data they cover. */
export interface CheckpointStore {
  /** One stream's stored position (the collectors' CheckpointReader). */
  load(stream: string): Promise<string | undefined>;
  loadMany(streams: string[]): Promise<Map<string, string>>;
  /** Stores positions on their own (Kafka mode: once the broker has acknowledged a batch). */
  save(checkpoints: StreamCheckpoint[]): Promise<void>;
  /**
   * Kafka consumers at assignment: bumps each stream's generation and returns it with the stored
   * position. Later writes carrying an older generation are refused (StaleGenerationError).
   */
  claim(streams: string[]): Promise<Map<string, ClaimedStream>>;
}

/** Records that could not be used, with the reason. */
export interface DeadLetterStore {
  insert(letters: DeadLetter[]): Promise<void>;
}

/** Days each kind of data is kept; 0 keeps it forever. */
export interface RetentionDays {
  rollupDays: number;
  /** Hourly and daily roll-ups; never kept shorter than the minutes (readers take closed units from them). */
  hourlyRollupDays: number;
  eventDays: number;
  deadLetterDays: number;
}

export interface RetentionStore {
  /**
   * Deletes what is older than the retention, measured from `now`; an aborted signal stops it
   * between steps (shutdown). Returns the dropped partition names.
   */
  deleteExpired(now: number, days: RetentionDays, signal?: AbortSignal): Promise<string[]>;
}
