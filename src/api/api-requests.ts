/** Per-endpoint query parsing: accepted parameters, defaults and limits (plain TypeScript). */
import { SUMMARY_BY, STEPS, type Step, type SummaryBy } from './api-queries.js';
import { ALL_VERDICTS, DROP_VERDICTS, FILTER_PARAMS, parseFilters, type DropFilters } from './drop-filters.js';
import {
  ApiInputError,
  checkParams,
  parseEnum,
  parseLimit,
  parseRange,
  type RawQuery,
  type TimeRange,
} from './query-params.js';

export const LIMITS = {
  drops: { def: 100, max: 1000 },
  summary: { def: 20, max: 1000 },
  edges: { def: 1000, max: 5000 },
  recentDrops: { def: 20, max: 200 },
} as const;

export interface ListRequest {
  filters: DropFilters;
  limit: number;
  cursor?: string;
}

export function parseDropList(q: RawQuery, now: number): ListRequest {
  const p = checkParams(q, [...FILTER_PARAMS, 'limit', 'cursor']);
  return {
    filters: parseFilters(p, now, DROP_VERDICTS),
    limit: parseLimit('limit', p.limit, LIMITS.drops.def, LIMITS.drops.max),
    cursor: p.cursor,
  };
}

export function parseSummary(q: RawQuery, now: number): { filters: DropFilters; by: SummaryBy; limit: number } {
  const p = checkParams(q, [...FILTER_PARAMS, 'by', 'limit']);
  const filters = parseFilters(p, now, DROP_VERDICTS);
  const by = parseEnum('by', p.by, SUMMARY_BY) ?? 'edge';
  return { filters, by, limit: parseLimit('limit', p.limit, LIMITS.summary.def, LIMITS.summary.max) };
}

export function parseTimeseries(q: RawQuery, now: number): { filters: DropFilters; step: Step } {
  const p = checkParams(q, [...FILTER_PARAMS, 'step']);
  const filters = parseFilters(p, now, DROP_VERDICTS);
  const step = parseEnum('step', p.step, Object.keys(STEPS) as Step[]) ?? defaultStep(filters);
  return { filters, step };
}

/** About 60-300 points: 1m up to 6 h, 5m up to 24 h, 1h up to 14 d, then 1d. */
function defaultStep(r: TimeRange): Step {
  const span = r.to - r.from;
  if (span <= 6 * 3_600_000) return '1m';
  if (span <= 24 * 3_600_000) return '5m';
  if (span <= 14 * 86_400_000) return '1h';
  return '1d';
}

export function parseEdges(q: RawQuery, now: number): ListRequest {
  const p = checkParams(q, [...FILTER_PARAMS, 'limit', 'cursor']);
  return {
    filters: parseFilters(p, now, ALL_VERDICTS),
    limit: parseLimit('limit', p.limit, LIMITS.edges.def, LIMITS.edges.max),
    cursor: p.cursor,
  };
}

/** The window of drop counts shown with policies (default: last 24 h). */
export function parsePolicyWindow(
  q: RawQuery,
  now: number,
  extra: readonly string[] = [],
): { range: TimeRange; p: Record<string, string> } {
  const p = checkParams(q, ['from', 'to', ...extra]);
  return { range: parseRange(p, now), p };
}

export function parsePolicyDetail(q: RawQuery, now: number): { range: TimeRange; recent: number } {
  const { range, p } = parsePolicyWindow(q, now, ['recent']);
  return { range, recent: parseLimit('recent', p.recent, LIMITS.recentDrops.def, LIMITS.recentDrops.max) };
}

/** Path segments of /policies/{namespace}/{name}. */
export function checkPathName(param: string, v: string): string {
  if (!/^[A-Za-z0-9]([-A-Za-z0-9._:]{0,251}[A-Za-z0-9])?$/.test(v))
    throw new ApiInputError(param, `${JSON.stringify(v)} is not a Kubernetes object name`);
  return v;
}
