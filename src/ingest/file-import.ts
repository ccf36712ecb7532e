import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DeadLetter, FlowBus } from '../bus/flow-bus.js';
import { truncateRaw } from '../bus/flow-bus.js';
import type { CheckpointReader, LineMapper } from '../collector/collector.js';
import type { FlowRecord } from '../flow/flow-record.js';
import { OVERSIZED_LINE, readLines, MAX_LINE_BYTES } from './line-reader.js';

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
  skipped: number;
  deadLetters: number;
  /** Bytes that a previous, interrupted import had already stored. */
  resumedAt: number;
}

/** Records per published batch. */
const BATCH = 2000;
/** Batches in flight: mapping the next one overlaps with PostgreSQL writing the previous one. */
const IN_FLIGHT = 3;

/**
 * Imports one file through the bus (normalize → aggregator → PostgreSQL). Each batch carries the
 * checkpoint `import:<absolute path>` = `<size-at-start>:<byte offset>`, stored with the data, so
 * an interrupted import re-run on the same file resumes where the stored data ends: nothing is
 * counted twice and nothing is lost. A finished file imported again adds nothing.
 */
export async function importFile(
  path: string,
  mapper: LineMapper,
  bus: FlowBus,
  checkpoints: CheckpointReader,
  onProgress?: (p: ImportProgress) => void,
): Promise<ImportFileResult> {
  const file = resolve(path);
  const stream = `import:${file}`;
  const size = statSync(file).size;
  const stored = await checkpoints.load(stream);
  const resumedAt = stored ? Number(stored.split(':')[1] ?? 0) : 0;
  const result: ImportFileResult = { file, records: 0, skipped: 0, deadLetters: 0, resumedAt };
  if (resumedAt >= size) return result;

  const inflight: Promise<void>[] = [];
  let records: FlowRecord[] = [];
  let dead: DeadLetter[] = [];
  let lastOffset = resumedAt;
  const flush = async () => {
    if (records.length === 0 && dead.length === 0) return;
    const p = bus.publish({
      records,
      deadLetters: dead.length > 0 ? dead : undefined,
      checkpoints: [{ stream, position: `${size}:${lastOffset}` }],
    });
    records = [];
    dead = [];
    inflight.push(p);
    if (inflight.length >= IN_FLIGHT) await inflight.shift();
  };

  for await (const lines of readLines(file, resumedAt)) {
    for (const line of lines) {
      lastOffset = line.endOffset;
      if (line.text.length === 0) continue;
      if (line.text === OVERSIZED_LINE) {
        dead.push({ raw: '', reason: `line longer than ${MAX_LINE_BYTES} bytes`, origin: `${stream}:${line.endOffset}` });
        result.deadLetters++;
        continue;
      }
      try {
        const r = mapper.map(line.text);
        if (r.kind === 'flows') for (const f of r.records) records.push(f);
        else result.skipped++;
      } catch (e) {
        dead.push({ raw: truncateRaw(line.text), reason: (e as Error).message, origin: `${stream}:${line.endOffset}` });
        result.deadLetters++;
      }
    }
    if (records.length >= BATCH) {
      result.records += records.length;
      await flush();
    }
    onProgress?.({ file, bytesRead: lastOffset, bytesTotal: size, records: result.records, deadLetters: result.deadLetters });
  }
  for (const f of mapper.flush()) records.push(f);
  result.records += records.length;
  await flush();
  await Promise.all(inflight);
  onProgress?.({ file, bytesRead: size, bytesTotal: size, records: result.records, deadLetters: result.deadLetters });
  return result;
}
