import { resolve } from 'node:path';
import type { DeadLetter, FlowBus } from '../bus/flow-bus.js';
import { truncateRaw } from '../bus/flow-bus.js';
import type { CheckpointReader, LineMapper } from '../collector/collector.js';
import type { FlowRecord } from '../flow/flow-record.js';
import { encodeCheckpoint, OpenedFile, resumeOffset } from './import-checkpoint.js';
import { OVERSIZED_LINE, readLines, MAX_LINE_BYTES } from './line-reader.js';
import { emptyLineTally, type LineTally } from './line-tally.js';

export interface ImportProgress {
  file: string;
  bytesRead: number;
  bytesTotal: number;
  records: number;
  deadLetters: number;
}

export interface ImportFileResult {
  file: string;
  records: number;
  deadLetters: number;
  /** Why the first refused line was refused (names the problem when a whole file is refused). */
  firstError?: string;
  /** Bytes of this same file that a previous import had already stored. */
  resumedAt: number;
  /** Where each line read this time went; `malformed` lines are the dead letters. */
  lines: LineTally;
}

/**
 * Lines per segment. A segment is the unit of publishing and checkpointing, and each starts with a
 * fresh mapper, so that an interrupted import resumed at a segment boundary maps exactly what the
 * uninterrupted run would have (Hubble's drop de-dup keeps state across lines; docs/INGEST.md).
 */
export const SEGMENT_LINES = 4096;
/** Batches in flight: mapping the next one overlaps with PostgreSQL writing the previous one. */
const IN_FLIGHT = 8;

/**
 * Imports one file through the bus (normalize → aggregator → PostgreSQL). Each batch carries the
 * checkpoint `import:<absolute path>` = the file's identity (device, inode, size, hash of its first
 * bytes) and the byte offset stored so far, stored with the data, so an interrupted import re-run
 * on the same file resumes where the stored data ends: nothing is counted twice and nothing is
 * lost. A finished file imported again adds nothing; grown by appending, only the new lines are
 * imported. Another file at the same path is imported from its start.
 */
export async function importFile(
  path: string,
  newMapper: () => LineMapper,
  bus: FlowBus,
  checkpoints: CheckpointReader,
  onProgress?: (p: ImportProgress) => void,
): Promise<ImportFileResult> {
  const file = resolve(path);
  const stream = `import:${file}`;
  const stored = await checkpoints.load(stream);
  const opened = new OpenedFile(file);
  let resumedAt: number;
  let identity;
  try {
    resumedAt = resumeOffset(stored, opened);
    identity = opened.identity();
  } finally {
    opened.close();
  }
  const size = identity.size;
  const tally = emptyLineTally();
  const result: ImportFileResult = { file, records: 0, deadLetters: 0, resumedAt, lines: tally };
  if (resumedAt >= size) return result;

  const inflight: Promise<void>[] = [];
  let failure: Error | undefined;
  let mapper = newMapper();
  let segmentLines = 0;
  let records: FlowRecord[] = [];
  let dead: DeadLetter[] = [];
  let lastOffset = resumedAt;
  const flush = async () => {
    for (const f of mapper.flush()) records.push(f);
    tally.collapsed += mapper.collapsed ?? 0;
    mapper = newMapper();
    segmentLines = 0;
    result.records += records.length;
    tally.records += records.length;
    const p = bus
      .publish({
        records,
        deadLetters: dead.length > 0 ? dead : undefined,
        checkpoints: [{ stream, position: encodeCheckpoint({ ...identity, offset: lastOffset }) }],
      })
      .catch((e: Error) => {
        failure ??= e;
      });
    records = [];
    dead = [];
    inflight.push(p);
    if (inflight.length >= IN_FLIGHT) await inflight.shift();
    if (failure) throw failure; // what was stored stays stored; a re-run resumes after it
  };
  const mapLine = (text: string, endOffset: number) => {
    tally.lines++;
    if (text.trim().length === 0) {
      tally.blank++;
      return;
    }
    if (text === OVERSIZED_LINE) {
      dead.push({ raw: '', reason: `line longer than ${MAX_LINE_BYTES} bytes`, origin: `${stream}:${endOffset}` });
      result.deadLetters++;
      tally.malformed++;
      result.firstError ??= dead[dead.length - 1].reason;
      return;
    }
    try {
      const r = mapper.map(text);
      if (r.kind === 'flows') for (const f of r.records) records.push(f);
      else tally.skipped[r.what] = (tally.skipped[r.what] ?? 0) + 1;
    } catch (e) {
      dead.push({ raw: truncateRaw(text), reason: (e as Error).message, origin: `${stream}:${endOffset}` });
      result.deadLetters++;
      tally.malformed++;
      result.firstError ??= (e as Error).message;
    }
  };

  try {
    for await (const lines of readLines(file, resumedAt)) {
      for (const line of lines) {
        mapLine(line.text, line.endOffset);
        lastOffset = line.endOffset;
        if (++segmentLines >= SEGMENT_LINES) await flush();
      }
      onProgress?.({
        file,
        bytesRead: lastOffset,
        bytesTotal: size,
        records: result.records,
        deadLetters: result.deadLetters,
      });
    }
    await flush();
  } finally {
    await Promise.all(inflight);
  }
  if (failure) throw failure;
  onProgress?.({ file, bytesRead: size, bytesTotal: size, records: result.records, deadLetters: result.deadLetters });
  return result;
}
