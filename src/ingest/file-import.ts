import { resolve } from 'node:path';
import type { FlowBus, PublishBatch } from '../bus/flow-bus.js';
import type { CheckpointReader, LineMapper } from '../collector/collector.js';
import { encodeCheckpoint, OpenedFile, resumeOffset } from './import-checkpoint.js';
import { readRawLines } from './line-reader.js';
import type { MapperSpec } from './line-mappers.js';
import { addLineTally, emptyLineTally, type LineTally } from './line-tally.js';
import {
  ByteSegmentBuilder,
  mapSegment,
  TextSegmentBuilder,
  type Segment,
  type SegmentResult,
} from './segment-mapping.js';
import { SegmentWorkerPool, workersAvailable } from './segment-pool.js';

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
/** Below this many bytes to read, starting worker threads costs more than it saves. */
const PARALLEL_MIN_BYTES = 4 << 20;

/** Map segments in worker threads built from `spec` (the same mapper `newMapper` builds). */
export interface ParallelMapping {
  spec: MapperSpec;
  threads: number;
  /** The workers attribute drops (no policy inventory); otherwise the aggregator does. */
  attributeInWorkers: boolean;
  /** DROP_EVENTS_PER_EDGE_MINUTE, which each worker applies to its own segments too (0: off). */
  dropEventsPerRow: number;
}

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
  parallel?: ParallelMapping,
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

  // Publishes not yet stored. The reader goes on once the bus holds a segment (its queue is the
  // back-pressure); the aggregator may carry segments across writes, so they are stored later.
  const inflight = new Set<Promise<void>>();
  let failure: Error | undefined;
  const send = async (batch: Omit<PublishBatch, 'accepted'>) => {
    let accepted!: () => void;
    const held = new Promise<void>((r) => (accepted = r));
    const p: Promise<void> = bus
      .publish({ ...batch, accepted })
      .catch((e: Error) => {
        failure ??= e;
      })
      .finally(() => {
        accepted(); // a bus that never calls it has at least settled
        inflight.delete(p);
      });
    inflight.add(p);
    await held;
    if (failure) throw failure; // what was stored stays stored; a re-run resumes after it
  };
  // Each segment's checkpoint continues from the one before it (the stored position at first):
  // once a segment fails to store, no later one can commit a position past its lines.
  let after: string | null = stored ?? null;
  const publish = async (r: SegmentResult) => {
    addLineTally(tally, r.tally);
    result.records += r.tally.records;
    result.deadLetters += r.dead.length;
    result.firstError ??= r.firstError;
    const position = encodeCheckpoint({ ...identity, offset: r.endOffset });
    await send({
      records: r.records,
      ...(r.prefolded ? { prefolded: [r.prefolded] } : {}),
      deadLetters: r.dead.length > 0 ? r.dead : undefined,
      checkpoints: [{ stream, position, after }],
    });
    after = position;
    onProgress?.({
      file,
      bytesRead: r.endOffset,
      bytesTotal: size,
      records: result.records,
      deadLetters: result.deadLetters,
    });
  };

  // Segments are mapped ahead (in worker threads when given) and published strictly in file
  // order, so each checkpoint covers exactly the lines before it.
  const pool =
    parallel && parallel.threads > 0 && size - resumedAt > PARALLEL_MIN_BYTES && workersAvailable()
      ? new SegmentWorkerPool(
          parallel.spec,
          stream,
          parallel.threads,
          parallel.attributeInWorkers,
          parallel.dropEventsPerRow,
        )
      : undefined;
  const ahead: Promise<SegmentResult>[] = [];
  const maxAhead = pool ? parallel!.threads + 1 : 1;
  const mapAhead = (segment: Segment) => {
    const p = pool ? pool.map(segment) : Promise.resolve(mapSegment(segment, newMapper(), stream));
    p.catch(() => undefined); // awaited in order below; this only keeps a rejection from being unhandled
    ahead.push(p);
  };
  try {
    // Worker threads get a segment's lines as bytes (decoded there); this thread decodes its own.
    const builder = pool ? new ByteSegmentBuilder() : new TextSegmentBuilder();
    for await (const lines of readRawLines(file, resumedAt)) {
      for (const line of lines) {
        builder.add(line);
        if (builder.lines >= SEGMENT_LINES) {
          mapAhead(builder.take());
          while (ahead.length >= maxAhead) await publish(await ahead.shift()!);
        }
      }
    }
    if (builder.lines > 0) mapAhead(builder.take());
    while (ahead.length > 0) await publish(await ahead.shift()!);
    // The end of the file: store what is carried now rather than after the aggregator's delay.
    await send({ records: [], flush: true });
  } finally {
    await Promise.all(inflight);
    await pool?.close();
  }
  if (failure) throw failure;
  onProgress?.({ file, bytesRead: size, bytesTotal: size, records: result.records, deadLetters: result.deadLetters });
  return result;
}
