import type { PrefoldedSegment } from '../aggregator/prefolded-segment.js';
import type { DeadLetter } from '../bus/flow-bus.js';
import { truncateRaw } from '../bus/flow-bus.js';
import type { LineMapper } from '../collector/collector.js';
import type { FlowRecord } from '../flow/flow-record.js';
import { OVERSIZED_LINE, MAX_LINE_BYTES } from './line-reader.js';
import { emptyLineTally, type LineTally } from './line-tally.js';

/** A run of consecutive lines of one file: the unit of mapping, publishing and checkpointing. */
export interface Segment {
  texts: string[];
  /** Byte offset just past each line's newline. */
  ends: number[];
}

/** What a segment's lines became; `tally.lines` counts every line of the segment. */
export interface SegmentResult {
  /** The records, or none when they come folded (`prefolded`, from a worker thread). */
  records: FlowRecord[];
  prefolded?: PrefoldedSegment;
  dead: DeadLetter[];
  tally: LineTally;
  firstError?: string;
  /** Offset just past the segment's last line: the checkpoint once it is stored. */
  endOffset: number;
}

/**
 * Maps one segment with a fresh mapper (so a resumed import, which starts at a segment boundary,
 * maps exactly what an uninterrupted one would), flushing it at the end. Plain data in and out:
 * it runs on the main thread or in a worker thread (segment-worker.ts).
 */
export function mapSegment(
  segment: Segment,
  mapper: LineMapper,
  stream: string,
  /** Takes each record as it comes (then `records` stays empty). */
  emit?: (record: FlowRecord) => void,
): SegmentResult {
  const tally = emptyLineTally();
  const records: FlowRecord[] = [];
  const dead: DeadLetter[] = [];
  let firstError: string | undefined;
  let emitted = 0;
  const out = (f: FlowRecord) => {
    emitted++;
    if (emit) emit(f);
    else records.push(f);
  };
  const { texts, ends } = segment;
  for (let i = 0; i < texts.length; i++) {
    const text = texts[i];
    tally.lines++;
    if (text.trim().length === 0) {
      tally.blank++;
      continue;
    }
    if (text === OVERSIZED_LINE) {
      const reason = `line longer than ${MAX_LINE_BYTES} bytes`;
      dead.push({ raw: '', reason, origin: `${stream}:${ends[i]}` });
      tally.malformed++;
      firstError ??= reason;
      continue;
    }
    try {
      const r = mapper.map(text);
      if (r.kind === 'flows') for (const f of r.records) out(f);
      else tally.skipped[r.what] = (tally.skipped[r.what] ?? 0) + 1;
    } catch (e) {
      dead.push({ raw: truncateRaw(text), reason: (e as Error).message, origin: `${stream}:${ends[i]}` });
      tally.malformed++;
      firstError ??= (e as Error).message;
    }
  }
  for (const f of mapper.flush()) out(f);
  tally.collapsed += mapper.collapsed ?? 0;
  tally.records = emitted;
  return { records, dead, tally, firstError, endOffset: ends[ends.length - 1] };
}
