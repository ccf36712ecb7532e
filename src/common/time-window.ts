/**
 * Times as people type them (RFC 3339, `now`, `-7d`) and the from/to window they make: shared by
 * the API's query parameters and the CLI's --from/--to, so both accept the same forms.
 */

/** A time that is none of the accepted forms; `param` names the option or parameter. */
export class TimeInputError extends Error {
  constructor(
    readonly param: string,
    readonly problem: string,
  ) {
    super(`${param}: ${problem}`);
    this.name = 'TimeInputError';
  }
}

const RELATIVE = /^-(\d{1,6})(s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
// RFC 3339: date, 'T' or space, time, optional fraction, mandatory zone.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
export const TIME_FORM = 'an RFC 3339 time (2025-01-31T12:00:00Z), `now`, or a relative time such as -30m, -1h, -7d';

/** RFC 3339, `now`, or `-<n><s|m|h|d|w>` relative to `now`. Returns ms since the epoch. */
export function parseTime(param: string, value: string, now: number): number {
  const v = value.trim();
  if (v === 'now') return now;
  const rel = RELATIVE.exec(v);
  if (rel) return now - Number(rel[1]) * UNIT_MS[rel[2]];
  if (RFC3339.test(v)) {
    const t = Date.parse(v.replace(' ', 'T'));
    if (Number.isFinite(t)) return t;
  }
  throw new TimeInputError(param, `${JSON.stringify(value)} is not ${TIME_FORM}`);
}

export interface TimeRange {
  /** ms since the epoch */
  from: number;
  to: number;
}

/** `from`/`to` with defaults `to = now`, `from = to - defaultWindowMs`; from must not be after to. */
export function parseTimeRange(given: { from?: string; to?: string }, now: number, defaultWindowMs: number): TimeRange {
  const to = given.to !== undefined ? parseTime('to', given.to, now) : now;
  const from = given.from !== undefined ? parseTime('from', given.from, now) : to - defaultWindowMs;
  if (from > to)
    throw new TimeInputError(
      'from',
      `${new Date(from).toISOString()} is after to=${new Date(to).toISOString()}; from must not be later than to`,
    );
  return { from, to };
}
