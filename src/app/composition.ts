import type { Registry } from 'prom-client';
import { Aggregator, type BatchResult } from '../aggregator/aggregator.js';
import { AggregatorMetrics } from '../aggregator/aggregator.metrics.js';
import type { FlowAttributor } from '../aggregator/attribution.port.js';
import type { ConsumedBatch, FlowBus } from '../bus/flow-bus.js';
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
  /** Called after each batch the aggregator stored. */
  onBatch(listener: (batch: ConsumedBatch, result: BatchResult) => void): void;
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
    if (bus instanceof InProcessFlowBus) {
      // Lines a collector could not read skip the aggregator: count them here, or the dead-letter
      // metric would miss every unreadable line in the embedded mode.
      const deadLetters = new AggregatorMetrics(opts.registry).deadLetters;
      bus.setDeadLetterSink(async (l) => {
        await repositories.deadLetters.insert(l);
        deadLetters.inc({ stage: 'collector' }, l.length);
      });
    }

    const { attributor, policies } = await createAttribution(config, log, opts.registry);
    if (policies) steps.push(async () => policies.stop());

    const listeners: Array<(batch: ConsumedBatch, result: BatchResult) => void> = [];
    let aggregator: Aggregator | undefined;
    if (opts.roles.has('aggregator')) {
      const agg = new Aggregator(
        repositories.rollups,
        attributor,
        new AggregatorMetrics(opts.registry),
        log.child({ component: 'aggregator' }),
      );
      aggregator = agg;
      await bus.consume(
        async (b) => {
          const result = await agg.handle(b);
          for (const l of listeners) l(b, result);
        },
        {
          groupId: opts.localBus ? 'import' : (config.kafka?.groupId ?? 'dropscope-aggregator'),
          loadCheckpoints: (s) => repositories.checkpoints.loadMany(s),
          claimCheckpoints: (s) => repositories.checkpoints.claim(s),
          maxBatch: opts.localBus?.maxBatch ?? config.aggregator.maxBatch,
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
 * The in-process bus `import` runs on: big batches, because each roll-up key is upserted once
 * per batch, so fewer, larger transactions cut PostgreSQL's work; memory stays bounded by the queue.
 */
export const IMPORT_BUS: LocalBusSizes = { queueRecords: 40_000, maxBatch: 20_000 };

/** The pipeline of `import`, the benchmarks and the coming `demo`: the aggregator on IMPORT_BUS. */
export function openImportPipeline(config: AppConfig, log: Logger, registry: Registry): Promise<Pipeline> {
  return openPipeline(config, log, { roles: new Set(['aggregator']), registry, localBus: IMPORT_BUS });
}
