import type { DataSource, EntityManager } from 'typeorm';
import type { AlertRecord, AlertTransition } from '../alerts/alert-lifecycle.js';
import { parseRule, type AlertRule } from '../alerts/alert-rules.js';
import type { AlertStore, EvaluationTx, OutboxEntry } from '../alerts/alert-store.port.js';
import type { Matcher } from '../alerts/matchers.js';
import type { GroupState } from '../alerts/notification-groups.js';
import { edgeIdentity, type AlertEdge, type WindowRow } from '../alerts/rule-conditions.js';
import type { Silence } from '../alerts/silences.js';

/** One key for the evaluator lock across every replica (pg_try_advisory_xact_lock). */
const EVALUATOR_LOCK = 0x64726f70616c7274n; // "dropalrt"

const ts = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
const ms = (v: Date | string | null) => (v === null ? undefined : new Date(v).getTime());

interface AlertRow {
  id: string;
  fingerprint: string;
  rule_id: string;
  status: AlertRecord['status'];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  edge: AlertEdge | null;
  count: string;
  active_at: Date;
  fired_at: Date | null;
  resolved_at: Date | null;
  last_seen: Date;
  history?: unknown[];
}

function toAlert(r: AlertRow): AlertRecord {
  return {
    id: Number(r.id),
    fingerprint: r.fingerprint,
    ruleId: r.rule_id,
    status: r.status,
    labels: r.labels,
    annotations: r.annotations,
    edge: r.edge ?? undefined,
    count: Number(r.count),
    activeAt: ms(r.active_at)!,
    firedAt: ms(r.fired_at),
    resolvedAt: ms(r.resolved_at),
    lastSeen: ms(r.last_seen)!,
  };
}

const ALERT_COLUMNS = `id, fingerprint, rule_id, status, labels, annotations, edge, count, active_at, fired_at, resolved_at, last_seen`;

export interface SilenceRow {
  id: string;
  matchers: Matcher[];
  starts_at: Date;
  ends_at: Date;
  created_by: string;
  comment: string;
}

export function toSilence(r: SilenceRow): Silence {
  return {
    id: r.id,
    matchers: r.matchers,
    startsAt: ms(r.starts_at)!,
    endsAt: ms(r.ends_at)!,
    createdBy: r.created_by,
    comment: r.comment,
  };
}

class PgEvaluationTx implements EvaluationTx {
  constructor(private readonly m: EntityManager) {}

  async activeAlerts(): Promise<AlertRecord[]> {
    const rows = (await this.m.query(
      `SELECT ${ALERT_COLUMNS} FROM alerts WHERE status <> 'resolved' ORDER BY id`,
    )) as AlertRow[];
    return rows.map(toAlert);
  }

