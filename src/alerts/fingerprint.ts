import { createHash } from 'node:crypto';
import type { Labels } from './matchers.js';

/**
 * An alert's identity: a hash of its sorted label set (Alertmanager's model). The same edge under
 * the same rule always gets the same fingerprint, so re-evaluation never makes a second alert.
 */
export function fingerprint(labels: Labels): string {
  const h = createHash('sha256');
  for (const k of Object.keys(labels).sort()) h.update(`${k}\u0000${labels[k]}\u0000`);
  return h.digest('hex').slice(0, 16);
}
