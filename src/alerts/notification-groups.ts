/**
 * Aggregation groups and their notification timing, with Alertmanager's semantics: a new group
 * waits `group_wait` before its first notification; then, every `group_interval`, it notifies when
 * an alert was added or resolved since the last notification, or when `repeat_interval` has passed
 * with alerts still firing. Silenced alerts are left out. An alert that resolves before its group
 * ever notified it is never announced (as resolved or otherwise).
 */
import type { AlertRecord } from './alert-lifecycle.js';
import type { Labels } from './matchers.js';
import { groupKey, groupLabels, matchRoutes, type Route, type Timings } from './route-tree.js';
import { silencedBy, type Silence } from './silences.js';

export interface GroupState extends Timings {
  key: string;
  receiver: string;
  labels: Labels;
  createdAt: number;
  nextFlushAt: number;
  lastNotifiedAt?: number;
  /** Alert ids (episodes) announced as firing by the last notification. */
  lastFiring: number[];
  /** Notifications sent so far; the next one is seq + 1. */
  seq: number;
}

export interface Notification {
  groupKey: string;
  receiver: string;
  groupLabels: Labels;
  seq: number;
  at: number;
  firing: AlertRecord[];
  resolved: AlertRecord[];
}

export interface GroupPlan {
  groups: GroupState[];
  deleted: string[];
  notifications: Notification[];
}

/**
 * `alerts`: firing alerts and the resolved ones some group last announced as firing (all with
 * ids). Returns the groups to store, the groups to delete and the notifications to queue.
 */
export function planGroups(
  existing: readonly GroupState[],
  alerts: readonly AlertRecord[],
  route: Route,
  silences: readonly Silence[],
  now: number,
): GroupPlan {
  const groups = new Map(existing.map((g) => [g.key, { ...g, lastFiring: [...g.lastFiring] }]));
  const firing = new Map<string, AlertRecord[]>();
  for (const a of alerts) {
    if (a.status !== 'firing' || a.id === undefined) continue;
    if (silencedBy(silences, a.labels, now).length > 0) continue;
    for (const m of matchRoutes(route, a.labels)) {
      const key = groupKey(m, a.labels);
      if (!groups.has(key))
        groups.set(key, {
          key,
          receiver: m.receiver,
          labels: groupLabels(m.groupBy, a.labels),
          createdAt: now,
          nextFlushAt: now + m.groupWaitMs,
          groupWaitMs: m.groupWaitMs,
          groupIntervalMs: m.groupIntervalMs,
          repeatIntervalMs: m.repeatIntervalMs,
          lastFiring: [],
          seq: 0,
        });
      const list = firing.get(key) ?? [];
      list.push(a);
      firing.set(key, list);
    }
  }
  const resolvedById = new Map(
    alerts.filter((a) => a.status === 'resolved' && a.id !== undefined).map((a) => [a.id!, a]),
  );
  const plan: GroupPlan = { groups: [], deleted: [], notifications: [] };
  for (const g of groups.values()) {
    const f = (firing.get(g.key) ?? []).sort(
      (x, y) => x.activeAt - y.activeAt || x.fingerprint.localeCompare(y.fingerprint),
    );
    const r = g.lastFiring.map((id) => resolvedById.get(id)).filter((a): a is AlertRecord => a !== undefined);
    if (now >= g.nextFlushAt) {
      const announced = new Set(g.lastFiring);
      const added = f.some((a) => !announced.has(a.id!));
      const repeat = f.length > 0 && g.lastNotifiedAt !== undefined && now - g.lastNotifiedAt >= g.repeatIntervalMs;
      if (added || r.length > 0 || repeat) {
        g.seq += 1;
        g.lastNotifiedAt = now;
        plan.notifications.push({
          groupKey: g.key,
          receiver: g.receiver,
          groupLabels: g.labels,
          seq: g.seq,
          at: now,
          firing: f,
          resolved: r,
        });
        g.lastFiring = f.map((a) => a.id!);
      } else {
        // Silenced or vanished alerts leave the announced set quietly; if they come back they are news.
        const now_ = new Set(f.map((a) => a.id!));
        g.lastFiring = g.lastFiring.filter((id) => now_.has(id));
      }
      g.nextFlushAt = now + g.groupIntervalMs;
      if (f.length === 0) {
        plan.deleted.push(g.key);
        continue;
      }
    } else if (f.length === 0 && r.length === 0) {
      // Everything resolved (or was silenced) before the group first spoke: nothing to say.
      if (g.lastNotifiedAt === undefined || g.lastFiring.length === 0) {
        plan.deleted.push(g.key);
        continue;
      }
    }
    plan.groups.push(g);
  }
  return plan;
}
