import { Counter, Gauge, type Registry } from 'prom-client';
import { metric } from '../metrics/metrics.registry.js';

/** Alerting metrics; labels are bounded (integration kind, outcome, status). */
export class AlertingMetrics {
  readonly notifications: Counter<'integration' | 'outcome'>;
  readonly evaluations: Counter<'outcome'>;
  readonly alerts: Gauge<'status'>;
  readonly outboxPending: Gauge;

  constructor(registry: Registry) {
    this.notifications = metric(
      registry,
      'dropscope_alert_notifications_total',
      () =>
        new Counter({
          name: 'dropscope_alert_notifications_total',
          help: 'Notification delivery attempts by integration (slack, alertmanager) and outcome (delivered, retry, failed, expired).',
          labelNames: ['integration', 'outcome'],
          registers: [registry],
        }),
    );
    this.evaluations = metric(
      registry,
      'dropscope_alert_evaluations_total',
      () =>
        new Counter({
          name: 'dropscope_alert_evaluations_total',
          help: 'Alert rule evaluations by outcome (done, standby: another replica holds the lock, error).',
          labelNames: ['outcome'],
          registers: [registry],
        }),
    );
    this.alerts = metric(
      registry,
      'dropscope_alerts',
      () =>
        new Gauge({
          name: 'dropscope_alerts',
          help: 'Active alerts by status (pending, firing), as of the last evaluation on this replica.',
          labelNames: ['status'],
          registers: [registry],
        }),
    );
    this.outboxPending = metric(
      registry,
      'dropscope_alert_outbox_pending',
      () =>
        new Gauge({
          name: 'dropscope_alert_outbox_pending',
          help: 'Notifications written to the outbox and not yet delivered.',
          registers: [registry],
        }),
    );
    for (const outcome of ['delivered', 'retry', 'failed', 'expired'])
      for (const integration of ['slack', 'alertmanager']) this.notifications.inc({ integration, outcome }, 0);
  }
}
