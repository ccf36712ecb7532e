import type { Logger } from '../common/logger.js';
import { silentLogger } from '../common/logger.js';
import type { PrefoldedSegment } from '../aggregator/prefolded-segment.js';
import { batchRecordCount } from './flow-bus.js';
import { laterCheckpoint } from './flow-bus.js';
import type { BatchHandler, ConsumeOptions, DeadLetter, FlowBus, PublishBatch, StreamCheckpoint } from './flow-bus.js';

interface Pending {
  batch: PublishBatch;
  /** batchRecordCount(batch): what the queue bound and batch sizes count. */
  size: number;
  done: () => void;
  fail: (e: Error) => void;
}

/**
 * The embedded-mode bus: a bounded in-memory queue between collectors and the aggregator in one
 * process. `publish` resolves only once the aggregator has committed the batch, so a collector's
 * in-flight data is bounded by `maxQueuedRecords` (backpressure) and a crash loses nothing that a
 * collector believes delivered: collectors resume from checkpoints stored with the data.
 */
export class InProcessFlowBus implements FlowBus {
  readonly kind = 'in-process' as const;
  private readonly queue: Pending[] = [];
  private queuedRecords = 0;
  private handler?: BatchHandler;
  private maxBatch = 5000;
  private ready?: () => Promise<void>;
  private running = false;
  private closed = false;
  private wake?: () => void;
  private spaceWaiters: Array<() => void> = [];
  private loop?: Promise<void>;

  constructor(
    private readonly maxQueuedRecords = 50_000,
    private readonly log: Logger = silentLogger,
  ) {}

  async publish(batch: PublishBatch): Promise<void> {
    if (this.closed) throw new Error('bus is closed');
    const size = batchRecordCount(batch);
    while (this.queuedRecords > 0 && this.queuedRecords + size > this.maxQueuedRecords) {
      await new Promise<void>((r) => this.spaceWaiters.push(r));
      if (this.closed) throw new Error('bus is closed');
    }
    this.queuedRecords += size;
    return this.enqueue(batch, size);
  }

  /**
   * Not async: an async function keeps its arguments alive while suspended, and a carrying
   * consumer stores a batch long after taking its records.
   */
  private enqueue(batch: PublishBatch, size: number): Promise<void> {
    return new Promise<void>((done, fail) => {
      this.queue.push({ batch, size, done, fail });
      this.wake?.();
      batch.accepted?.();
    });
  }

  /** Dead letters on their own: a batch of nothing else, stored and counted by the consumer. */
  publishDeadLetters(letters: DeadLetter[]): Promise<void> {
    return this.publish({ records: [], deadLetters: letters });
  }

  async consume(handler: BatchHandler, options: ConsumeOptions): Promise<void> {
    if (this.handler) throw new Error('the in-process bus has one consumer');
    this.handler = handler;
    this.maxBatch = options.maxBatch ?? this.maxBatch;
    this.ready = options.ready;
    this.running = true;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    // Without `ready`: two batches in the handler at once (the aggregator prepares one while
    // PostgreSQL stores the other; it keeps their writes in order). With it: as many as the
    // handler is ready for, each leaving the queue's count when handed over.
    const inflight = new Set<Promise<void>>();
    while (this.running) {
      if (this.queue.length === 0) {
        if (inflight.size > 0 && !this.ready) {
          await inflight.values().next().value;
          continue;
        }
        await new Promise<void>((r) => (this.wake = r));
        this.wake = undefined;
        continue;
      }
      // Merge queued publishes into one consumed batch up to maxBatch records.
      const taken: Pending[] = [];
      let n = 0;
      while (this.queue.length > 0 && (taken.length === 0 || n + this.queue[0].size <= this.maxBatch)) {
        const p = this.queue.shift()!;
        taken.push(p);
        n += p.size;
      }
      const records: unknown[] = [];
      const prefolded: PrefoldedSegment[] = [];
      const checkpoints = new Map<string, StreamCheckpoint>();
      const deadLetters: DeadLetter[] = [];
      let flush = false;
      for (const p of taken) {
        for (const r of p.batch.records) records.push(r);
        if (p.batch.prefolded) prefolded.push(...p.batch.prefolded);
        if (p.batch.deadLetters) deadLetters.push(...p.batch.deadLetters);
        for (const c of p.batch.checkpoints ?? [])
          checkpoints.set(c.stream, laterCheckpoint(checkpoints.get(c.stream), c));
        if (p.batch.flush) flush = true;
      }
      // Only the callbacks outlive the hand-over: a carrying handler must not find its records
      // kept alive here until they are stored.
      const acks = taken.map(({ done, fail }) => ({ done, fail }));
      taken.length = 0;
      const settled = this.handler!({
        records,
        checkpoints: [...checkpoints.values()],
        deadLetters,
        ...(deadLetters.length > 0 ? { deadLettersFrom: 'collector' as const } : {}),
        ...(prefolded.length > 0 ? { prefolded } : {}),
        ...(flush ? { flush } : {}),
      })
        .then(
          () => {
            for (const p of acks) p.done();
          },
          (e: unknown) => {
            this.log.error('aggregator failed a batch; publishers see the error and retry', { error: String(e) });
            const err = e instanceof Error ? e : new Error(String(e));
            for (const p of acks) p.fail(err);
            // Batches queued behind a failed one may continue its streams: storing them would move
            // their checkpoints past the lost data. They fail too; publishers resume from what is stored.
            for (const p of this.queue.splice(0)) {
              this.queuedRecords -= p.size;
              p.fail(new Error(`an earlier batch failed to store: ${err.message}`));
            }
            // Publishers waiting for room get it now, not only at the next hand-over (there may be none).
            for (const w of this.spaceWaiters.splice(0)) w();
          },
        )
        .finally(() => {
          inflight.delete(settled);
          if (!this.ready) this.release(n);
        });
      inflight.add(settled);
      if (this.ready) {
        this.release(n);
        await this.ready();
      } else if (inflight.size >= 2) await inflight.values().next().value;
    }
    await Promise.all(inflight);
  }

  /** `n` records left the queue: wake publishers waiting for room. */
  private release(n: number): void {
    this.queuedRecords -= n;
    for (const w of this.spaceWaiters.splice(0)) w();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.running = false;
    this.wake?.();
    await this.loop;
    for (const p of this.queue.splice(0)) p.fail(new Error('bus closed before the batch was stored'));
    for (const w of this.spaceWaiters.splice(0)) w();
  }
}
