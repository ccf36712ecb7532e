import type { Registry } from 'prom-client';
import { Aggregator, type BatchResult, type CarryOptions } from '../aggregator/aggregator.js';
import { AggregatorMetrics } from '../aggregator/aggregator.metrics.js';
import type { FlowAttributor } from '../aggregator/attribution.port.js';
import type { PrefoldedSegment } from '../aggregator/prefolded-segment.js';
import type { FlowBus } from '../bus/flow-bus.js';
import { InProcessFlowBus } from '../bus/in-process-flow.bus.js';
import type { Logger } from '../common/logger.js';
import type { AppConfig, Role } from '../config/config.js';
import type { PolicyInventorySource } from '../policy/policy-inventory.js';
import { openDatabase, type Database } from '../storage/database.js';
import { postgresWriteRepositories, type WriteRepositories } from '../storage/repositories.js';
import { createAttribution, createBus } from './wiring.js';

/** In-process bus sizes for batch work (import, benchmarks): big batches, bounded memory. */
export interface LocalBusSizes {
  queueRecords: number;
  maxBatch: number;
  /** The aggregator carries roll-ups across batches (fewer, larger writes); absent: one write a batch. */
  carry?: CarryOptions;
}

export interface PipelineOptions {
  /** What starts: with `aggregator`, the aggregator consumes the bus. */
  roles: ReadonlySet<Role>;
  registry: Registry;
  /** Always an in-process bus of these sizes (import), whatever KAFKA_BROKERS says. */
  localBus?: LocalBusSizes;
  /** The bus gave up for good (Kafka); `close` stops everything built so far. */
  onFatalBusError?: (e: Error, close: () => Promise<void>) => void;
}

/**
 * The pipeline every entry point builds through (serve, import, benchmarks): database (embedded
 * without DATABASE_URL, migrated), write repositories, bus, attribution and, with the aggregator
 * role, the aggregator consuming the bus. close() stops them in reverse order of start, with
 * whatever the caller registered through defer() first.
 */
export interface Pipeline {
  db: Database;
  repositories: WriteRepositories;
  bus: FlowBus;
  attributor: FlowAttributor;
  /** The policy inventory; absent when none is configured. */
  policies?: PolicyInventorySource;
  aggregator?: Aggregator;
  /**
   * Called with each batch's records (and segments folded in import workers) as the aggregator
   * takes them (before they are stored).
   */
  onRecords(listener: (records: readonly unknown[], prefolded: readonly PrefoldedSegment[]) => void): void;
  /** Called after each batch the aggregator stored. */
  onBatch(listener: (result: BatchResult) => void): void;
  /** Adds a shutdown step, run before those registered earlier. */
  defer(step: () => Promise<void>): void;
  /** Idempotent: a signal and a fatal consumer error may both ask for shutdown. */
  close(): Promise<void>;
}

export async function openPipeline(config: AppConfig, log: Logger, opts: PipelineOptions): Promise<Pipeline> {
  const db = await openDatabase(
    { url: config.database.url, dataDir: config.dataDir, poolSize: config.database.poolSize },
    log.child({ component: 'database' }),
  );
  const steps: Array<() => Promise<void>> = [() => db.close()];
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      for (const step of [...steps].reverse()) {
        try {
          await step();
        } catch (e) {
          log.error('error during shutdown', { error: String(e) });
        }
      }
    })());
  try {
    const repositories = postgresWriteRepositories(db.dataSource, log);
    const bus: FlowBus = opts.localBus
      ? new InProcessFlowBus(opts.localBus.queueRecords, log.child({ component: 'bus' }))
      : await createBus(config, opts.registry, log, repositories.checkpoints, (e) => opts.onFatalBusError?.(e, close));
    steps.push(() => bus.close());

    const { attributor, policies } = await createAttribution(config, log, opts.registry);
    if (policies) steps.push(async () => policies.stop());

    const recordListeners: Array<(records: readonly unknown[], prefolded: readonly PrefoldedSegment[]) => void> = [];
    const listeners: Array<(result: BatchResult) => void> = [];
    let aggregator: Aggregator | undefined;
    if (opts.roles.has('aggregator')) {
      const carry = opts.localBus?.carry;
      const agg = new Aggregator(
        repositories.rollups,
        attributor,
        new AggregatorMetrics(opts.registry),
        log.child({ component: 'aggregator' }),
        undefined,
        carry,
        // Kafka members consume several partitions at once: their batches share transactions.
        config.kafka !== undefined && !opts.localBus,
        config.aggregator.dropEventsPerEdgeMinute,
      );
      aggregator = agg;
      // Carried batches are stored before the bus closes (steps run in reverse order).
      if (carry) steps.push(() => agg.flush());
      await bus.consume(
        // Not async, so nothing keeps `b` alive while a carried batch waits to be stored.
        (b) => {
          for (const l of recordListeners) l(b.records, b.prefolded ?? []);
          return agg.handle(b).then((result) => {
            for (const l of listeners) l(result);
          });
        },
        {
          groupId: opts.localBus ? 'import' : (config.kafka?.groupId ?? 'dropscope-aggregator'),
          loadCheckpoints: (s) => repositories.checkpoints.loadMany(s),
          claimCheckpoints: (s) => repositories.checkpoints.claim(s),
          maxBatch: opts.localBus?.maxBatch ?? config.aggregator.maxBatch,
          ready: carry ? () => agg.ready() : undefined,
        },
      );
    }
    return {
      db,
      repositories,
      bus,
      attributor,
      policies,
      aggregator,
      onRecords: (l) => void recordListeners.push(l),
      onBatch: (l) => void listeners.push(l),
      defer: (step) => void steps.push(step),
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * The in-process bus `import` runs on. The aggregator carries roll-ups across batches until
 * `entries` rows, events and dead letters (IMPORT_FLUSH_ENTRIES, default 20,000: about 20 MB) or
 * 5 s, so a roll-up key is upserted once per flush rather than once per batch
 * (docs/PERFORMANCE.md); the queue in front of it is small, so the reader waits (back-pressure)
 * instead of piling up records.
 */
export function importBus(entries: number): LocalBusSizes {
  return { queueRecords: 8_192, maxBatch: 4_096, carry: { maxEntries: entries, maxDelayMs: 5_000 } };
}

/** The pipeline of `import`, the benchmarks and the coming `demo`: the aggregator on importBus. */
export function openImportPipeline(config: AppConfig, log: Logger, registry: Registry): Promise<Pipeline> {
  return openPipeline(config, log, {
    roles: new Set(['aggregator']),
    registry,
    localBus: importBus(config.aggregator.importFlushEntries),
  });
}
