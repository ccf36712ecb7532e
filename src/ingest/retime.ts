import type { LineMapper } from '../collector/collector.js';
import type { FlowRecord } from '../flow/flow-record.js';
import { OVERSIZED_LINE, readLines } from './line-reader.js';

/**
 * The newest flow time (ms since epoch) in a file, mapped with `mapper`; undefined when the file
 * holds no flow. Lines the mapper refuses are left to the import to report.
 */
export async function newestFlowTime(path: string, mapper: LineMapper): Promise<number | undefined> {
  let newest: number | undefined;
  const see = (records: FlowRecord[]) => {
    for (const r of records) {
      const t = Date.parse(r.endTime ?? r.time);
      if (!Number.isNaN(t) && (newest === undefined || t > newest)) newest = t;
    }
  };
  for await (const lines of readLines(path)) {
    for (const line of lines) {
      if (line.text.length === 0 || line.text === OVERSIZED_LINE) continue;
      try {
        const r = mapper.map(line.text);
        if (r.kind === 'flows') see(r.records);
      } catch {
        // counted as a dead letter by the import pass
      }
    }
  }
  see(mapper.flush());
  return newest;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * `iso` moved by `offsetMs` whole milliseconds, in UTC, keeping any digits finer than a
 * millisecond (Hubble's times carry microseconds or nanoseconds).
 */
export function shiftTime(iso: string, offsetMs: number): string {
  const m = RFC3339.exec(iso);
  const t = Date.parse(iso);
  if (!m || Number.isNaN(t)) return iso; // left for the validator to refuse
  const fraction = (m[2] ?? '.').slice(1).padEnd(3, '0');
  const shifted = new Date(t + offsetMs).toISOString().slice(0, 23); // ...HH:MM:SS.mmm
  const finer = fraction.slice(3);
  return `${shifted}${finer}Z`;
}

/** A mapper whose flows are moved in time by `offsetMs` (time and endTime alike). */
export function retimedMapper(inner: LineMapper, offsetMs: number): LineMapper {
  const shift = (r: FlowRecord): FlowRecord => ({
    ...r,
    time: shiftTime(r.time, offsetMs),
    ...(r.endTime !== undefined ? { endTime: shiftTime(r.endTime, offsetMs) } : {}),
  });
  return {
    map(line) {
      const r = inner.map(line);
      return r.kind === 'flows' ? { kind: 'flows', records: r.records.map(shift) } : r;
    },
    flush: () => inner.flush().map(shift),
  };
}
