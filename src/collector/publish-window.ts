import { CheckpointConflictError, type FlowBus, type PublishBatch } from '../bus/flow-bus.js';
import { Backoff } from '../common/backoff.js';
import type { Logger } from '../common/logger.js';

/** Several batches in flight: only on a bus that stores them in order and fails what follows a failure. */
export const IN_PROCESS_PUBLISH_WINDOW = 4;

export interface PublishWindowOptions {
  /**
   * Batches handed to the bus and not yet stored, at most (1: each publish waits until stored).
   * Above 1, every batch's checkpoint must say where it continues from (StreamCheckpoint.after),
   * so that once one fails no later one of its stream can be stored.
   */
  size: number;
  /** First delay before sending a failed batch again; doubles up to 30 s (default 500 ms). */
  retryDelayMs?: number;
  log: Logger;
  /** Stopping: a batch that fails is not sent again, its error is thrown. */
  stopping: () => boolean;
  /** Killed (a simulated crash): nothing more is sent or sent again. */
  killed: () => boolean;
}

interface InFlight {
  batch: PublishBatch;
  onStored: () => void;
  /** Settles once the bus answered: the error, or undefined when stored. */
  outcome: Promise<Error | undefined>;
}

/**
 * A collector's publishes, in order, with up to `size` in flight: the collector reads on while the
 * aggregator stores earlier batches (in embedded mode `publish` resolves only once the batch is
 * committed, so one at a time left the reader and the database waiting for each other). Each
 * batch's `onStored` runs once it is stored, in publish order per stream. A batch that fails is
 * sent again, and every batch after it that failed too, one at a time, with a capped backoff,
 * before anything new goes out. One refused as not continuing its stream's stored position
 * (CheckpointConflictError) is thrown: the caller resumes from the stored checkpoints.
 */
export class PublishWindow {
  private readonly inflight: InFlight[] = [];

  constructor(
    private readonly bus: FlowBus,
    private readonly opts: PublishWindowOptions,
  ) {}

  /** More than one batch in flight: checkpoints must carry `after`. */
  get pipelined(): boolean {
    return this.opts.size > 1;
  }

  /**
   * Hands `batch` to the bus. Resolves once the bus holds it and the window has room again; with
   * size 1, once it is stored. Throws only when stopping and a batch failed.
   */
  async send(batch: PublishBatch, onStored: () => void): Promise<void> {
    if (this.opts.killed()) return;
    let accept!: () => void;
    const accepted = new Promise<void>((r) => (accept = r));
    const outcome = this.bus.publish({ ...batch, accepted: accept }).then(
      () => undefined,
      (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
    );
    void outcome.finally(accept); // a bus that never calls `accepted` has at least answered
    this.inflight.push({ batch, onStored, outcome });
    await accepted;
    while (this.inflight.length >= this.opts.size) await this.settleOldest();
  }

  /** Resolves once every batch sent is stored (sending failed ones again as `send` does). */
  async drain(): Promise<void> {
    while (this.inflight.length > 0) await this.settleOldest();
  }

  /** Waits for the bus to answer every batch in flight and forgets them (a restart from stored checkpoints). */
  async abandon(): Promise<void> {
    const all = this.inflight.splice(0);
    await Promise.all(all.map((x) => x.outcome));
  }

  private async settleOldest(): Promise<void> {
    const head = this.inflight[0];
    if ((await head.outcome) === undefined) {
      this.inflight.shift();
      if (!this.opts.killed()) head.onStored();
      return;
    }
    // The bus fails what was queued behind a failed batch, and the store refuses a later batch of
    // its stream (its checkpoint continues from the failed one): wait for every answer, then send
    // the failed ones again in order. Batches of other streams may have been stored meanwhile.
    const all = this.inflight.splice(0);
    await Promise.all(all.map((x) => x.outcome));
    let first = true;
    for (const x of all) {
      if (this.opts.killed()) return;
      const error = await x.outcome;
      if (error === undefined) x.onStored();
      else {
        await this.resend(x, error, first);
        first = false;
      }
    }
  }

  /**
   * Sends a failed batch again until it is stored. `wait`: back off first (the batch that failed
   * on its own); else it failed because an earlier one did, which is stored by now: at once.
   */
  private async resend(x: InFlight, first: Error, wait: boolean): Promise<void> {
    const backoff = new Backoff({ initialMs: this.opts.retryDelayMs ?? 500, maxMs: 30_000, jitter: 0 });
    let error = first;
    for (let attempt = 0; ; attempt++) {
      if (wait || attempt > 0) {
        this.opts.log.warn('publishing flows failed; retrying the same batch', {
          error: String(error),
          delayMs: backoff.peek(),
        });
        if (this.opts.stopping()) throw error;
        await backoff.next();
        if (this.opts.killed()) return;
      }
      try {
        await this.bus.publish(x.batch);
        x.onStored();
        return;
      } catch (e) {
        // Sent again and refused as not continuing its stream's stored position: the write reported
        // failed had committed (a connection lost at COMMIT), and no resend can succeed.
        if (e instanceof CheckpointConflictError) throw e;
        error = e instanceof Error ? e : new Error(String(e));
      }
    }
  }
}
