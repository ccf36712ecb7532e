import type { DataSource } from 'typeorm';
import type { OutboxBody, OutboxStore, StoredOutboxEntry } from '../alerts/alert-store.port.js';

const ts = (ms: number) => new Date(ms).toISOString();

/**
 * The notification outbox. Entries are written by the evaluation transaction; delivery claims the
 * oldest pending entry of a receiver with a lease (so two replicas never send it at once, and a
 * later entry never overtakes an earlier one), then records the outcome.
 */
export class NotificationOutboxRepository implements OutboxStore {
  constructor(private readonly ds: DataSource) {}

  async pendingReceivers(): Promise<string[]> {
    const rows = (await this.ds.query(
      `SELECT DISTINCT receiver FROM notification_outbox WHERE delivered_at IS NULL AND failed_at IS NULL ORDER BY 1`,
    )) as Array<{ receiver: string }>;
    return rows.map((r) => r.receiver);
  }

  async claimHead(receiver: string, now: number, leaseUntil: number): Promise<StoredOutboxEntry | undefined> {
    return this.ds.transaction(async (m) => {
      const head = (await m.query(
        `SELECT id FROM notification_outbox WHERE receiver = $1 AND delivered_at IS NULL AND failed_at IS NULL
          ORDER BY id LIMIT 1`,
        [receiver],
      )) as Array<{ id: string }>;
      if (head.length === 0) return undefined;
      const rows = (await m.query(
        `SELECT id, receiver, group_key, seq, body, attempts, expires_at FROM notification_outbox
          WHERE id = $1 AND next_attempt_at <= $2 FOR UPDATE SKIP LOCKED`,
        [head[0].id, ts(now)],
      )) as Array<{
        id: string;
        receiver: string;
        group_key: string;
        seq: number;
        body: OutboxBody;
        attempts: number;
        expires_at: Date;
      }>;
      if (rows.length === 0) return undefined;
      const r = rows[0];
      await m.query(`UPDATE notification_outbox SET next_attempt_at = $2, attempts = attempts + 1 WHERE id = $1`, [
        r.id,
        ts(leaseUntil),
      ]);
      return {
        id: Number(r.id),
        receiver: r.receiver,
        groupKey: r.group_key,
        seq: r.seq,
        body: r.body,
        attempts: r.attempts + 1,
        expiresAt: r.expires_at.getTime(),
      };
    });
  }

  async markDelivered(id: number, now: number): Promise<void> {
    await this.ds.query(`UPDATE notification_outbox SET delivered_at = $2, last_error = NULL WHERE id = $1`, [
      id,
      ts(now),
    ]);
  }

  async markRetry(id: number, nextAttemptAt: number, error: string): Promise<void> {
    await this.ds.query(`UPDATE notification_outbox SET next_attempt_at = $2, last_error = $3 WHERE id = $1`, [
      id,
      ts(nextAttemptAt),
      error,
    ]);
  }

  async markFailed(id: number, now: number, error: string): Promise<void> {
    await this.ds.query(`UPDATE notification_outbox SET failed_at = $2, last_error = $3 WHERE id = $1`, [
      id,
      ts(now),
      error,
    ]);
  }

  /** Undelivered entries (for the outbox gauge). */
  async pendingCount(): Promise<number> {
    const [r] = (await this.ds.query(
      `SELECT count(*)::int AS n FROM notification_outbox WHERE delivered_at IS NULL AND failed_at IS NULL`,
    )) as Array<{ n: number }>;
    return r.n;
  }
}
