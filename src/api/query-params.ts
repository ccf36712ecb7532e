/**
 * Query-string parsing for the REST API, plain TypeScript (no Nest imports). Every problem becomes
 * an ApiInputError naming the parameter and the expected form; the exception filter turns it into
 * `400 {statusCode, error, code: 'INVALID_PARAMETER', message: '<param>: <what is wrong>'}`.
 */
import type { DropPosition } from '../storage/readers.js';
import {
  parseTime as parseTimeValue,
  parseTimeRange,
  TIME_FORM,
  TimeInputError,
  type TimeRange,
} from '../common/time-window.js';
import { ApiInputError } from './api-errors.js';

export { ApiInputError };

/** What Express hands us: strings, arrays of strings (repeated parameters), or nested objects. */
export type RawQuery = Record<string, unknown>;

/** Rejects parameters the endpoint does not know and parameters given more than once. */
export function checkParams(query: RawQuery, accepted: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(query)) {
    if (!accepted.includes(k))
      throw new ApiInputError(
        k,
        accepted.length === 0
          ? 'unknown query parameter; this endpoint takes no query parameters'
          : `unknown query parameter; accepted: ${accepted.join(', ')}`,
      );
    if (typeof v !== 'string')
      throw new ApiInputError(
        k,
        'must be given once as a plain value (separate several values with commas where supported)',
      );
    out[k] = v;
  }
  return out;
}

export { TIME_FORM, type TimeRange };

/** Reports a bad time as the API's 400 naming the parameter. */
function asApiInput<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    throw e instanceof TimeInputError ? new ApiInputError(e.param, e.problem) : e;
  }
}

/** RFC 3339, `now`, or `-<n><s|m|h|d|w>` relative to `now`. Returns ms since the epoch. */
export function parseTime(param: string, value: string, now: number): number {
  return asApiInput(() => parseTimeValue(param, value, now));
}

export const DEFAULT_WINDOW_MS = 24 * 3_600_000;

/** `from`/`to` with defaults `to = now`, `from = to - 24h`; from must not be after to. */
export function parseRange(p: Record<string, string>, now: number, defaultWindowMs = DEFAULT_WINDOW_MS): TimeRange {
  return asApiInput(() => parseTimeRange(p, now, defaultWindowMs));
}

/** A positive integer up to max; absent → def. */
export function parseLimit(param: string, value: string | undefined, def: number, max: number): number {
  if (value === undefined) return def;
  if (!/^\d{1,7}$/.test(value.trim()) || Number(value) < 1 || Number(value) > max)
    throw new ApiInputError(param, `${JSON.stringify(value)} is not an integer from 1 to ${max}`);
  return Number(value);
}

/** One of a fixed set of values. */
export function parseEnum<T extends string>(
  param: string,
  value: string | undefined,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (!(allowed as readonly string[]).includes(v))
    throw new ApiInputError(param, `${JSON.stringify(value)} is not one of ${allowed.join('|')}`);
  return v as T;
}

/** Comma-separated values from a fixed set (`verdict=denied,audit`). */
export function parseEnumList<T extends string>(
  param: string,
  value: string | undefined,
  allowed: readonly T[],
): T[] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(',').map((s) => s.trim());
  for (const p of parts)
    if (!(allowed as readonly string[]).includes(p))
      throw new ApiInputError(
        param,
        `${JSON.stringify(p)} is not one of ${allowed.join('|')} (several values: comma-separated)`,
      );
  return [...new Set(parts)] as T[];
}

/** A non-empty free-text value of bounded length. */
export function parseText(param: string, value: string | undefined, maxLen = 253): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v.length === 0) throw new ApiInputError(param, 'must not be empty (leave the parameter out instead)');
  if (v.length > maxLen) throw new ApiInputError(param, `must be at most ${maxLen} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(v)) throw new ApiInputError(param, 'must not contain control characters');
  return v;
}

/** `namespace/name` (namespaced policy) or `name` (cluster-wide policy). */
export function parsePolicyRef(param: string, value: string | undefined): string | undefined {
  const v = parseText(param, value);
  if (v === undefined) return undefined;
  if (!/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9._:]*[A-Za-z0-9])?$/.test(v))
    throw new ApiInputError(
      param,
      `${JSON.stringify(value)} is not NAMESPACE/NAME (or NAME for a cluster-wide policy)`,
    );
  return v;
}

// Cursors: opaque to clients; base64url of `<kind>:<payload>`.

export function encodeCursor(kind: string, payload: string): string {
  return Buffer.from(`${kind}:${payload}`, 'utf8').toString('base64url');
}

/** Decodes a cursor of the given kind; the payload must match `shape`. */
export function decodeCursor(value: string | undefined, kind: string, shape: RegExp): RegExpExecArray | undefined {
  if (value === undefined) return undefined;
  const bad = () =>
    new ApiInputError(
      'cursor',
      'is not a cursor this endpoint issued; pass the nextCursor of the previous page unchanged',
    );
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(value)) throw bad();
  const text = Buffer.from(value, 'base64url').toString('utf8');
  if (!text.startsWith(`${kind}:`)) throw bad();
  const m = shape.exec(text.slice(kind.length + 1));
  if (!m) throw bad();
  return m;
}

const EVENT_CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)\|(\d{1,19})$/;
const OFFSET_CURSOR = /^(\d{1,9})$/;

/** The event list's keyset cursor: `e:<time>|<id>`. */
export function encodeDropCursor(p: DropPosition): string {
  return encodeCursor('e', `${p.time}|${p.id}`);
}

export function decodeDropCursor(value: string | undefined): DropPosition | undefined {
  const m = decodeCursor(value, 'e', EVENT_CURSOR);
  return m ? { time: m[1], id: m[2] } : undefined;
}

/** An offset over a stable ordering (edges, policies): `o:<offset>`. */
export function encodeOffsetCursor(offset: number): string {
  return encodeCursor('o', String(offset));
}

export function decodeOffsetCursor(value: string | undefined): number {
  const m = decodeCursor(value, 'o', OFFSET_CURSOR);
  return m ? Number(m[1]) : 0;
}
