/**
 * One evaluation: rules over the committed roll-ups → alert lifecycle → groups → outbox, all in
 * one transaction under the evaluator lock. Re-running an evaluation after a crash sees the state
 * the last committed one left, so nothing is queued twice and nothing is skipped.
 */
import type { Clock } from '../common/clock.js';
import type { PolicyInventory } from '../policy/policy-inventory.js';
import { suggest, type ObservedEdge } from '../suggest/index.js';
import { stableLabels } from '../suggest/workload-labels.js';
import { advanceAlerts, type AlertRecord } from './alert-lifecycle.js';
import { effectiveRules, type AlertRule } from './alert-rules.js';
import type { AlertStore, OutboxBody, OutboxEntry } from './alert-store.port.js';
import type { AlertingConfig } from './alerting-config.js';
import { alertmanagerAlerts } from './alertmanager-payload.js';
import { planGroups, type Notification } from './notification-groups.js';
import {
  edgeIdentity,
  rateCandidates,
  unexpectedDropCandidates,
  type AlertEdge,
  type Candidate,
} from './rule-conditions.js';
import { slackMessage } from './slack-message.js';

export interface EvaluatorOptions {
  /** External URL of the API, for links in messages. */
  apiBaseUrl: string;
  /** How long a notification is retried before it is given up (expired). */
  notificationTtlMs: number;
  /** The policy inventory for suggested fixes and namespace labels, when there is one. */
  inventory?: () => PolicyInventory | undefined;
}

export interface EvaluationSummary {
  pending: number;
  firing: number;
  notifications: number;
}

const PROTOCOLS = new Set(['TCP', 'UDP', 'SCTP']);

/** The suggested fix for an edge alert (k8s NetworkPolicy YAML), when the suggester can make one. */
export function suggestedFix(
  inventory: PolicyInventory | undefined,
  e: AlertEdge | undefined,
  seen: { count: number; firstSeen: number; lastSeen: number } = { count: 1, firstSeen: 0, lastSeen: 0 },
): string | undefined {
  if (!inventory || !e || e.srcKind !== 'pod' || e.dstKind !== 'pod' || !PROTOCOLS.has(e.protocol)) return undefined;
  const edge: ObservedEdge = {
    src: {
      kind: 'pod',
      namespace: e.srcNamespace,
      workload: e.srcWorkload,
      labels: stableLabels(e.srcLabels),
      ips: [],
    },
    dst: {
      kind: 'pod',
      namespace: e.dstNamespace,
      workload: e.dstWorkload,
      labels: stableLabels(e.dstLabels),
      ips: [],
    },
    dstPort: e.dstPort,
    protocol: e.protocol as ObservedEdge['protocol'],
    verdict: 'denied',
    // The YAML's annotation lists the flows each rule covers: the alert's own episode.
    count: Math.max(1, seen.count),
    firstSeen: new Date(seen.firstSeen).toISOString(),
    lastSeen: new Date(seen.lastSeen).toISOString(),
  };
  try {
    const yaml = suggest(inventory, [edge], { mode: 'fix', format: 'k8s' })
      .items.map((i) => i.yaml)
      .join('---\n');
    return yaml === '' ? undefined : yaml;
  } catch {
    return undefined; // no suggestion is better than no alert
  }
}

/** Namespace labels as alert labels (`namespace_label_team`), so routes can match team ownership. */
function withNamespaceLabels(c: Candidate, inventory: PolicyInventory | undefined): Candidate {
  const ns = c.labels.namespace;
  if (!inventory || !ns) return c;
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(inventory.namespaceLabels(ns))) {
    if (k === 'kubernetes.io/metadata.name') continue;
    extra[`namespace_label_${k.replace(/[^A-Za-z0-9_]/g, '_')}`] = v;
  }
  return { ...c, labels: { ...c.labels, ...extra } };
}

export class AlertEvaluator {
  constructor(
    private readonly store: AlertStore,
    private readonly config: () => AlertingConfig,
    private readonly clock: Clock,
    private readonly opts: EvaluatorOptions,
  ) {}

