import { Counter, Histogram, type Registry } from 'prom-client';
import { CheckpointConflictError, StaleGenerationError } from '../bus/flow-bus.js';
import { metric } from '../metrics/metrics.registry.js';

/**
 * The `code` label of a failed write: a SQLSTATE (53100 disk full, 57P01 shutdown, ...) or a
 * socket errno (ECONNREFUSED); both come from fixed lists, so the label stays bounded.
 * `stale_generation`: the write was fenced (another Kafka consumer owns the partition now).
 * `checkpoint_conflict`: an earlier batch of the stream failed, this one would have skipped it.
 */
export function writeErrorCode(e: unknown): string {
  if (e instanceof StaleGenerationError || e instanceof CheckpointConflictError) return e.code;
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^(?:[0-9A-Z]{5}|E[A-Z0-9]{2,20})$/.test(code) ? code : 'other';
}

/**
 * Aggregator metrics. Every label is bounded: source, verdict and direction are validated enums,
 * `stage` is fixed, and `reason` goes through dropReasonLabel.
 */
export class AggregatorMetrics {
  readonly received: Counter<string>;
  readonly processed: Counter<string>;
  readonly drops: Counter<string>;
  readonly deadLetters: Counter<string>;
  readonly writeSeconds: Histogram<string>;
  readonly writeErrors: Counter<string>;
  readonly dropEventsSampledOut: Counter<string>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.received = metric(
      registry,
      'dropscope_flows_received_total',
      () =>
        new Counter({
          name: 'dropscope_flows_received_total',
          help: 'Records received from the bus, by source (`invalid` when the record could not be read).',
          labelNames: ['source'],
          registers,
        }),
    );
    this.processed = metric(
      registry,
      'dropscope_flows_processed_total',
      () =>
        new Counter({
          name: 'dropscope_flows_processed_total',
          help: 'Flows stored, weighted by the flows each record stands for (Calico num_flows).',
          labelNames: ['source', 'verdict'],
          registers,
        }),
    );
    this.drops = metric(
      registry,
      'dropscope_drops_total',
      () =>
        new Counter({
          name: 'dropscope_drops_total',
          help: 'Denied, dropped and audit flows stored, by direction and drop reason (a Cilium or Calico code, none, or other).',
          labelNames: ['verdict', 'direction', 'reason'],
          registers,
        }),
    );
    this.deadLetters = metric(
      registry,
      'dropscope_dead_letters_total',
      () =>
        new Counter({
          name: 'dropscope_dead_letters_total',
          help: 'Records that could not be read or validated, sent to the dead-letter path.',
          labelNames: ['stage'],
          registers,
        }),
    );
    this.writeSeconds = metric(
      registry,
      'dropscope_batch_write_duration_seconds',
      () =>
        new Histogram({
          name: 'dropscope_batch_write_duration_seconds',
          help: 'Time to write one aggregated batch (roll-ups, events, checkpoints) to PostgreSQL.',
          buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
          registers,
        }),
    );
    this.writeErrors = metric(
      registry,
      'dropscope_batch_write_errors_total',
      () =>
        new Counter({
          name: 'dropscope_batch_write_errors_total',
          help: 'Batch writes PostgreSQL refused (the batch is retried), by SQLSTATE or errno code (`other` without one).',
          labelNames: ['code'],
          registers,
        }),
    );
    this.dropEventsSampledOut = metric(
      registry,
      'dropscope_drop_events_sampled_out_total',
      () =>
        new Counter({
          name: 'dropscope_drop_events_sampled_out_total',
          help: 'Drop events not stored because their edge already had DROP_EVENTS_PER_EDGE_MINUTE that minute (their flows are in the roll-ups).',
          registers,
        }),
    );
  }
}
