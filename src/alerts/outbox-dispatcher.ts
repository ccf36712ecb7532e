/**
 * Delivers the outbox, per receiver in order: the oldest pending entry goes first, and a failing
 * one holds back the later ones (retried with backoff, or after Slack's Retry-After) until it is
 * delivered or expires. Entries are marked delivered only after the receiver said so.
 */
import { backoffDelay, type BackoffOptions } from '../common/backoff.js';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import type { OutboxStore } from './alert-store.port.js';
import type { Receiver } from './alerting-config.js';
import type { AlertingMetrics } from './alerting.metrics.js';
import { deliver } from './notification-sender.js';

export interface DispatcherOptions {
  sendTimeoutMs: number;
  /** Least time between two messages to one receiver (Slack allows about one per second). */
  minIntervalMs: number;
  backoff: BackoffOptions;
  env: Record<string, string | undefined>;
}

export class OutboxDispatcher {
  /** Per receiver: not before this time (pacing and Retry-After), by the clock. */
  private readonly notBefore = new Map<string, number>();

  constructor(
    private readonly store: OutboxStore,
    private readonly receivers: () => ReadonlyMap<string, Receiver>,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly metrics: AlertingMetrics,
    private readonly opts: DispatcherOptions,
  ) {}

  /** One pass over every receiver with pending entries; returns how many were delivered. */
  async deliverDue(): Promise<number> {
    let delivered = 0;
    for (const name of await this.store.pendingReceivers()) delivered += await this.deliverReceiver(name);
    return delivered;
  }

  private async deliverReceiver(name: string): Promise<number> {
    let delivered = 0;
    for (;;) {
      const now = this.clock.now();
      if ((this.notBefore.get(name) ?? 0) > now) return delivered;
      const entry = await this.store.claimHead(name, now, now + 2 * this.opts.sendTimeoutMs);
      if (!entry) return delivered;
      const receiver = this.receivers().get(name);
      if (entry.expiresAt <= now) {
        await this.store.markFailed(entry.id, now, 'expired before delivery');
        this.metrics.notifications.inc({ integration: entry.body.kind, outcome: 'expired' });
        this.log.error('notification expired undelivered', { receiver: name, group: entry.groupKey, seq: entry.seq });
        continue;
      }
      if (!receiver || receiver.kind === 'none') {
        await this.store.markRetry(entry.id, now + 60_000, `receiver ${name} is not configured`);
        return delivered;
      }
      const r = await deliver(receiver, entry.body, { timeoutMs: this.opts.sendTimeoutMs, now, env: this.opts.env });
      const after = this.clock.now();
      if (r.outcome === 'delivered') {
        await this.store.markDelivered(entry.id, after);
        this.metrics.notifications.inc({ integration: entry.body.kind, outcome: 'delivered' });
        this.notBefore.set(name, after + this.opts.minIntervalMs);
        delivered++;
        continue;
      }
      if (r.outcome === 'failed') {
        await this.store.markFailed(entry.id, after, r.error);
        this.metrics.notifications.inc({ integration: entry.body.kind, outcome: 'failed' });
        this.log.error('notification rejected by receiver', { receiver: name, group: entry.groupKey, error: r.error });
        continue;
      }
      const wait = Math.max(backoffDelay(entry.attempts - 1, this.opts.backoff), r.retryAfterMs ?? 0);
      await this.store.markRetry(entry.id, after + wait, r.error);
      this.notBefore.set(name, after + wait);
      this.metrics.notifications.inc({ integration: entry.body.kind, outcome: 'retry' });
      this.log.warn('notification not delivered; will retry', {
        receiver: name,
        attempt: entry.attempts,
        retryInMs: wait,
        error: r.error,
      });
      return delivered;
    }
  }
}
