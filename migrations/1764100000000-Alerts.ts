import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Alerting state (docs/ALERTS.md): API-managed rules, alerts (one row per episode, with its
 * history), aggregation groups (Alertmanager's notification log), silences, and the notification
 * outbox (written in the evaluation's transaction, delivered and retried from there).
 */
export class Alerts1764100000000 implements MigrationInterface {
  name = 'Alerts1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE alert_rules (
        id text PRIMARY KEY,
        spec jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE alerts (
        id bigserial PRIMARY KEY,
        fingerprint text NOT NULL,
        rule_id text NOT NULL,
        status text NOT NULL,
        labels jsonb NOT NULL,
        annotations jsonb NOT NULL,
        edge jsonb,
        count bigint NOT NULL,
        active_at timestamptz NOT NULL,
        fired_at timestamptz,
        resolved_at timestamptz,
        last_seen timestamptz NOT NULL,
        history jsonb NOT NULL DEFAULT '[]'
      )`);
    // One open episode per fingerprint: re-evaluation updates it, never duplicates it.
    await q.query(`CREATE UNIQUE INDEX alerts_open_fingerprint ON alerts (fingerprint) WHERE status <> 'resolved'`);
    await q.query(`CREATE INDEX alerts_resolved_at ON alerts (resolved_at DESC) WHERE status = 'resolved'`);
    await q.query(`
      CREATE TABLE alert_groups (
        group_key text PRIMARY KEY,
        state jsonb NOT NULL
      )`);
    await q.query(`
      CREATE TABLE silences (
        id text PRIMARY KEY,
        matchers jsonb NOT NULL,
        starts_at timestamptz NOT NULL,
        ends_at timestamptz NOT NULL,
        created_by text NOT NULL DEFAULT '',
        comment text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE notification_outbox (
        id bigserial PRIMARY KEY,
        receiver text NOT NULL,
        group_key text NOT NULL,
        seq integer NOT NULL,
        body jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        next_attempt_at timestamptz NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        delivered_at timestamptz,
        failed_at timestamptz,
        last_error text,
        UNIQUE (receiver, group_key, seq)
      )`);
    await q.query(
      `CREATE INDEX notification_outbox_pending ON notification_outbox (receiver, id) WHERE delivered_at IS NULL AND failed_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE notification_outbox`);
    await q.query(`DROP TABLE silences`);
    await q.query(`DROP TABLE alert_groups`);
    await q.query(`DROP TABLE alerts`);
    await q.query(`DROP TABLE alert_rules`);
  }
}