  async windowRows(from: number, to: number): Promise<WindowRow[]> {
    // Buckets are minute starts: the bucket holding `from` starts up to a minute before it.
    const rows = (await this.m.query(
      `SELECT cluster, source, src_kind, src_namespace, src_workload, src_labels, dst_kind, dst_namespace,
              dst_workload, dst_labels, dst_port, protocol, verdict, direction, drop_reason, attribution_level,
              policies, count, first_seen, last_seen
         FROM edge_rollups
        WHERE bucket >= $1::timestamptz - interval '1 minute' AND bucket <= $2 AND verdict <> 'allowed'
          AND last_seen >= $1`,
      [ts(from), ts(to)],
    )) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      cluster: r.cluster as string,
      source: r.source as string,
      srcKind: r.src_kind as string,
      srcNamespace: r.src_namespace as string,
      srcWorkload: r.src_workload as string,
      srcLabels: (r.src_labels as Record<string, string> | null) ?? {},
      dstKind: r.dst_kind as string,
      dstNamespace: r.dst_namespace as string,
      dstWorkload: r.dst_workload as string,
      dstLabels: (r.dst_labels as Record<string, string> | null) ?? {},
      dstPort: Number(r.dst_port),
      protocol: r.protocol as string,
      verdict: r.verdict as string,
      direction: r.direction as string,
      dropReason: r.drop_reason as string,
      attributionLevel: r.attribution_level as string,
      policies: r.policies as string[],
      count: Number(r.count),
      firstSeen: (r.first_seen as Date).getTime(),
      lastSeen: (r.last_seen as Date).getTime(),
    }));
  }

  async baselineEdges(edges: readonly AlertEdge[], from: number, to: number): Promise<Set<string>> {
    if (edges.length === 0 || to <= from) return new Set();
    const doc = JSON.stringify(
      edges.map((e) => ({
        cluster: e.cluster,
        src_kind: e.srcKind,
        src_namespace: e.srcNamespace,
        src_workload: e.srcWorkload,
        dst_kind: e.dstKind,
        dst_namespace: e.dstNamespace,
        dst_workload: e.dstWorkload,
        dst_port: e.dstPort,
        protocol: e.protocol,
      })),
    );
    const rows = (await this.m.query(
      `SELECT DISTINCT c.* FROM json_to_recordset($1::json) AS c(cluster text, src_kind text, src_namespace text,
          src_workload text, dst_kind text, dst_namespace text, dst_workload text, dst_port int, protocol text)
        WHERE EXISTS (SELECT 1 FROM edge_rollups r
          WHERE r.verdict = 'denied' AND r.bucket >= $2 AND r.bucket < $3 AND r.cluster = c.cluster
            AND r.src_kind = c.src_kind AND r.src_namespace = c.src_namespace AND r.src_workload = c.src_workload
            AND r.dst_kind = c.dst_kind AND r.dst_namespace = c.dst_namespace AND r.dst_workload = c.dst_workload
            AND r.dst_port = c.dst_port AND r.protocol = c.protocol)`,
      [doc, ts(from), ts(to)],
    )) as Array<Record<string, string | number>>;
    return new Set(
      rows.map((c) =>
        edgeIdentity({
          cluster: String(c.cluster),
          srcKind: String(c.src_kind),
          srcNamespace: String(c.src_namespace),
          srcWorkload: String(c.src_workload),
          dstKind: String(c.dst_kind),
          dstNamespace: String(c.dst_namespace),
          dstWorkload: String(c.dst_workload),
          dstPort: Number(c.dst_port),
          protocol: String(c.protocol),
        } as AlertEdge),
      ),
    );
  }

  async groups(): Promise<GroupState[]> {
    const rows = (await this.m.query(`SELECT state FROM alert_groups ORDER BY group_key`)) as Array<{
      state: GroupState;
    }>;
    return rows.map((r) => r.state);
  }

  async alertsByIds(ids: readonly number[]): Promise<AlertRecord[]> {
    if (ids.length === 0) return [];
    const rows = (await this.m.query(`SELECT ${ALERT_COLUMNS} FROM alerts WHERE id = ANY($1::bigint[])`, [
      ids,
    ])) as AlertRow[];
    return rows.map(toAlert);
  }

  async silences(now: number): Promise<Silence[]> {
    const rows = (await this.m.query(`SELECT * FROM silences WHERE starts_at <= $1 AND ends_at > $1`, [
      ts(now),
    ])) as SilenceRow[];
    return rows.map(toSilence);
  }

  async saveAlerts(
    alerts: AlertRecord[],
    transitions: ReadonlyArray<{ alert: AlertRecord; to: AlertTransition; at: number }>,
  ): Promise<void> {
    const events = new Map<AlertRecord, Array<{ at: string; event: string }>>();
    for (const t of transitions) {
      const list = events.get(t.alert) ?? [];
      list.push({ at: ts(t.at)!, event: t.to });
      events.set(t.alert, list);
    }
    for (const a of alerts) {
      const params = [
        a.status,
        a.labels,
        a.annotations,
        a.edge ?? null,
        a.count,
        ts(a.activeAt),
        ts(a.firedAt),
        ts(a.resolvedAt),
        ts(a.lastSeen),
        JSON.stringify(events.get(a) ?? []),
      ];
      if (a.id === undefined) {
        const [row] = (await this.m.query(
          `INSERT INTO alerts (status, labels, annotations, edge, count, active_at, fired_at, resolved_at, last_seen, history, fingerprint, rule_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12) RETURNING id`,
          [...params, a.fingerprint, a.ruleId],
        )) as Array<{ id: string }>;
        a.id = Number(row.id);
      } else
        await this.m.query(
          `UPDATE alerts SET status = $1, labels = $2, annotations = $3, edge = $4, count = $5, active_at = $6,
             fired_at = $7, resolved_at = $8, last_seen = $9, history = history || $10::jsonb WHERE id = $11`,
          [...params, a.id],
        );
    }
  }

  async deleteAlerts(ids: readonly number[]): Promise<void> {
    if (ids.length > 0) await this.m.query(`DELETE FROM alerts WHERE id = ANY($1::bigint[])`, [ids]);
  }

  async saveGroups(groups: readonly GroupState[], deleted: readonly string[]): Promise<void> {
    if (deleted.length > 0) await this.m.query(`DELETE FROM alert_groups WHERE group_key = ANY($1)`, [deleted]);
    for (const g of groups)
      await this.m.query(
        `INSERT INTO alert_groups (group_key, state) VALUES ($1, $2)
         ON CONFLICT (group_key) DO UPDATE SET state = EXCLUDED.state`,
        [g.key, JSON.stringify(g)],
      );
  }

  async enqueue(entries: readonly OutboxEntry[]): Promise<void> {
    for (const e of entries) {
      await this.m.query(
        `INSERT INTO notification_outbox (receiver, group_key, seq, body, created_at, expires_at, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, $6, $5) ON CONFLICT (receiver, group_key, seq) DO NOTHING`,
        [e.receiver, e.groupKey, e.seq, JSON.stringify(e.body), ts(e.createdAt), ts(e.expiresAt)],
      );
      const event = JSON.stringify([{ at: ts(e.createdAt), event: 'notified', receiver: e.receiver, seq: e.seq }]);
      await this.m.query(`UPDATE alerts SET history = history || $1::jsonb WHERE id = ANY($2::bigint[])`, [
        event,
        e.alertIds,
      ]);
    }
  }
}

