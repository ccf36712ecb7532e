/**
 * A group notification as Alertmanager's `POST /api/v2/alerts` body. Firing alerts carry an
 * `endsAt` past the next repeat, so Alertmanager keeps them firing until Dropscope says otherwise.
 */
import type { Notification } from './notification-groups.js';

export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
}

export function alertmanagerAlerts(n: Notification, keepFiringMs: number, apiBase: string): PostableAlert[] {
  const url = (fp: string) => `${apiBase.replace(/\/$/, '')}/api/v1/alerts?fingerprint=${fp}`;
  return [
    ...n.firing.map((a) => ({
      labels: a.labels,
      annotations: { ...a.annotations, count: String(a.count) },
      startsAt: new Date(a.firedAt ?? a.activeAt).toISOString(),
      endsAt: new Date(n.at + keepFiringMs).toISOString(),
      generatorURL: url(a.fingerprint),
    })),
    ...n.resolved.map((a) => ({
      labels: a.labels,
      annotations: { ...a.annotations, count: String(a.count) },
      startsAt: new Date(a.firedAt ?? a.activeAt).toISOString(),
      endsAt: new Date(a.resolvedAt ?? n.at).toISOString(),
      generatorURL: url(a.fingerprint),
    })),
  ];
}
