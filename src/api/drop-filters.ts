/** The filters shared by the drop and flow endpoints, parsed from the query string (plain TypeScript). */
import type { DropFilters } from '../storage/readers.js';
import { parseEnumList, parsePolicyRef, parseRange, parseText } from './query-params.js';

export type { DropFilters };

export const DROP_VERDICTS = ['denied', 'dropped', 'audit'] as const;
export const ALL_VERDICTS = ['allowed', 'denied', 'dropped', 'audit', 'other'] as const;
export const DIRECTION_VALUES = ['ingress', 'egress', 'unknown'] as const;
export const ATTRIBUTION_LEVELS = ['reported', 'inferred', 'unknown'] as const;

export type VerdictValue = (typeof ALL_VERDICTS)[number];

/**
 * Parses the filters. `verdicts` is the allowed set (drops: denied|dropped|audit, which is also
 * the default; flows: all five, default all).
 */
export function parseFilters(
  p: Record<string, string>,
  now: number,
  verdicts: readonly string[] = DROP_VERDICTS,
): DropFilters {
  const range = parseRange(p, now);
  const attribution = parseEnumList('attribution', p.attribution, ATTRIBUTION_LEVELS);
  return {
    ...range,
    cluster: parseText('cluster', p.cluster),
    namespace: parseText('namespace', p.namespace),
    srcNamespace: parseText('srcNamespace', p.srcNamespace),
    dstNamespace: parseText('dstNamespace', p.dstNamespace),
    workload: parseText('workload', p.workload),
    srcWorkload: parseText('srcWorkload', p.srcWorkload),
    dstWorkload: parseText('dstWorkload', p.dstWorkload),
    pod: parseText('pod', p.pod),
    policy: parsePolicyRef('policy', p.policy),
    reason: parseText('reason', p.reason, 100),
    direction: parseEnumList('direction', p.direction, DIRECTION_VALUES),
    verdict: parseEnumList('verdict', p.verdict, verdicts) ?? [...verdicts],
    attribution,
  };
}
