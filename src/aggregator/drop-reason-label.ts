import { DROP_REASON_DENY, DROP_REASON_PENDING_DENY } from '../collector/calico/calico-common.js';
import { DROP_REASON_NAMES } from '../collector/hubble/hubble-enums.js';

// Apart from aggregator.metrics.ts so that the import's worker threads, which count drops by
// reason (record-fold.ts), do not load the metrics client.

/** The drop reasons the sources define (Cilium's enum, Calico's codes): the only `reason` label values besides none and other. */
const KNOWN_DROP_REASONS: ReadonlySet<string> = new Set([
  ...DROP_REASON_NAMES,
  DROP_REASON_DENY,
  DROP_REASON_PENDING_DENY,
]);

/**
 * The `reason` label of a drop: its code when a source defines it, `none` when absent, else
 * `other`. The reason is input (any string up to 4 KB from Kafka or a file), and every distinct
 * label value is a new series kept for the life of the process.
 */
export function dropReasonLabel(reason: string | undefined): string {
  if (!reason) return 'none';
  return KNOWN_DROP_REASONS.has(reason) ? reason : 'other';
}
