/**
 * "Every input line accounted for": for any file, `normalize` and `import` put each line in
 * exactly one bucket (records, collapsed pairs, skipped by reason, malformed = dead letters,
 * blank). Files are generated mixes of valid synthetic lines (Hubble pairs in and out of order,
 * Calico records) with truncated, wrapped, garbage, invalid UTF-8 and blank lines.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { DeadLetter, FlowBus, PublishBatch } from '../../src/bus/flow-bus.js';
import { normalizeStream } from '../../src/cli/normalize.command.js';
import { CalicoFlowLogGenerator } from '../../src/synthetic/calico-flow-log.generator.js';
import { generateHubbleLines } from '../../src/synthetic/hubble-flow.generator.js';
import { importFile } from '../../src/ingest/file-import.js';
import { createLineMapper, type FileSource } from '../../src/ingest/line-mappers.js';
import { MAX_LINE_BYTES } from '../../src/ingest/line-reader.js';
import { unaccountedLines, type LineTally } from '../../src/ingest/line-tally.js';
import { FuzzCounter, fuzzParams, nullWritable } from './fuzz-support.js';

// Valid lines: Hubble with many policy-verdict/drop pairs and lost_events, Calico with denies.
const VALID: Record<FileSource, string[]> = {
  hubble: [...generateHubbleLines({ seed: 11, count: 3000, policyDropShare: 0.3, lostEventsEvery: 40 })],
  calico: new CalicoFlowLogGenerator({ seed: 11, denyShare: 0.3 }).lines(3000),
};

type Piece =
  | { k: 'valid' }
  | { k: 'swap' } // the next two valid lines in reverse order: a drop before its policy verdict
  | { k: 'truncated'; at: number }
  | { k: 'wrapped' } // two valid lines with the newline lost
  | { k: 'garbage'; text: string }
  | { k: 'binary'; bytes: Uint8Array }
  | { k: 'blank'; text: string };

const notJson = (s: string) => {
  try {
    JSON.parse(s);
    return false;
  } catch {
    return true;
  }
};

const piece: fc.Arbitrary<Piece> = fc.oneof(
  { arbitrary: fc.constant<Piece>({ k: 'valid' }), weight: 8 },
  { arbitrary: fc.constant<Piece>({ k: 'swap' }), weight: 2 },
  { arbitrary: fc.nat().map<Piece>((at) => ({ k: 'truncated', at })), weight: 1 },
  { arbitrary: fc.constant<Piece>({ k: 'wrapped' }), weight: 1 },
  {
    arbitrary: fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 60 })
      .map((s) => s.replace(/[\r\n]/g, ''))
      .filter((s) => s.trim().length > 0 && notJson(s))
      .map<Piece>((text) => ({ k: 'garbage', text })),
    weight: 1,
  },
  {
    // bytes that are not UTF-8 (0xff never is), no newline
    arbitrary: fc
      .uint8Array({ minLength: 0, maxLength: 40 })
      .map<Piece>((b) => ({ k: 'binary', bytes: Uint8Array.from([0xff, ...b.filter((x) => x !== 10), 0xc3]) })),
    weight: 1,
  },
  { arbitrary: fc.constantFrom('', ' ', '\t', '\r', '  \t ').map<Piece>((text) => ({ k: 'blank', text })), weight: 1 },
);

interface Built {
  bytes: Buffer;
  /** Expected by construction. */
  lines: number;
  blank: number;
  bad: number;
  valid: number;
}

function build(source: FileSource, start: number, pieces: Piece[], trailingNewline: boolean): Built {
  const valid = VALID[source];
  let next = start;
  const take = () => valid[next++ % valid.length];
  const parts: Buffer[] = [];
  const exp = { lines: 0, blank: 0, bad: 0, valid: 0 };
  const line = (b: Buffer | string) => {
    parts.push(typeof b === 'string' ? Buffer.from(b) : b);
    exp.lines++;
  };
  for (const p of pieces) {
    if (p.k === 'valid') {
      line(take());
      exp.valid++;
    } else if (p.k === 'swap') {
      const a = take();
      line(take());
      line(a);
      exp.valid += 2;
    } else if (p.k === 'truncated') {
      const l = take();
      line(l.slice(0, 1 + (p.at % (l.length - 1))));
      exp.bad++;
    } else if (p.k === 'wrapped') {
      line(take() + take());
      exp.bad++;
    } else if (p.k === 'garbage') {
      line(p.text);
      exp.bad++;
    } else if (p.k === 'binary') {
      line(Buffer.from(p.bytes));
      exp.bad++;
    } else {
      line(p.text);
      exp.blank++;
    }
  }
  let bytes = Buffer.concat(parts.flatMap((b, i) => (i === 0 ? [b] : [Buffer.from('\n'), b])));
  if (trailingNewline && parts.length > 0) bytes = Buffer.concat([bytes, Buffer.from('\n')]);
  // A file ending in "\n" + nothing has no last line: an empty last piece without newline vanishes.
  const last = parts.at(-1);
  if (!trailingNewline && last !== undefined && last.length === 0) {
    exp.lines--;
    exp.blank--;
  }
  return { bytes, ...exp };
}

