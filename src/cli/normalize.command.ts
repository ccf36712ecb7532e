import type { Command } from 'commander';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import type { LineMapper } from '../collector/collector.js';
import type { FlowRecord } from '../flow/flow-record.js';
import { validateFlowRecord } from '../flow/flow-record.validator.js';
import { createLineMapper, FILE_SOURCES, isFileSource } from '../ingest/line-mappers.js';
import { MAX_LINE_BYTES, OVERSIZED_LINE, readLines } from '../ingest/line-reader.js';
import { emptyLineTally, formatLineTally, type LineTally } from '../ingest/line-tally.js';
import { exitWithError, UsageError } from './cli-error.js';

/** Where each input line went: `lines` = records + collapsed + skipped + malformed + blank. */
export type NormalizeStats = LineTally;

/** Most malformed lines reported one by one on stderr; the rest are only counted. */
const MAX_REPORTED = 100;

/**
 * Streams lines through a mapper and writes one FlowRecord JSON per line. Memory stays flat: one
 * read chunk at a time, and output waits for the destination to drain (backpressure).
 */
export async function normalizeStream(
  input: Readable,
  mapper: LineMapper,
  out: Writable,
  err: (line: string) => void,
): Promise<NormalizeStats> {
  const stats: NormalizeStats = emptyLineTally();
  let buf = '';
  const write = async (s: string, force = false) => {
    buf += s;
    if (buf.length < 1 << 16 && !force) return;
    const ok = out.write(buf);
    buf = '';
    if (!ok) await once(out, 'drain');
  };
  const malformed = (line: number, msg: string) => {
    stats.malformed++;
    if (stats.malformed <= MAX_REPORTED) err(`line ${line}: ${msg}`);
  };
  // What the aggregator would dead-letter is not printed as a FlowRecord either: it counts as
  // malformed (a record held by Hubble's de-dup is reported at the line that released it).
  const emit = async (f: FlowRecord, line: number) => {
    try {
      validateFlowRecord(f);
    } catch (e) {
      malformed(line, `invalid FlowRecord: ${(e as Error).message}`);
      return;
    }
    stats.records++;
    await write(`${JSON.stringify(f)}\n`);
  };
  for await (const lines of readLines(input)) {
    for (const line of lines) {
      stats.lines++;
      if (line.text.trim().length === 0) {
        stats.blank++;
        continue;
      }
      if (line.text === OVERSIZED_LINE) {
        malformed(line.number, `longer than ${MAX_LINE_BYTES} bytes, skipped`);
        continue;
      }
      let r;
      try {
        r = mapper.map(line.text);
      } catch (e) {
        malformed(line.number, (e as Error).message);
        continue;
      }
      if (r.kind === 'skipped') stats.skipped[r.what] = (stats.skipped[r.what] ?? 0) + 1;
      else for (const f of r.records) await emit(f, line.number);
    }
  }
  for (const f of mapper.flush()) await emit(f, stats.lines);
  stats.collapsed = mapper.collapsed ?? 0;
  await write('', true);
  if (stats.malformed > MAX_REPORTED) err(`${stats.malformed - MAX_REPORTED} more malformed lines not shown`);
  return stats;
}

export function registerNormalize(program: Command): void {
  program
    .command('normalize')
    .description(
      'print FlowRecords (schema 1) as JSON lines from a `hubble observe -o json` dump or a Calico flows.log',
    )
    .requiredOption('--source <source>', `input format: ${FILE_SOURCES.join('|')}`)
    .option('--cluster-name <name>', 'cluster name for records that carry none (default: CLUSTER_NAME or "default")')
    .argument('[file]', 'input file, or - for standard input', '-')
    .action(async (file: string, opts: { source: string; clusterName?: string }) => {
      try {
        if (!isFileSource(opts.source))
          throw new UsageError(`--source must be one of ${FILE_SOURCES.join('|')}, got ${JSON.stringify(opts.source)}`);
        const input = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 1 << 20 });
        const opened = file === '-' ? Promise.resolve() : once(input, 'open');
        await opened.catch((e: Error) => {
          throw new UsageError(`cannot read ${file}: ${e.message}`);
        });
        // `normalize ... | head`: a reader that closed its end is a normal way to stop, as with
        // any Unix filter; end quietly with status 0 instead of dying on EPIPE.
        process.stdout.on('error', (e: NodeJS.ErrnoException) => {
          if (e.code === 'EPIPE') process.exit(0);
          exitWithError(e);
        });
        const mapper = createLineMapper(opts.source, opts.clusterName ?? process.env.CLUSTER_NAME ?? 'default');
        const stats = await normalizeStream(input, mapper, process.stdout, (l) => process.stderr.write(`${l}\n`));
        process.stderr.write(`normalized ${stats.records} flows from ${formatLineTally(stats)}\n`);
      } catch (e) {
        exitWithError(e);
      }
    });
}