/**
 * Alert state in PostgreSQL: one evaluation is one transaction holding a transaction-scoped
 * advisory lock, so replicas never evaluate (or queue notifications) concurrently, and a crash
 * leaves either the whole evaluation or none of it.
 */
export class AlertStateRepository implements AlertStore {
  constructor(private readonly ds: DataSource) {}

  async withEvaluationLock<T>(fn: (tx: EvaluationTx) => Promise<T>): Promise<T | undefined> {
    return this.ds.transaction(async (m) => {
      const [{ locked }] = (await m.query(`SELECT pg_try_advisory_xact_lock($1::bigint) AS locked`, [
        EVALUATOR_LOCK.toString(),
      ])) as Array<{ locked: boolean }>;
      if (!locked) return undefined;
      return fn(new PgEvaluationTx(m));
    });
  }

  async apiRules(): Promise<AlertRule[]> {
    const rows = (await this.ds.query(`SELECT id, spec FROM alert_rules ORDER BY id`)) as Array<{
      id: string;
      spec: unknown;
    }>;
    return rows.map((r) => parseRule(r.spec, `alert_rules[${r.id}]`, 'api'));
  }

  async putRule(id: string, spec: unknown): Promise<boolean> {
    const rows = (await this.ds.query(
      `INSERT INTO alert_rules (id, spec) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET spec = EXCLUDED.spec, updated_at = now()
       RETURNING (xmax = 0) AS created`,
      [id, JSON.stringify(spec)],
    )) as Array<{ created: boolean }>;
    return rows[0].created;
  }

  async deleteRule(id: string): Promise<boolean> {
    const rows = (await this.ds.query(`DELETE FROM alert_rules WHERE id = $1 RETURNING id`, [id])) as unknown[];
    return rows.length > 0;
  }

  /** Alerts newest first, with their history; `status` filters, `fingerprint` narrows to one alert. */
  async listAlerts(filter: {
    status?: string;
    fingerprint?: string;
    limit: number;
  }): Promise<Array<AlertRecord & { history: unknown[] }>> {
    const rows = (await this.ds.query(
      `SELECT ${ALERT_COLUMNS}, history FROM alerts
        WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR fingerprint = $2)
        ORDER BY id DESC LIMIT $3`,
      [filter.status ?? null, filter.fingerprint ?? null, filter.limit],
    )) as AlertRow[];
    return rows.map((r) => ({ ...toAlert(r), history: r.history ?? [] }));
  }

  async listSilences(now: number, includeExpired: boolean): Promise<Silence[]> {
    const rows = (await this.ds.query(`SELECT * FROM silences WHERE $2 OR ends_at > $1 ORDER BY starts_at DESC, id`, [
      ts(now),
      includeExpired,
    ])) as SilenceRow[];
    return rows.map(toSilence);
  }

  async addSilence(s: Silence): Promise<void> {
    await this.ds.query(
      `INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment) VALUES ($1, $2, $3, $4, $5, $6)`,
      [s.id, JSON.stringify(s.matchers), ts(s.startsAt), ts(s.endsAt), s.createdBy, s.comment],
    );
  }

  /** Expires a silence now (kept for the record, as Alertmanager does). */
  async expireSilence(id: string, now: number): Promise<boolean> {
    const rows = (await this.ds.query(`UPDATE silences SET ends_at = LEAST(ends_at, $2) WHERE id = $1 RETURNING id`, [
      id,
      ts(now),
    ])) as unknown[][];
    return (rows[0]?.length ?? 0) > 0;
  }
}