function expectAccounted(t: LineTally, b: Built): void {
  expect(unaccountedLines(t)).toBe(0);
  expect(t.lines).toBe(b.lines);
  expect(t.blank).toBe(b.blank);
  expect(t.malformed).toBe(b.bad);
  // every valid line is a record, half of a collapsed pair, or skipped for a reason
  const skipped = Object.values(t.skipped).reduce((a, n) => a + n, 0);
  expect(t.records + t.collapsed + skipped).toBe(b.valid);
}

const fileArb = fc.record({
  start: fc.nat({ max: 2999 }),
  pieces: fc.array(piece, { maxLength: 150, size: 'large' }),
  trailingNewline: fc.boolean(),
});

const counter = new FuzzCounter();
afterAll(() => counter.report('line accounting'));

describe.each<FileSource>(['hubble', 'calico'])('%s files: every line accounted for', (source) => {
  it('normalize: lines = records + collapsed + skipped + malformed + blank', async () => {
    await fc.assert(
      fc.asyncProperty(fileArb, async ({ start, pieces, trailingNewline }) => {
        const b = build(source, start, pieces, trailingNewline);
        counter.tried += b.bad;
        const stats = await normalizeStream(
          Readable.from([b.bytes]),
          createLineMapper(source, 'fuzz'),
          nullWritable(),
          () => {},
        );
        counter.lost += Math.abs(unaccountedLines(stats));
        expectAccounted(stats, b);
      }),
      fuzzParams(300),
    );
  });

  it('import: the same buckets, records published, malformed lines dead-lettered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ds-fuzz-import-'));
    try {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(fileArb, async ({ start, pieces, trailingNewline }) => {
          const b = build(source, start, pieces, trailingNewline);
          const path = join(dir, `f${n++}.log`);
          writeFileSync(path, b.bytes);
          const published: unknown[] = [];
          const dead: DeadLetter[] = [];
          const bus = {
            publish: (batch: PublishBatch) => {
              published.push(...batch.records);
              dead.push(...(batch.deadLetters ?? []));
              return Promise.resolve();
            },
          } as unknown as FlowBus;
          const r = await importFile(path, () => createLineMapper(source, 'fuzz'), bus, {
            load: () => Promise.resolve(undefined),
          });
          counter.lost += Math.abs(unaccountedLines(r.lines));
          if (b.bytes.length === 0) return; // nothing to read: nothing counted
          expectAccounted(r.lines, b);
          expect(published).toHaveLength(r.lines.records);
          expect(dead).toHaveLength(r.lines.malformed);
          expect(dead.every((d) => d.reason.length > 0)).toBe(true);
        }),
        fuzzParams(60),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a line longer than the limit is one malformed line, in both commands', async () => {
    const valid = VALID[source];
    const text = `${valid[0]}\n${'x'.repeat(MAX_LINE_BYTES + 10)}\n\n${valid[1]}\n`;
    const b: Built = { bytes: Buffer.from(text), lines: 4, blank: 1, bad: 1, valid: 2 };
    const stats = await normalizeStream(
      Readable.from([b.bytes]),
      createLineMapper(source, 'fuzz'),
      nullWritable(),
      () => {},
    );
    expectAccounted(stats, b);
    const dir = mkdtempSync(join(tmpdir(), 'ds-fuzz-big-'));
    try {
      writeFileSync(join(dir, 'big.log'), b.bytes);
      const r = await importFile(
        join(dir, 'big.log'),
        () => createLineMapper(source, 'fuzz'),
        { publish: () => Promise.resolve() } as unknown as FlowBus,
        { load: () => Promise.resolve(undefined) },
      );
      expectAccounted(r.lines, b);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('normalize prints only valid FlowRecords', () => {
  it('a flow the mapper accepts but the FlowRecord schema rejects is a malformed line, with the reason', async () => {
    const flow = {
      time: '2025-01-01T00:00:00Z',
      verdict: 'FORWARDED',
      IP: { source: '10.0.0.1', destination: '10.0.0.2' },
      source: { namespace: 'default', pod_name: 'p'.repeat(300) },
    };
    const errors: string[] = [];
    const out: string[] = [];
    const sink = nullWritable();
    sink._write = (c: Buffer, _e, cb) => {
      out.push(c.toString());
      cb();
    };
    const stats = await normalizeStream(
      Readable.from([Buffer.from(`${JSON.stringify({ flow })}\n`)]),
      createLineMapper('hubble', 'fuzz'),
      sink,
      (l) => errors.push(l),
    );
    expect(stats).toMatchObject({ lines: 1, records: 0, malformed: 1 });
    expect(out.join('')).toBe('');
    expect(errors).toEqual(['line 1: invalid FlowRecord: src.pod: is longer than 253 characters']);
  });
});
