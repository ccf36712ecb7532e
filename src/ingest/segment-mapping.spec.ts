import { describe, expect, it } from '@jest/globals';
import { Readable } from 'node:stream';
import { MAX_LINE_BYTES, readRawLines } from './line-reader.js';
import { ByteSegmentBuilder, mapSegment, type Segment } from './segment-mapping.js';
import type { LineMapper } from '../collector/collector.js';

/** The lines of a byte segment as the worker thread decodes them (bounds into bytes; -1: oversized). */
function segmentLines(s: Segment): string[] {
  const out: string[] = [];
  const buf = Buffer.from(s.bytes!.buffer, s.bytes!.byteOffset, s.bytes!.byteLength);
  for (let i = 0; i < s.ends.length; i++)
    out.push(s.bounds![2 * i] < 0 ? '<oversized>' : buf.toString('utf8', s.bounds![2 * i], s.bounds![2 * i + 1]));
  return out;
}

async function build(chunks: Buffer[], takeAfter: number[]): Promise<Segment[]> {
  const b = new ByteSegmentBuilder();
  const segments: Segment[] = [];
  let n = 0;
  for await (const lines of readRawLines(Readable.from(chunks)))
    for (const l of lines) {
      b.add(l);
      if (takeAfter.includes(++n)) segments.push(b.take());
    }
  if (b.lines > 0) segments.push(b.take());
  return segments;
}

describe('ByteSegmentBuilder', () => {
  it('keeps every line and its end offset across chunks, CRLF, blank and oversized lines', async () => {
    const long = 'x'.repeat(MAX_LINE_BYTES + 1);
    const chunks = [Buffer.from('one\r\ntwo\n\nthr'), Buffer.from(`ee\nfür\n${long}\nlast\nfi`), Buffer.from('nal')];
    const segments = await build(chunks, [2, 5]);
    expect(segments.map(segmentLines)).toEqual([
      ['one', 'two'],
      ['', 'three', 'für'],
      ['<oversized>', 'last', 'final'],
    ]);
    // Offsets just past each newline: "one\r\n" 5, "two\n" 9, "\n" 10, "three\n" 16, "für\n" (4 bytes + 1) 21, ...
    const afterLong = 21 + MAX_LINE_BYTES + 2;
    expect(segments.map((s) => s.ends)).toEqual([
      [5, 9],
      [10, 16, 21],
      [afterLong, afterLong + 5, afterLong + 10],
    ]);
  });

  it('hands the mapper the same lines as a text segment would', async () => {
    const [segment] = await build([Buffer.from('a\nbb\n'), Buffer.from('ccc\n')], []);
    const seen: string[] = [];
    const mapper: LineMapper = {
      map: (line) => {
        seen.push(line);
        return { kind: 'skipped', what: 'test' };
      },
      flush: () => [],
    };
    const r = mapSegment(segment, mapper, 'test');
    expect(seen).toEqual(['a', 'bb', 'ccc']);
    expect(r.tally.lines).toBe(3);
    expect(r.endOffset).toBe(9);
  });
});
