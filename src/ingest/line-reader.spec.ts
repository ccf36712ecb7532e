import { describe, expect, it } from '@jest/globals';
import { Readable } from 'node:stream';
import { MAX_LINE_BYTES, readRawLines, lineText } from './line-reader.js';

async function read(chunks: Buffer[]): Promise<Array<{ text: string; oversized: boolean; endOffset: number }>> {
  const out: Array<{ text: string; oversized: boolean; endOffset: number }> = [];
  for await (const lines of readRawLines(Readable.from(chunks)))
    for (const l of lines)
      out.push({ text: l.oversized ? '' : lineText(l), oversized: l.oversized, endOffset: l.endOffset });
  return out;
}

describe('readRawLines: the line length limit', () => {
  it('accepts a line of exactly MAX_LINE_BYTES', async () => {
    const lines = await read([Buffer.from(`${'a'.repeat(MAX_LINE_BYTES)}\nok\n`)]);
    expect(lines.map((l) => l.oversized)).toEqual([false, false]);
    expect(lines[0].text.length).toBe(MAX_LINE_BYTES);
    expect(lines[1]).toEqual({ text: 'ok', oversized: false, endOffset: MAX_LINE_BYTES + 1 + 3 });
  });

  it('flags a longer line whose newline arrives in the same chunk', async () => {
    const lines = await read([Buffer.from(`${'a'.repeat(MAX_LINE_BYTES + 1)}\nok\n`)]);
    expect(lines.map((l) => l.oversized)).toEqual([true, false]);
    expect(lines[0].endOffset).toBe(MAX_LINE_BYTES + 2);
    expect(lines[1].text).toBe('ok');
  });

  it('flags a 1.5 MiB line whose first chunk held exactly MAX_LINE_BYTES of it', async () => {
    const half = MAX_LINE_BYTES / 2;
    const lines = await read([Buffer.alloc(MAX_LINE_BYTES, 'a'), Buffer.from(`${'a'.repeat(half)}\nok\n`)]);
    expect(lines.map((l) => l.oversized)).toEqual([true, false]);
    expect(lines[0].endOffset).toBe(MAX_LINE_BYTES + half + 1);
    expect(lines[1]).toEqual({ text: 'ok', oversized: false, endOffset: MAX_LINE_BYTES + half + 4 });
  });

  it('does not count the CR of a CRLF line against the limit', async () => {
    const lines = await read([Buffer.from(`${'a'.repeat(MAX_LINE_BYTES)}\r\n`)]);
    expect(lines).toEqual([{ text: 'a'.repeat(MAX_LINE_BYTES), oversized: false, endOffset: MAX_LINE_BYTES + 2 }]);
  });
});
