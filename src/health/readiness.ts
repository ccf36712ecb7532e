import type { Collector } from '../collector/collector.js';
import { collectorReadiness, reportsHealth } from '../collector/collector-health.js';
import type { Logger } from '../common/logger.js';

export interface ReadinessOptions {
  /** Resolves true when the schema is current, false when migrations are pending; throws when unreachable. */
  database: () => Promise<boolean>;
  collectors: Collector[];
  /** A collector down for longer than this fails readiness (COLLECTOR_DOWN_GRACE_SECONDS). */
  collectorDownGraceMs: number;
  log: Logger;
  now?: () => number;
}

/**
 * The /readyz checks. Answers only generic states (`ok`, `down`, `migrations pending`): the probe
 * is unauthenticated, and a driver's error text can name hosts, users or passwords. The cause
 * goes to the log instead, once per change so a failing probe every few seconds logs one line.
 */
export class ReadinessChecks {
  private lastDatabaseError?: string;

  constructor(private readonly opts: ReadinessOptions) {}

  async check(): Promise<Record<string, string>> {
    const checks: Record<string, string> = {};
    try {
      checks.database = (await this.opts.database()) ? 'ok' : 'migrations pending';
      this.lastDatabaseError = undefined;
    } catch (e) {
      checks.database = 'down';
      const error = e instanceof Error ? e.message : String(e);
      if (error !== this.lastDatabaseError) this.opts.log.error('readiness: the database is unreachable', { error });
      this.lastDatabaseError = error;
    }
    const now = (this.opts.now ?? Date.now)();
    for (const c of this.opts.collectors) {
      if (!reportsHealth(c)) continue;
      checks[`collector:${c.health.collector}`] = collectorReadiness(
        c.health.status,
        this.opts.collectorDownGraceMs,
        now,
      );
    }
    return checks;
  }
}
