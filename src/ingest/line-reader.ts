import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';

export interface Line {
  text: string;
  /** 1-based line number within this read (from the start offset). */
  number: number;
  /** Byte offset just past this line's newline: where a resumed read starts. */
  endOffset: number;
}

/** Longest line accepted; a longer one is reported as malformed and skipped, memory stays bounded. */
export const MAX_LINE_BYTES = 1024 * 1024;

/** The marker text readLines yields for a line longer than MAX_LINE_BYTES. */
export const OVERSIZED_LINE = '\u0000oversized';

/** A line as bytes: `buf[start, end)` (without its newline or CR), or an oversized line's marker. */
export interface RawLine {
  buf: Buffer;
  start: number;
  end: number;
  /** Longer than MAX_LINE_BYTES: its bytes were dropped (buf, start, end mean nothing). */
  oversized: boolean;
  number: number;
  endOffset: number;
}

/**
 * Streams newline-delimited text from a file (from a byte offset) or a stream, yielding lines in
 * arrays (one per read chunk) with their end offsets. Works on Buffers so offsets are exact bytes
 * and a multi-byte character split across chunks is never corrupted. Memory is bounded by the
 * chunk size plus MAX_LINE_BYTES.
 */
export async function* readLines(
  input: string | Readable,
  startOffset = 0,
  chunkSize = 1 << 20,
): AsyncGenerator<Line[]> {
  for await (const raw of readRawLines(input, startOffset, chunkSize))
    yield raw.map((l) => ({ text: lineText(l), number: l.number, endOffset: l.endOffset }));
}

/** A raw line's text, as readLines yields it. */
export function lineText(l: RawLine): string {
  return l.oversized ? OVERSIZED_LINE : l.buf.toString('utf8', l.start, l.end);
}

/**
 * readLines without decoding: each line's bytes in the chunk read (for `import`, whose worker
 * threads decode them, so the lines cross threads as bytes rather than strings).
 */
export async function* readRawLines(
  input: string | Readable,
  startOffset = 0,
  chunkSize = 1 << 20,
): AsyncGenerator<RawLine[]> {
  const stream =
    typeof input === 'string' ? createReadStream(input, { start: startOffset, highWaterMark: chunkSize }) : input;
  let carry: Buffer | undefined;
  let offset = startOffset; // offset of the first byte of `carry` (or the next chunk)
  let number = 0;
  let oversized = false;
  const none = Buffer.alloc(0);
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (carry) {
      buf = Buffer.concat([carry, buf]);
      carry = undefined;
    }
    const out: RawLine[] = [];
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(10, start);
      if (nl === -1) break;
      number++;
      const end = nl > start && buf[nl - 1] === 13 ? nl - 1 : nl; // tolerate CRLF
      // A line that arrived whole in this buffer can be over the limit too, not only a tail.
      if (oversized || end - start > MAX_LINE_BYTES) {
        out.push({ buf: none, start: 0, end: 0, oversized: true, number, endOffset: offset + nl + 1 });
        oversized = false;
      } else out.push({ buf, start, end, oversized: false, number, endOffset: offset + nl + 1 });
      start = nl + 1;
    }
    if (start < buf.length) {
      if (buf.length - start > MAX_LINE_BYTES) {
        oversized = true; // drop the bytes, remember the line was too long
        offset += buf.length;
      } else {
        carry = buf.subarray(start);
        offset += start;
      }
    } else offset += buf.length;
    if (out.length > 0) yield out;
  }
  if (carry && carry.length > 0) {
    number++;
    yield [{ buf: carry, start: 0, end: carry.length, oversized: false, number, endOffset: offset + carry.length }];
  } else if (oversized) {
    number++;
    yield [{ buf: none, start: 0, end: 0, oversized: true, number, endOffset: offset }];
  }
}