  async rules(): Promise<AlertRule[]> {
    return effectiveRules(this.config().rules, await this.store.apiRules());
  }

  /** Undefined when another replica holds the evaluator lock. */
  async evaluate(): Promise<EvaluationSummary | undefined> {
    const cfg = this.config();
    const all = await this.rules();
    const rules = all.filter((r) => r.enabled);
    const now = this.clock.now();
    const inventory = this.opts.inventory?.();
    return this.store.withEvaluationLock(async (tx) => {
      const active = await tx.activeAlerts();
      const lookback = Math.max(60_000, ...rules.map((r) => r.windowMs));
      const rows = await tx.windowRows(now - lookback, now);
      const activeEdges = new Set(active.filter((a) => a.edge).map((a) => `${a.ruleId}|${edgeIdentity(a.edge!)}`));
      const candidates: Candidate[] = [];
      for (const rule of rules) {
        if (rule.type === 'rate') {
          candidates.push(...rateCandidates(rule, rows, now));
          continue;
        }
        const edges = unexpectedDropCandidates(rule, rows, now, new Set(), cfg.expectedDrops, activeEdges);
        const to = now - rule.baselineOffsetMs;
        const inBaseline = await tx.baselineEdges(
          edges.filter((c) => !activeEdges.has(`${rule.id}|${edgeIdentity(c.edge!)}`)).map((c) => c.edge!),
          to - rule.baselineMs,
          to,
        );
        candidates.push(...unexpectedDropCandidates(rule, rows, now, inBaseline, cfg.expectedDrops, activeEdges));
      }
      const step = advanceAlerts(
        active,
        candidates.map((c) => withNamespaceLabels(c, inventory)),
        new Map(all.map((r) => [r.id, r])),
        now,
      );
      await tx.saveAlerts(step.alerts, step.transitions);
      await tx.deleteAlerts(step.forgotten.map((a) => a.id!));
      const groups = await tx.groups();
      const announced = [...new Set(groups.flatMap((g) => g.lastFiring))];
      const justNow = new Set(step.alerts.map((a) => a.id));
      const earlier = (await tx.alertsByIds(announced)).filter((a) => a.status === 'resolved' && !justNow.has(a.id));
      const plan = planGroups(groups, [...step.alerts, ...earlier], cfg.route, await tx.silences(now), now);
      await tx.saveGroups(plan.groups, plan.deleted);
      const entries: OutboxEntry[] = [];
      for (const n of plan.notifications) {
        const body = this.render(n, cfg, inventory);
        if (!body) continue;
        entries.push({
          receiver: n.receiver,
          groupKey: n.groupKey,
          seq: n.seq,
          body,
          createdAt: now,
          expiresAt: now + this.opts.notificationTtlMs,
          alertIds: [...n.firing, ...n.resolved].map((a) => a.id!),
        });
      }
      await tx.enqueue(entries);
      const open = step.alerts.filter((a: AlertRecord) => a.status !== 'resolved');
      return {
        pending: open.filter((a) => a.status === 'pending').length,
        firing: open.filter((a) => a.status === 'firing').length,
        notifications: entries.length,
      };
    });
  }

  private render(n: Notification, cfg: AlertingConfig, inventory: PolicyInventory | undefined): OutboxBody | undefined {
    const receiver = cfg.receivers.get(n.receiver);
    if (!receiver || receiver.kind === 'none') return undefined;
    if (receiver.kind === 'alertmanager') {
      const group = cfg.route;
      return {
        kind: 'alertmanager',
        payload: alertmanagerAlerts(n, group.repeatIntervalMs + group.groupIntervalMs, this.opts.apiBaseUrl),
      };
    }
    const fixes = new Map<string, string>();
    for (const a of n.firing) {
      const fix = suggestedFix(inventory, a.edge, { count: a.count, firstSeen: a.activeAt, lastSeen: a.lastSeen });
      if (fix) fixes.set(a.fingerprint, fix);
    }
    return { kind: 'slack', payload: slackMessage(n, fixes, this.opts.apiBaseUrl) };
  }
}
