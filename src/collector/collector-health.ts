import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';
import { metric } from '../metrics/metrics.registry.js';

/** What /readyz and `dropscope_collector_up` know about one collector. */
export interface CollectorStatus {
  up: boolean;
  /** When the collector entered its current state (ms since epoch). */
  since: number;
  /** Why it is down (absent while up). */
  cause?: string;
}

/**
 * Up/down state of one collector. A collector calls `up()` when its source delivers (stream
 * open, file readable) and `down(cause)` on each failure; only a change of state is logged and
 * moves the gauge, so a source failing every retry logs one line, not one per attempt.
 */
export class CollectorHealth {
  private state: CollectorStatus;
  private readonly gauge?: Gauge<'collector'>;

  constructor(
    readonly collector: string,
    private readonly log: Logger,
    registry?: Registry,
    private readonly now: () => number = Date.now,
  ) {
    // Down until the source first answers: a collector that never connects must not look healthy.
    this.state = { up: false, since: now(), cause: 'not connected yet' };
    if (registry) {
      this.gauge = metric(
        registry,
        'dropscope_collector_up',
        () =>
          new Gauge({
            name: 'dropscope_collector_up',
            help: '1 while a collector reads from its source, 0 while it retries a failed one.',
            labelNames: ['collector'],
            registers: [registry],
          }),
      ) as Gauge<'collector'>;
      this.gauge.set({ collector }, 0);
    }
  }

  get status(): CollectorStatus {
    return { ...this.state };
  }

  up(): void {
    if (this.state.up) return;
    const downFor = this.now() - this.state.since;
    this.state = { up: true, since: this.now() };
    this.gauge?.set({ collector: this.collector }, 1);
    this.log.info('collector up', { collector: this.collector, downForMs: downFor });
  }

  down(cause: string): void {
    if (!this.state.up) {
      // Still down: keep the first time (the grace period counts from it); refresh the cause quietly.
      if (this.state.cause === 'not connected yet' && cause !== this.state.cause) {
        this.state.cause = cause;
        this.log.warn('collector down', { collector: this.collector, cause });
      }
      return;
    }
    this.state = { up: false, since: this.now(), cause };
    this.gauge?.set({ collector: this.collector }, 0);
    this.log.warn('collector down', { collector: this.collector, cause });
  }
}

/** A collector that reports its health (all three built-in ones do). */
export interface HealthReporting {
  readonly health: CollectorHealth;
}

export function reportsHealth(c: object): c is HealthReporting {
  return 'health' in c && (c as { health: unknown }).health instanceof CollectorHealth;
}

/**
 * The readiness check of one collector: `ok` while it is up or has been down for less than
 * `graceMs` (a reconnect is routine), else `down`.
 */
export function collectorReadiness(status: CollectorStatus, graceMs: number, now: number): 'ok' | 'down' {
  return status.up || now - status.since < graceMs ? 'ok' : 'down';
}
