import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';
import { ensureTokens } from '../api/auth.js';
import { setupApiDocs } from '../api/swagger.js';
import type { Collector } from '../collector/collector.js';
import { ReadinessChecks } from '../health/readiness.js';
import type { Logger } from '../common/logger.js';
import { NestLoggerAdapter } from '../common/pino-logger.js';
import { version } from '../common/version.js';
import { ConfigError, type AppConfig } from '../config/config.js';
import { createMetricsRegistry } from '../metrics/metrics.registry.js';
import { migrationsApplied } from '../storage/data-source.js';
import { startAlerting } from './alerting.js';
import { localUrl } from './local-url.js';
import { systemClock } from '../common/clock.js';
import { AppModule } from './app.module.js';
import type { Runtime } from './runtime.js';
import { openPipeline } from './composition.js';
import { scheduleRetention, scheduleRollupClosing } from './retention-schedule.js';
import { createCollectors } from './collectors.js';

export interface RunningService {
  runtime: Runtime;
  /** The bound HTTP port (useful with PORT=0 in tests). */
  port: number;
  close(): Promise<void>;
}

const RETENTION_EVERY_MS = 60 * 60 * 1000;
/** How often units to close are looked for (FIVE_MINUTE_ROLLUP_LATENESS for 5- and 15-minute units, HOURLY_ROLLUP_LATENESS after their end). */
const ROLLUP_CLOSING_EVERY_MS = 60 * 1000;

/**
 * Starts the roles the configuration asks for, in dependency order: the pipeline (database,
 * embedded when no DATABASE_URL; bus; aggregator: src/app/composition.ts), retention, collectors
 * and HTTP. close() stops them in reverse order so that nothing accepted from a source is left
 * unstored.
 */
export async function startService(config: AppConfig, log: Logger): Promise<RunningService> {
  if (!config.kafka && config.roles.has('collector') && !config.roles.has('aggregator'))
    throw new ConfigError(
      'DROPSCOPE_ROLES',
      'must include aggregator with collector when KAFKA_BROKERS is unset (the in-process bus has no other consumer)',
    );
  config = ensureTokens(config, log); // AUTH_DISABLED warning, or the first-start admin token file
  const registry = createMetricsRegistry(version());
  const pipeline = await openPipeline(config, log, {
    roles: config.roles,
    registry,
    onFatalBusError: (e, close) => {
      // kafkajs gave up on the consumer: exit so the orchestrator restarts us from stored offsets.
      log.error('Kafka consumer failed for good; exiting', { error: e.message });
      void close().finally(() => process.exit(1));
    },
  });
  const { db, bus, repositories, aggregator, policies } = pipeline;
  try {
    // Retention and roll-up closing write to the tables the aggregator owns.
    if (aggregator) {
      pipeline.defer(
        scheduleRetention(
          repositories.retention,
          config.retention,
          log.child({ component: 'retention' }),
          RETENTION_EVERY_MS,
        ),
      );
      pipeline.defer(
        scheduleRollupClosing(
          repositories.rollupCloser,
          { hourMs: config.hourlyRollupLatenessMs, fiveMinuteMs: config.fiveMinuteRollupLatenessMs },
          log.child({ component: 'rollup-closer' }),
          ROLLUP_CLOSING_EVERY_MS,
        ),
      );
    }

    const collectors: Collector[] = config.roles.has('collector')
      ? createCollectors(config, bus, repositories.checkpoints, registry, log)
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
      repositories,
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
    pipeline.defer(() => app.close());
    const address = app.getHttpServer().address() as AddressInfo;
    // The alerts role: evaluation and the notification outbox (src/alerts). It starts once HTTP is
    // bound, so that its default link base names the bound port (PORT may be 0).
    if (config.roles.has('alerts')) {
      const alerting = startAlerting({
        dataSource: db.dataSource,
        config,
        log,
        registry,
        clock: systemClock,
        localApiUrl: localUrl(address),
        inventory: policies ? () => policies.current() : undefined,
      });
      pipeline.defer(() => alerting.stop());
    }

    // Collectors start last: everything they feed is ready.
    for (const c of collectors) {
      await c.start();
      pipeline.defer(() => c.stop());
    }
    log.info('dropscope started', {
      port: address.port,
      roles: [...config.roles],
      database: db.embedded ? 'embedded' : 'external',
      bus: bus.kind,
      collectors: collectors.map((c) => c.name),
    });
    return { runtime, port: address.port, close: pipeline.close };
  } catch (e) {
    await pipeline.close();
    throw e;
  }
}
