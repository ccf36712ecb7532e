import type { PrefoldedSegment } from '../aggregator/prefolded-segment.js';
import type { DeadLetter } from '../bus/flow-bus.js';
import { truncateRaw } from '../bus/flow-bus.js';
import type { LineMapper } from '../collector/collector.js';
import type { FlowRecord } from '../flow/flow-record.js';
import { lineText, OVERSIZED_LINE, MAX_LINE_BYTES, type RawLine } from './line-reader.js';
import { emptyLineTally, type LineTally } from './line-tally.js';

/**
 * A run of consecutive lines of one file: the unit of mapping, publishing and checkpointing. The
 * lines come as text, or as bytes (`bytes[bounds[2i], bounds[2i + 1])`; a start of -1 marks an
 * oversized line), which cross to a worker thread without a copy.
 */
export interface Segment {
  texts?: string[];
  bytes?: Uint8Array;
  bounds?: Float64Array;
  /** Byte offset just past each line's newline. */
  ends: number[];
}

/** Collects lines into a segment of text (mapped on this thread). */
export class TextSegmentBuilder {
  private texts: string[] = [];
  private ends: number[] = [];

  get lines(): number {
    return this.ends.length;
  }

  add(line: RawLine): void {
    this.texts.push(lineText(line));
    this.ends.push(line.endOffset);
  }

  take(): Segment {
    const s = { texts: this.texts, ends: this.ends };
    this.texts = [];
    this.ends = [];
    return s;
  }
}

/**
 * Collects lines into a segment of bytes, copied out of the read chunks into one buffer that is
 * then transferred to a worker thread: no string per line on this thread, nothing to clone. The
 * lines of one read chunk lie one after the other, so they are copied as one run (their
 * newlines included; `bounds` leave them out) rather than line by line.
 */
export class ByteSegmentBuilder {
  private bytes = new Uint8Array(1 << 20);
  private used = 0;
  private bounds: number[] = [];
  private ends: number[] = [];
  /** The run of lines not copied yet: `runBuf[runStart, runEnd)`, to go at `used`. */
  private runBuf?: Buffer;
  private runStart = 0;
  private runEnd = 0;

  get lines(): number {
    return this.ends.length;
  }

  add(line: RawLine): void {
    this.ends.push(line.endOffset);
    if (line.oversized) {
      this.bounds.push(-1, -1);
      return;
    }
    // Lines follow each other in a chunk, parted by a newline (and a CR): continue the run.
    if (line.buf !== this.runBuf || line.start < this.runEnd || line.start - this.runEnd > 2) this.copyRun(line);
    const at = this.used + (line.start - this.runStart);
    this.bounds.push(at, at + (line.end - line.start));
    this.runEnd = line.end;
  }

  /** Copies the pending run and starts a new one at `line`. */
  private copyRun(line?: RawLine): void {
    const n = this.runEnd - this.runStart;
    if (this.runBuf && n > 0) {
      if (this.used + n > this.bytes.length) {
        const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.used + n));
        grown.set(this.bytes.subarray(0, this.used));
        this.bytes = grown;
      }
      this.bytes.set(this.runBuf.subarray(this.runStart, this.runEnd), this.used);
      this.used += n;
    }
    this.runBuf = line?.buf;
    this.runStart = this.runEnd = line?.start ?? 0;
  }

  take(): Segment {
    this.copyRun();
    const s = { bytes: this.bytes.subarray(0, this.used), bounds: Float64Array.from(this.bounds), ends: this.ends };
    // The next segment is about as big: start there, so it rarely grows.
    this.bytes = new Uint8Array(Math.max(1 << 20, Math.ceil(this.used * 1.25)));
    this.used = 0;
    this.bounds = [];
    this.ends = [];
    return s;
  }
}

/** Line `i` of a segment, as readLines would have given it. */
function segmentLine(segment: Segment, buf: Buffer | undefined, i: number): string {
  if (segment.texts) return segment.texts[i];
  const b = segment.bounds!;
  return b[2 * i] < 0 ? OVERSIZED_LINE : buf!.toString('utf8', b[2 * i], b[2 * i + 1]);
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
  const { ends } = segment;
  const buf = segment.bytes
    ? Buffer.from(segment.bytes.buffer, segment.bytes.byteOffset, segment.bytes.byteLength)
    : undefined;
  for (let i = 0; i < ends.length; i++) {
    const text = segmentLine(segment, buf, i);
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
