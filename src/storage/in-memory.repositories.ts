import type { BatchRollup, DropEventRow, RollupRow } from '../aggregator/edge-rollup.js';
import type { PreparedWrite, RollupWriter } from '../aggregator/rollup-writer.port.js';
import {
  CheckpointConflictError,
  StaleGenerationError,
  type ClaimedStream,
  type DeadLetter,
  type StreamCheckpoint,
} from '../bus/flow-bus.js';
import type { CheckpointStore, DeadLetterStore, RetentionDays, RetentionStore } from '../storage/ports.js';

/**
 * In-memory fakes of the write repositories (src/storage/ports.ts), for unit tests of the
 * aggregator and the composition without PostgreSQL. Like the real ones, a batch's roll-ups,
 * events, dead letters and checkpoints are stored all together at commit, or not at all.
 */
export class InMemoryCheckpointStore implements CheckpointStore {
  readonly positions = new Map<string, string>();

  async load(stream: string): Promise<string | undefined> {
    return this.positions.get(stream);
  }

  async loadMany(streams: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const s of streams) {
      const p = this.positions.get(s);
      if (p !== undefined) out.set(s, p);
    }
    return out;
  }

  readonly generations = new Map<string, number>();

  /**
   * Fenced as in PostgreSQL: all or nothing, refused when a newer generation holds a stream or a
   * stream is not stored where a checkpoint continues from (`after`).
   */
  async save(checkpoints: StreamCheckpoint[]): Promise<void> {
    const stale = checkpoints.filter((c) => (this.generations.get(c.stream) ?? 0) > (c.generation ?? 0));
    if (stale.length > 0) throw new StaleGenerationError(stale.map((c) => c.stream));
    const moved = checkpoints.filter(
      (c) => c.after !== undefined && (this.positions.get(c.stream) ?? null) !== c.after,
    );
    if (moved.length > 0) throw new CheckpointConflictError(moved.map((c) => c.stream));
    for (const c of checkpoints) this.positions.set(c.stream, c.position);
  }

  async claim(streams: string[]): Promise<Map<string, ClaimedStream>> {
    const out = new Map<string, ClaimedStream>();
    for (const s of streams) {
      const generation = (this.generations.get(s) ?? 0) + 1;
      this.generations.set(s, generation);
      const position = this.positions.get(s);
      out.set(s, position === undefined ? { generation } : { position, generation });
    }
    return out;
  }
}

export class InMemoryDeadLetterStore implements DeadLetterStore {
  readonly letters: DeadLetter[] = [];

  async insert(letters: DeadLetter[]): Promise<void> {
    this.letters.push(...letters);
  }
}

export class InMemoryRollupWriter implements RollupWriter {
  /** Stored roll-up rows by `bucket|edge_key`, counts summed as the upsert does. */
  readonly rollups = new Map<string, RollupRow>();
  readonly events: DropEventRow[] = [];
  /** Batches in commit order, by the first checkpoint's position (or `-`). */
  readonly commits: string[] = [];
  /** When set, the next commit waits for this promise (to hold a write in flight). */
  gate?: Promise<void>;
  /** When set, the next commit fails with this error and stores nothing. */
  failNext?: Error;

  constructor(
    readonly checkpoints = new InMemoryCheckpointStore(),
    readonly deadLetters = new InMemoryDeadLetterStore(),
  ) {}

  prepare(batch: BatchRollup, checkpoints: StreamCheckpoint[], deadLetters: DeadLetter[]): PreparedWrite {
    const rows = [...batch.rollups.values()].map((r) => ({ ...r }));
    const events = [...batch.events];
    return {
      commit: async () => {
        const gate = this.gate;
        this.gate = undefined;
        if (gate) await gate;
        const failure = this.failNext;
        this.failNext = undefined;
        if (failure) throw failure;
        // First, so a fenced (refused) batch stores nothing, as the rolled-back transaction.
        await this.checkpoints.save(checkpoints);
        for (const r of rows) {
          const k = `${r.bucket}|${r.edge_key}`;
          const stored = this.rollups.get(k);
          if (stored) {
            stored.count += r.count;
            stored.packets += r.packets;
            stored.bytes += r.bytes;
          } else this.rollups.set(k, r);
        }
        this.events.push(...events);
        await this.deadLetters.insert(deadLetters);
        this.commits.push(checkpoints[0]?.position ?? '-');
      },
    };
  }

  /** Flows stored, over all roll-up rows. */
  storedFlows(): number {
    let n = 0;
    for (const r of this.rollups.values()) n += r.count;
    return n;
  }
}

export class InMemoryRetentionStore implements RetentionStore {
  readonly calls: Array<{ now: number; days: RetentionDays; signal?: AbortSignal }> = [];
  /** When set, passes wait for it (to observe a pass in progress). */
  gate?: Promise<void>;

  async deleteExpired(now: number, days: RetentionDays, signal?: AbortSignal): Promise<string[]> {
    this.calls.push({ now, days, signal });
    if (this.gate) await this.gate;
    return [];
  }
}
