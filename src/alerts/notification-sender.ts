/**
 * Sends one outbox entry over HTTP: Slack incoming webhooks (`ok` on success, 429 with
 * Retry-After when rate-limited) and Alertmanager's `POST /api/v2/alerts`. Outcomes, never the
 * URL, go into errors: a webhook URL is a secret.
 */
import { readFileSync } from 'node:fs';
import type { OutboxBody } from './alert-store.port.js';
import type { Receiver, SecretRef } from './alerting-config.js';

export type DeliveryResult =
  | { outcome: 'delivered' }
  | { outcome: 'retry'; error: string; retryAfterMs?: number }
  /** The receiver refused the payload itself (400/413): resending it cannot succeed. */
  | { outcome: 'failed'; error: string };

export function resolveSecret(ref: SecretRef, env: Record<string, string | undefined>): string | undefined {
  if ('value' in ref) return ref.value;
  if ('env' in ref) return env[ref.env]?.trim() || undefined;
  try {
    return readFileSync(ref.file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Retry-After in seconds or as an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export async function deliver(
  receiver: Receiver,
  body: OutboxBody,
  opts: { timeoutMs: number; now: number; env: Record<string, string | undefined> },
): Promise<DeliveryResult> {
  let url: string | undefined;
  if (receiver.kind === 'slack') url = resolveSecret(receiver.url, opts.env);
  else if (receiver.kind === 'alertmanager') url = `${receiver.url.replace(/\/$/, '')}/api/v2/alerts`;
  if (url === undefined)
    return { outcome: 'retry', error: `receiver ${receiver.name}: no URL (its secret is not set)` };
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body.payload),
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (e) {
    const name = (e as Error).name;
    return {
      outcome: 'retry',
      error: name === 'TimeoutError' ? `no answer within ${opts.timeoutMs} ms` : `connection failed (${name})`,
    };
  }
  const text = (await res.text().catch(() => '')).slice(0, 200);
  if (res.ok) return { outcome: 'delivered' };
  if (res.status === 429)
    return {
      outcome: 'retry',
      error: 'rate limited (429)',
      retryAfterMs: retryAfterMs(res.headers.get('retry-after'), opts.now),
    };
  if (res.status === 400 || res.status === 413) return { outcome: 'failed', error: `rejected (${res.status} ${text})` };
  return { outcome: 'retry', error: `HTTP ${res.status} ${text}` };
}
