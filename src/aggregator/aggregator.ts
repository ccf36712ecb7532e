import type { ConsumedBatch, DeadLetter } from '../bus/flow-bus.js';
import { truncateRaw } from '../bus/flow-bus.js';
import { systemClock, type Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { isDrop } from '../flow/flow-record.js';
import { validateFlowRecord } from '../flow/flow-record.validator.js';
import { dropReasonLabel, writeErrorCode, type AggregatorMetrics } from './aggregator.metrics.js';
import type { FlowAttributor } from './attribution.port.js';
import { BatchRollup } from './edge-rollup.js';
import type { RollupWriter } from './rollup-writer.port.js';

/** How far ahead of this host's clock a flow's time may be (clock skew between nodes). */
const MAX_FUTURE_MS = 24 * 60 * 60 * 1000;

export interface BatchResult {
  received: number;
  flows: number;
  drops: number;
  deadLetters: number;
  /** Flows stored per verdict. */
  byVerdict: Record<string, number>;
}

function stringify(v: unknown): string {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/**
 * Consumes bus batches: validates each record (bad ones become dead letters with the reason),
 * attributes drops, folds flows into per-minute roll-ups and drop events, and hands the result to
 * the roll-up writer, which stores it with the batch's checkpoints in one transaction.
 */
export class Aggregator {
  /** Settles, with the failure count, when the last write handed out so far has settled. */
  private tail: Promise<number> = Promise.resolve(0);
  private failures = 0;

  /** The attributor can be swapped at run time (policy inventory reloads). */
  constructor(
    private readonly writer: RollupWriter,
    public attributor: FlowAttributor,
    private readonly metrics: AggregatorMetrics,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {}

  async handle(batch: ConsumedBatch): Promise<BatchResult> {
    const rollup = new BatchRollup();
    // Times far in the future are bad clocks or bad input; each new day would also cost a partition.
    const latest = this.clock.now() + MAX_FUTURE_MS;
    const dead: DeadLetter[] = batch.deadLetters ? [...batch.deadLetters] : [];
    const origin = batch.checkpoints.length > 0 ? batch.checkpoints[0].stream : 'bus';
    const processed = new Map<string, number>();
    const recordsBySource = new Map<string, number>();
    const drops = new Map<string, number>();
    for (const raw of batch.records) {
      let flow;
      try {
        flow = validateFlowRecord(raw);
      } catch (e) {
        dead.push({ raw: truncateRaw(stringify(raw)), reason: `invalid FlowRecord: ${(e as Error).message}`, origin });
        continue;
      }
      if (Date.parse(flow.time) > latest) {
        dead.push({
          raw: truncateRaw(stringify(raw)),
          reason: `invalid FlowRecord: time: ${flow.time} is more than a day in the future`,
          origin,
        });
        continue;
      }
      recordsBySource.set(flow.source, (recordsBySource.get(flow.source) ?? 0) + 1);
      const drop = isDrop(flow.verdict);
      rollup.add(flow, drop ? this.attributor.attribute(flow) : undefined);
      const pk = `${flow.source}\u0000${flow.verdict}`;
      processed.set(pk, (processed.get(pk) ?? 0) + flow.count);
      if (drop) {
        const dk = `${flow.verdict}\u0000${flow.direction}\u0000${dropReasonLabel(flow.dropReason)}`;
        drops.set(dk, (drops.get(dk) ?? 0) + flow.count);
      }
    }
    for (const d of dead) d.raw = d.raw.replaceAll('\u0000', '\\u0000'); // PostgreSQL text cannot hold NUL

    // Writes are chained in call order, so a batch never commits (and moves its checkpoints)
    // ahead of an earlier one; a batch prepared while an earlier write was in flight fails if
    // that write fails, because its data may sit after the failed data in the same stream.
    const prepared = this.writer.prepare(rollup, batch.checkpoints, dead);
    const failuresSeen = this.failures;
    const write = this.tail.then(async (failuresNow) => {
      if (failuresNow !== failuresSeen)
        throw new Error('an earlier batch failed to store; this one is retried with it');
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
      () => (this.failures = failuresSeen + 1),
    );
    await write;

    // Counted only once stored, so metrics agree with the database after a failed write.
    for (const [source, n] of recordsBySource) this.metrics.received.inc({ source }, n);
    if (dead.length > 0) this.metrics.received.inc({ source: 'invalid' }, dead.length);
    for (const [k, n] of processed) {
      const [source, verdict] = k.split('\u0000');
      this.metrics.processed.inc({ source, verdict }, n);
    }
    for (const [k, n] of drops) {
      const [verdict, direction, reason] = k.split('\u0000');
      this.metrics.drops.inc({ verdict, direction, reason }, n);
    }
    if (dead.length > 0) {
      this.metrics.deadLetters.inc({ stage: 'aggregator' }, dead.length);
      this.log.warn('dead letters stored', { count: dead.length, first: dead[0].reason });
    }
    const byVerdict: Record<string, number> = {};
    for (const [k, n] of processed) {
      const verdict = k.slice(k.indexOf('\u0000') + 1);
      byVerdict[verdict] = (byVerdict[verdict] ?? 0) + n;
    }
    return {
      received: batch.records.length,
      flows: rollup.flows,
      drops: rollup.drops,
      deadLetters: dead.length,
      byVerdict,
    };
  }
}
