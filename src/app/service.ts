import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Aggregator } from '../aggregator/aggregator.js';
import { ensureTokens } from '../api/auth.js';
import { setupApiDocs } from '../api/swagger.js';
import { AggregatorMetrics } from '../aggregator/aggregator.metrics.js';
import { DropRollupRepository } from '../aggregator/drop-rollup.repository.js';
import type { FlowBus } from '../bus/flow-bus.js';
import { InProcessFlowBus } from '../bus/in-process-flow.bus.js';
import type { Collector } from '../collector/collector.js';
import { ReadinessChecks } from '../health/readiness.js';
import type { Logger } from '../common/logger.js';
import { NestLoggerAdapter } from '../common/pino-logger.js';
import { version } from '../common/version.js';
import { ConfigError, type AppConfig } from '../config/config.js';
import { createMetricsRegistry } from '../metrics/metrics.registry.js';
import { migrationsApplied } from '../storage/data-source.js';
import { openDatabase } from '../storage/database.js';
import { PartitionManager } from '../storage/partition.manager.js';
import { startAlerting } from '../alerts/alerting.service.js';
import { systemClock } from '../common/clock.js';
import { AppModule } from './app.module.js';
import type { Runtime } from './runtime.js';
import { createAttribution, createBus, createCollectors } from './wiring.js';

export interface RunningService {
  runtime: Runtime;
  /** The bound HTTP port (useful with PORT=0 in tests). */
  port: number;
  close(): Promise<void>;
}

const RETENTION_EVERY_MS = 60 * 60 * 1000;

/**
 * Starts the roles the configuration asks for, in dependency order: database (embedded when no
 * DATABASE_URL), bus, aggregator, collectors, then HTTP. close() stops them in reverse order so
 * that nothing accepted from a source is left unstored.
 */
export async function startService(config: AppConfig, log: Logger): Promise<RunningService> {
  if (!config.kafka && config.roles.has('collector') && !config.roles.has('aggregator'))
    throw new ConfigError(
      'DROPSCOPE_ROLES',
      'must include aggregator with collector when KAFKA_BROKERS is unset (the in-process bus has no other consumer)',
    );
  config = ensureTokens(config, log); // AUTH_DISABLED warning, or the first-start admin token file
  const registry = createMetricsRegistry(version());
  const db = await openDatabase(
    { url: config.database.url, dataDir: config.dataDir, poolSize: config.database.poolSize },
    log.child({ component: 'database' }),
  );
  const cleanups: Array<() => Promise<void>> = [() => db.close()];
  let closing: Promise<void> | undefined;
  // Idempotent: a signal and a fatal consumer error may both ask for shutdown.
  const closeAll = () =>
    (closing ??= (async () => {
      for (const c of [...cleanups].reverse()) {
        try {
          await c();
        } catch (e) {
          log.error('error during shutdown', { error: String(e) });
        }
      }
    })());
  try {
    const partitions = new PartitionManager(db.dataSource, log.child({ component: 'partitions' }));
    const repo = new DropRollupRepository(db.dataSource, partitions);
    const bus: FlowBus = await createBus(config, registry, log, repo, (e) => {
      // kafkajs gave up on the consumer: exit so the orchestrator restarts us from stored offsets.
      log.error('Kafka consumer failed for good; exiting', { error: e.message });
      void closeAll().finally(() => process.exit(1));
    });
    cleanups.push(() => bus.close());
    if (bus instanceof InProcessFlowBus) bus.setDeadLetterSink((l) => repo.insertDeadLetters(l));

    const { attributor, policies } = await createAttribution(config, log, registry);
    if (policies) cleanups.push(async () => policies.stop());

    let aggregator: Aggregator | undefined;
    if (config.roles.has('aggregator')) {
      aggregator = new Aggregator(
        repo,
        attributor,
        new AggregatorMetrics(registry),
        log.child({ component: 'aggregator' }),
      );
      const agg = aggregator;
      await bus.consume((b) => agg.handle(b).then(() => undefined), {
        groupId: config.kafka?.groupId ?? 'dropscope-aggregator',
        loadCheckpoints: (s) => repo.loadCheckpoints(s),
        maxBatch: config.aggregator.maxBatch,
      });
      let stopped = false;
      let pass: Promise<void> = Promise.resolve();
      const retention = async () => {
        try {
          await partitions.dropExpired(Date.now(), {
            edge_rollups: config.retention.rollupDays,
            drop_events: config.retention.eventDays,
          });
          if (config.retention.deadLetterDays > 0 && !stopped)
            await db.dataSource.query(
              `DELETE FROM dead_letters WHERE received_at < now() - make_interval(days => $1)`,
              [config.retention.deadLetterDays],
            );
        } catch (e) {
          if (!stopped) log.error('retention failed; will retry', { error: String(e) });
        }
      };
      const runPass = () => (pass = retention());
      runPass();
      const timer = setInterval(runPass, RETENTION_EVERY_MS);
      timer.unref();
      // Stop the background pass before the pool closes: a pass cut off by shutdown is not a failure.
      cleanups.push(async () => {
        stopped = true;
        clearInterval(timer);
        await pass;
      });
    }

    // --- alerts role (one call; the composition root may re-home it) ---
    if (config.roles.has('alerts')) {
      const alerting = startAlerting({
        dataSource: db.dataSource,
        config,
        log,
        registry,
        clock: systemClock,
        inventory: policies ? () => policies.current() : undefined,
      });
      cleanups.push(() => alerting.stop());
    }

    const collectors: Collector[] = config.roles.has('collector')
      ? createCollectors(config, bus, repo, registry, log)
      : [];

    const readiness = new ReadinessChecks({
      database: () => migrationsApplied(db.dataSource),
      collectors,
      collectorDownGraceMs: config.collectorDownGraceMs,
      log: log.child({ component: 'readiness' }),
    });
    const runtime: Runtime = {
      config,
      log,
      registry,
      db,
      bus,
      repo,
      aggregator,
      policies,
      collectors,
      readiness: () => readiness.check(),
    };

    const app = await NestFactory.create<NestExpressApplication>(AppModule.register(runtime), {
      logger: new NestLoggerAdapter(log.child({ component: 'http' })),
      bodyParser: false,
    });
    app.useBodyParser('json', { limit: '1mb' });
    app.disable('x-powered-by');
    if (config.roles.has('api')) setupApiDocs(app);
    await app.listen(config.port, config.host);
    cleanups.push(() => app.close());
    const address = app.getHttpServer().address() as { port: number };

    // Collectors start last: everything they feed is ready.
    for (const c of collectors) {
      await c.start();
      cleanups.push(() => c.stop());
    }
    log.info('dropscope started', {
      port: address.port,
      roles: [...config.roles],
      database: db.embedded ? 'embedded' : 'external',
      bus: bus.kind,
      collectors: collectors.map((c) => c.name),
    });
    return { runtime, port: address.port, close: closeAll };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
