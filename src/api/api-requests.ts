/**
 * Per-endpoint query parsing (plain TypeScript): the accepted parameters come from
 * query-schemas.ts (the same declarations the OpenAPI document is generated from); defaults,
 * limits and cursor decoding are here.
 */
import { SUMMARY_BY, STEPS, type DropPosition, type Step, type SummaryBy } from '../storage/readers.js';
import { ALL_VERDICTS, DROP_VERDICTS, parseFilters, type DropFilters } from './drop-filters.js';
import {
  ApiInputError,
  checkParams,
  decodeDropCursor,
  decodeOffsetCursor,
  parseEnum,
  parseLimit,
  parseRange,
  type RawQuery,
  type TimeRange,
} from './query-params.js';
import { LIMITS, QUERY_SCHEMAS, paramNames, type QuerySchema } from './query-schemas.js';

export { LIMITS };

/** At most this many time-series points per request. */
export const MAX_BUCKETS = 10_000;

function accepted(q: RawQuery, schema: QuerySchema): Record<string, string> {
  return checkParams(q, paramNames(schema));
}

/** The roll-up endpoints cannot filter by pod; say where that filter works. */
function noPod(f: DropFilters): DropFilters {
  if (f.pod !== undefined)
    throw new ApiInputError(
      'pod',
      'is not available here: summaries and edges are rolled up per workload; filter by workload, or list events with GET /api/v1/drops?pod=...',
    );
  return f;
}

export interface DropListRequest {
  filters: DropFilters;
  limit: number;
  after?: DropPosition;
}

export function parseDropList(q: RawQuery, now: number): DropListRequest {
  const p = accepted(q, QUERY_SCHEMAS.drops);
  return {
    filters: parseFilters(p, now, DROP_VERDICTS),
    limit: parseLimit('limit', p.limit, LIMITS.drops.def, LIMITS.drops.max),
    after: decodeDropCursor(p.cursor),
  };
}

export function parseSummary(q: RawQuery, now: number): { filters: DropFilters; by: SummaryBy; limit: number } {
  const p = accepted(q, QUERY_SCHEMAS.summary);
  const filters = noPod(parseFilters(p, now, DROP_VERDICTS));
  const by = parseEnum('by', p.by, SUMMARY_BY) ?? 'edge';
  return { filters, by, limit: parseLimit('limit', p.limit, LIMITS.summary.def, LIMITS.summary.max) };
}

export function parseTimeseries(q: RawQuery, now: number): { filters: DropFilters; step: Step } {
  const p = accepted(q, QUERY_SCHEMAS.timeseries);
  const filters = parseFilters(p, now, DROP_VERDICTS);
  const step = parseEnum('step', p.step, Object.keys(STEPS) as Step[]) ?? defaultStep(filters);
  const stepMs = STEPS[step];
  const buckets = Math.ceil((filters.to - Math.floor(filters.from / stepMs) * stepMs) / stepMs);
  if (buckets > MAX_BUCKETS)
    throw new ApiInputError(
      'step',
      `${step} over this range makes ${buckets} points (at most ${MAX_BUCKETS}); use a larger step or a shorter range`,
    );
  return { filters: noPod(filters), step };
}

/**
 * 1m up to 1 h, 5m up to 6 h, 1h up to 14 d, then 1d: at most a few hundred points, and over a
 * day or more a step the hour and day roll-ups answer (a 5m step over 24 h would read every
 * 5-minute row of the day, 12 times the hour rows).
 */
function defaultStep(r: TimeRange): Step {
  const span = r.to - r.from;
  if (span <= 3_600_000) return '1m';
  if (span <= 6 * 3_600_000) return '5m';
  if (span <= 14 * 86_400_000) return '1h';
  return '1d';
}

export interface OffsetListRequest {
  limit: number;
  offset: number;
}

export function parseEdges(q: RawQuery, now: number): OffsetListRequest & { filters: DropFilters } {
  const p = accepted(q, QUERY_SCHEMAS.edges);
  return {
    filters: noPod(parseFilters(p, now, ALL_VERDICTS)),
    limit: parseLimit('limit', p.limit, LIMITS.edges.def, LIMITS.edges.max),
    offset: decodeOffsetCursor(p.cursor),
  };
}

/** The policy list: a window of drop counts (default: last 24 h) and an offset page. */
export function parsePolicyList(q: RawQuery, now: number): OffsetListRequest & { range: TimeRange } {
  const p = accepted(q, QUERY_SCHEMAS.policies);
  return {
    range: parseRange(p, now),
    limit: parseLimit('limit', p.limit, LIMITS.policies.def, LIMITS.policies.max),
    offset: decodeOffsetCursor(p.cursor),
  };
}

export function parsePolicyDetail(q: RawQuery, now: number): { range: TimeRange; recent: number } {
  const p = accepted(q, QUERY_SCHEMAS.policyDetail);
  return {
    range: parseRange(p, now),
    recent: parseLimit('recent', p.recent, LIMITS.recentDrops.def, LIMITS.recentDrops.max),
  };
}

/** Path segments of /policies/{namespace}/{name}. */
export function checkPathName(param: string, v: string): string {
  if (!/^[A-Za-z0-9]([-A-Za-z0-9._:]{0,251}[A-Za-z0-9])?$/.test(v))
    throw new ApiInputError(param, `${JSON.stringify(v)} is not a Kubernetes object name`);
  return v;
}
