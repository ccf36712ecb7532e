/**
 * An alert's life, driven by evaluations: pending while its condition holds for less than the
 * rule's `for` (and below its min_count), firing after that, resolved after the rule's quiet
 * period without the condition. A pending alert whose condition lapses is forgotten: transient
 * blips (a pod's first seconds before its policy is programmed) never fire.
 */
import type { AlertRule } from './alert-rules.js';
import { fingerprint } from './fingerprint.js';
import type { Labels } from './matchers.js';
import type { AlertEdge, Candidate } from './rule-conditions.js';

export type AlertStatus = 'pending' | 'firing' | 'resolved';

export interface AlertRecord {
  /** Database id (one per episode); undefined until stored. */
  id?: number;
  fingerprint: string;
  ruleId: string;
  status: AlertStatus;
  labels: Labels;
  annotations: Record<string, string>;
  /** When the condition started holding (first drop of the episode). */
  activeAt: number;
  firedAt?: number;
  resolvedAt?: number;
  /** The last time the condition was seen holding (last drop, or last true evaluation). */
  lastSeen: number;
  /** Drops in the rule's window at the last evaluation that saw the condition. */
  count: number;
  edge?: AlertEdge;
}

export type AlertTransition = 'pending' | 'firing' | 'resolved' | 'forgotten';

export interface LifecycleResult {
  /** Every alert still active or just resolved, updated (new ones without id). */
  alerts: AlertRecord[];
  /** Pending alerts whose condition lapsed (to delete). */
  forgotten: AlertRecord[];
  transitions: Array<{ alert: AlertRecord; to: AlertTransition; at: number }>;
}

/**
 * One evaluation step. `active` are the stored pending and firing alerts; `candidates` where each
 * enabled rule's condition holds now. Alerts of rules that no longer exist or are disabled resolve.
 */
export function advanceAlerts(
  active: readonly AlertRecord[],
  candidates: readonly Candidate[],
  rules: ReadonlyMap<string, AlertRule>,
  now: number,
): LifecycleResult {
  const out: LifecycleResult = { alerts: [], forgotten: [], transitions: [] };
  const byFp = new Map(active.map((a) => [a.fingerprint, a]));
  const seen = new Set<string>();
  for (const c of candidates) {
    const rule = rules.get(c.ruleId);
    if (!rule) continue;
    const fp = fingerprint(c.labels);
    if (seen.has(fp)) continue;
    seen.add(fp);
    const prev = byFp.get(fp);
    const a: AlertRecord = prev
      ? {
          ...prev,
          annotations: c.annotations,
          lastSeen: Math.max(prev.lastSeen, c.lastSeen),
          count: c.count,
          edge: c.edge ?? prev.edge,
        }
      : {
          fingerprint: fp,
          ruleId: c.ruleId,
          status: 'pending',
          labels: c.labels,
          annotations: c.annotations,
          activeAt: Math.min(c.firstSeen, now),
          lastSeen: c.lastSeen,
          count: c.count,
          edge: c.edge,
        };
    if (!prev) out.transitions.push({ alert: a, to: 'pending', at: now });
    if (a.status === 'pending' && (now - a.activeAt >= rule.forMs || (rule.minCount > 0 && c.count >= rule.minCount))) {
      a.status = 'firing';
      a.firedAt = now;
      out.transitions.push({ alert: a, to: 'firing', at: now });
    }
    out.alerts.push(a);
  }
  for (const prev of active) {
    if (seen.has(prev.fingerprint)) continue;
    const rule = rules.get(prev.ruleId);
    if (prev.status === 'pending') {
      out.forgotten.push(prev);
      out.transitions.push({ alert: prev, to: 'forgotten', at: now });
      continue;
    }
    if (!rule || !rule.enabled || now - prev.lastSeen >= rule.resolveAfterMs) {
      const a: AlertRecord = { ...prev, status: 'resolved', resolvedAt: now };
      out.alerts.push(a);
      out.transitions.push({ alert: a, to: 'resolved', at: now });
    } else out.alerts.push(prev);
  }
  return out;
}
