import {
  EarlierWriteFailedError,
  laterCheckpoint,
  type ConsumedBatch,
  type DeadLetter,
  type StreamCheckpoint,
} from '../bus/flow-bus.js';
import { systemClock, type Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { writeErrorCode, type AggregatorMetrics } from './aggregator.metrics.js';
import type { FlowAttributor } from './attribution.port.js';
import { BatchRollup } from './edge-rollup.js';
import { DropEventSampler } from './drop-event-sampler.js';
import { addCount, foldRecords } from './record-fold.js';
import type { PreparedWrite, RollupWriter } from './rollup-writer.port.js';

export interface BatchResult {
  received: number;
  flows: number;
  drops: number;
  deadLetters: number;
  /** Drop events left out by DROP_EVENTS_PER_EDGE_MINUTE (their flows are in `flows`). */
  dropEventsSampledOut: number;
  /** Flows stored per verdict. */
  byVerdict: Record<string, number>;
}

/**
 * Carrying roll-ups across batches (import): batches are folded into one open flush until it
 * holds `maxEntries` roll-up rows, drop events and dead letters (a memory budget: about 0.5 KB a
 * row, 1.5 KB an event) or its first batch has waited `maxDelayMs`; then it is stored in one
 * transaction with the checkpoints of every batch it holds. A roll-up row seen in many batches
 * is then upserted once, not once per batch.
 */
export interface CarryOptions {
  maxEntries: number;
  maxDelayMs: number;
}

interface Waiter {
  result: BatchResult;
  resolve: (r: BatchResult) => void;
  reject: (e: Error) => void;
}

/** Batches folded since the last flush: stored together, with the checkpoints they reach. */
class OpenFlush {
  rollup: BatchRollup;
  /**
   * Per stream, the checkpoint of the latest batch folded in (batches of a stream arrive in order),
   * whole: a Kafka checkpoint carries its writer's generation, which fences zombie writers.
   */
  checkpoints = new Map<string, StreamCheckpoint>();
  dead: DeadLetter[] = [];
  deadCount = 0;
  /** Of `dead`, those a collector found and published with its batch (`stage="collector"`). */
  collectorDeadCount = 0;
  firstDeadReason = '';
  eventsSampledOut = 0;
  readonly recordsBySource = new Map<string, number>();
  readonly processed = new Map<string, number>();
  readonly drops = new Map<string, number>();
  readonly waiters: Waiter[] = [];
  timer?: ReturnType<typeof setTimeout>;
  /** Without carrying: written once the write in flight when it was opened settles. */
  sealAfterWrite = false;

  /** `failuresSeen`: the aggregator's failure count when the first batch was folded in. */
  constructor(
    readonly failuresSeen: number,
    sampler: DropEventSampler | undefined,
  ) {
    this.rollup = new BatchRollup(sampler);
  }

  get entries(): number {
    return this.rollup.entries + this.dead.length;
  }

  /** Once serialized, only the counts are needed until the write settles: let the rows go. */
  release(): void {
    this.deadCount = this.dead.length;
    this.firstDeadReason = this.dead[0]?.reason ?? '';
    this.eventsSampledOut = this.rollup.eventsSampledOut;
    this.rollup = new BatchRollup();
    this.checkpoints = new Map();
    this.dead = [];
  }
}

/**
 * Consumes bus batches: validates each record (bad ones become dead letters with the reason),
 * attributes drops, folds flows into per-minute roll-ups and drop events, and hands the result to
 * the roll-up writer, which stores it with the batches' checkpoints in one transaction. Without
 * `carry` each batch is stored on its own, or with `groupCommit` with the others that come while
 * a write is in flight; with `carry`, batches are carried into larger flushes.
 */
export class Aggregator {
  /** Settles, with the failure count, when the last write handed out so far has settled. */
  private tail: Promise<number> = Promise.resolve(0);
  private failures = 0;
  private open?: OpenFlush;
  /** Flushes handed to the writer and not yet settled (ready() bounds them). */
  private readonly writing: Array<Promise<unknown>> = [];
  private readonly sampler?: DropEventSampler;

  /** The attributor can be swapped at run time (policy inventory reloads). */
  constructor(
    private readonly writer: RollupWriter,
    public attributor: FlowAttributor,
    private readonly metrics: AggregatorMetrics,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
    private readonly carry?: CarryOptions,
    /**
     * Without `carry`: batches that come while a write is in flight (several Kafka partitions
     * consumed at once) are stored together by the next write, with all their checkpoints, in one
     * transaction instead of one each (group commit). Off, each batch is prepared at once and its
     * write chained after the one in flight (the in-process bus hands over two at a time so).
     */
    private readonly groupCommit = false,
    /** DROP_EVENTS_PER_EDGE_MINUTE: drop events kept per roll-up row (0: every one). */
    readonly dropEventsPerRow = 0,
  ) {
    if (dropEventsPerRow > 0) this.sampler = new DropEventSampler(dropEventsPerRow);
  }

  /**
   * Folds the batch in and resolves once it is stored (the bus's acknowledgement). Without
   * `carry`, or when the batch asks for it (`flush`) or the budget is reached, the flush is
   * written now; otherwise at the latest after `maxDelayMs`.
   */
  handle(batch: ConsumedBatch): Promise<BatchResult> {
    // Not async: a suspended async function would keep `batch` (its records) alive until stored.
    const open = (this.open ??= new OpenFlush(this.failures, this.sampler));
    let result: BatchResult;
    try {
      result = this.fold(batch, open);
    } catch (e) {
      // Half folded: nothing of this flush may be stored. Its batches fail and are retried.
      this.discard(open, e as Error);
      return Promise.reject(e as Error);
    }
    const stored = new Promise<BatchResult>((resolve, reject) => open.waiters.push({ result, resolve, reject }));
    if (this.carry) {
      if (batch.flush || open.entries >= this.carry.maxEntries) this.seal();
      else open.timer ??= setTimeout(() => this.seal(), this.carry.maxDelayMs);
    } else if (!this.groupCommit || this.writing.length === 0) {
      this.seal();
    } else if (!open.sealAfterWrite) {
      // Alone, a batch is written at once; one that comes while a write is in flight waits for it.
      open.sealAfterWrite = true;
      void this.writing[this.writing.length - 1].finally(() => {
        if (this.open === open) this.seal();
      });
    }
    return stored;
  }

  /**
   * Resolves when another batch may be folded in before earlier ones are stored: at most one
   * flush is written while the next one waits, so memory stays at about three flushes' worth.
   */
  async ready(): Promise<void> {
    while (this.writing.length >= 2) await this.writing[0];
  }

  /** Writes what is carried now (shutdown); resolves when every flush so far has settled. */
  async flush(): Promise<void> {
    this.seal();
    await this.tail;
  }

  private fold(batch: ConsumedBatch, open: OpenFlush): BatchResult {
    const rollup = open.rollup;
    const flowsBefore = rollup.flows;
    const dropsBefore = rollup.drops;
    const sampledOutBefore = rollup.eventsSampledOut;
    const dead: DeadLetter[] = batch.deadLetters ? [...batch.deadLetters] : [];
    if (batch.deadLettersFrom === 'collector') open.collectorDeadCount += dead.length;
    const origin = batch.checkpoints.length > 0 ? batch.checkpoints[0].stream : 'bus';
    const byVerdict: Record<string, number> = {};
    const { recordsBySource, processed, drops } = open;
    const target = { rollup, recordsBySource, processed, drops, byVerdict, dead };
    foldRecords(batch.records, target, origin, this.clock.now(), (f) => this.attributor.attribute(f));
    let received = batch.records.length;
    // Segments folded in the import's worker threads: merged in order, their drops attributed here.
    for (const p of batch.prefolded ?? []) {
      received += p.records;
      rollup.merge(p);
      for (const f of p.unattributed) rollup.add(f, this.attributor.attribute(f));
      for (const [k, n] of p.recordsBySource) addCount(open.recordsBySource, k, n);
      for (const [k, n] of p.processed) addCount(open.processed, k, n);
      for (const [k, n] of p.dropLabels) addCount(open.drops, k, n);
      for (const k in p.byVerdict) byVerdict[k] = (byVerdict[k] ?? 0) + p.byVerdict[k];
      for (const d of p.invalid) dead.push(d);
    }
    for (const d of dead) {
      d.raw = d.raw.replaceAll('\u0000', '\\u0000'); // PostgreSQL text cannot hold NUL
      open.dead.push(d);
    }
    for (const c of batch.checkpoints)
      open.checkpoints.set(c.stream, laterCheckpoint(open.checkpoints.get(c.stream), c));
    return {
      received,
      flows: rollup.flows - flowsBefore,
      drops: rollup.drops - dropsBefore,
      deadLetters: dead.length,
      dropEventsSampledOut: rollup.eventsSampledOut - sampledOutBefore,
      byVerdict,
    };
  }

  /** Hands the open flush to the writer, after every earlier one. */
  private seal(): void {
    const open = this.open;
    if (!open) return;
    this.open = undefined;
    clearTimeout(open.timer);
    // Writes are chained in call order, so a flush never commits (and moves its checkpoints)
    // ahead of an earlier one; a flush folded while an earlier write was in flight fails if
    // that write fails, because its data may sit after the failed data in the same stream.
    const failuresSeen = open.failuresSeen;
    let prepared: PreparedWrite;
    try {
      prepared = this.writer.prepare(open.rollup, [...open.checkpoints.values()], open.dead);
    } catch (e) {
      this.discard(open, e as Error);
      return;
    }
    open.release();
    const write = this.tail.then(async (failuresNow) => {
      if (failuresNow !== failuresSeen) throw new EarlierWriteFailedError();
      const stop = this.metrics.writeSeconds.startTimer();
      try {
        await prepared.commit();
      } catch (e) {
        // Counted here, where the database refused it; the bus logs it and has the batch retried.
        this.metrics.writeErrors.inc({ code: writeErrorCode(e) });
        throw e;
      }
      stop();
    });
    this.tail = write.then(
      () => this.failures,
      () => {
        // The failed flush's events were counted as kept: count afresh for its retry.
        this.sampler?.reset();
        return (this.failures = failuresSeen + 1);
      },
    );
    const settled = write.then(
      () => this.stored(open),
      (e: unknown) => {
        for (const w of open.waiters) w.reject(e as Error);
        // What is carried now was folded while this write was in flight: it may continue a
        // failed stream, so it fails now rather than at its own write.
        if (this.open && this.open.failuresSeen !== this.failures)
          this.discard(this.open, new EarlierWriteFailedError());
      },
    );
    this.writing.push(settled);
    void settled.finally(() => this.writing.splice(this.writing.indexOf(settled), 1));
  }

  private discard(open: OpenFlush, e: Error): void {
    if (this.open === open) this.open = undefined;
    this.sampler?.reset();
    clearTimeout(open.timer);
    for (const w of open.waiters) w.reject(e);
  }

  /** Counted only once stored, so metrics agree with the database after a failed write. */
  private stored(open: OpenFlush): void {
    for (const [source, n] of open.recordsBySource) this.metrics.received.inc({ source }, n);
    if (open.deadCount > 0) this.metrics.received.inc({ source: 'invalid' }, open.deadCount);
    for (const [k, n] of open.processed) {
      const [source, verdict] = k.split('\u0000');
      this.metrics.processed.inc({ source, verdict }, n);
    }
    for (const [k, n] of open.drops) {
      const [verdict, direction, reason] = k.split('\u0000');
      this.metrics.drops.inc({ verdict, direction, reason }, n);
    }
    if (open.eventsSampledOut > 0) this.metrics.dropEventsSampledOut.inc(open.eventsSampledOut);
    if (open.deadCount > 0) {
      if (open.collectorDeadCount > 0) this.metrics.deadLetters.inc({ stage: 'collector' }, open.collectorDeadCount);
      const found = open.deadCount - open.collectorDeadCount;
      if (found > 0) this.metrics.deadLetters.inc({ stage: 'aggregator' }, found);
      this.log.warn('dead letters stored', { count: open.deadCount, first: open.firstDeadReason });
    }
    for (const w of open.waiters) w.resolve(w.result);
  }
}
