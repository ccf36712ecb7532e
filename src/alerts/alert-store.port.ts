/** What the evaluator and the outbox dispatcher need from storage (implemented in src/storage/). */
import type { AlertRecord, AlertTransition } from './alert-lifecycle.js';
import type { AlertRule } from './alert-rules.js';
import type { GroupState } from './notification-groups.js';
import type { AlertEdge, WindowRow } from './rule-conditions.js';
import type { Silence } from './silences.js';

export interface OutboxBody {
  kind: 'slack' | 'alertmanager';
  payload: unknown;
}

export interface OutboxEntry {
  receiver: string;
  groupKey: string;
  seq: number;
  body: OutboxBody;
  createdAt: number;
  expiresAt: number;
  /** Alert ids the notification covers (their history records it). */
  alertIds: number[];
}

export interface StoredOutboxEntry {
  id: number;
  receiver: string;
  groupKey: string;
  seq: number;
  body: OutboxBody;
  attempts: number;
  expiresAt: number;
}

/** Everything one evaluation reads and writes, inside one transaction holding the evaluator lock. */
export interface EvaluationTx {
  activeAlerts(): Promise<AlertRecord[]>;
  windowRows(from: number, to: number): Promise<WindowRow[]>;
  /** Identities (edgeIdentity) of these edges that have denied roll-ups in [from, to). */
  baselineEdges(edges: readonly AlertEdge[], from: number, to: number): Promise<Set<string>>;
  groups(): Promise<GroupState[]>;
  alertsByIds(ids: readonly number[]): Promise<AlertRecord[]>;
  silences(now: number): Promise<Silence[]>;
  /** Inserts new alerts (setting their ids) and updates the others; records the transitions. */
  saveAlerts(
    alerts: AlertRecord[],
    transitions: ReadonlyArray<{ alert: AlertRecord; to: AlertTransition; at: number }>,
  ): Promise<void>;
  deleteAlerts(ids: readonly number[]): Promise<void>;
  saveGroups(groups: readonly GroupState[], deleted: readonly string[]): Promise<void>;
  enqueue(entries: readonly OutboxEntry[]): Promise<void>;
}

export interface AlertStore {
  /** Runs `fn` in a transaction if this process gets the evaluator lock; undefined if another has it. */
  withEvaluationLock<T>(fn: (tx: EvaluationTx) => Promise<T>): Promise<T | undefined>;
  apiRules(): Promise<AlertRule[]>;
}

export interface OutboxStore {
  /** Receivers with undelivered, unexpired-or-not entries. */
  pendingReceivers(): Promise<string[]>;
  /** Locks the receiver's oldest pending entry if it is due, leasing it until `leaseUntil`. */
  claimHead(receiver: string, now: number, leaseUntil: number): Promise<StoredOutboxEntry | undefined>;
  markDelivered(id: number, now: number): Promise<void>;
  markRetry(id: number, nextAttemptAt: number, error: string): Promise<void>;
  markFailed(id: number, now: number, error: string): Promise<void>;
}
