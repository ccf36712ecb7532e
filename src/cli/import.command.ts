import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { Registry } from 'prom-client';
import { openImportPipeline } from '../app/composition.js';
import { createLogger } from '../common/pino-logger.js';
import { loadConfig } from '../config/config.js';
import type { ImportFileResult } from '../ingest/file-import.js';
import { FILE_SOURCES, isFileSource } from '../ingest/line-mappers.js';
import { runImport, type ImportSummary } from '../ingest/import-runner.js';
import { addLineTally, emptyLineTally, formatLineTally } from '../ingest/line-tally.js';
import { retentionWarnings } from '../ingest/retention-tally.js';
import { exitWithError, UsageError } from './cli-error.js';

/** `lost_events: 2, ...`, or '' when nothing was skipped. */
function skippedList(skipped: Record<string, number>): string {
  return Object.entries(skipped)
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ');
}

/** The closing summary on stdout, then per-file notes. */
function summaryLines(
  summary: ImportSummary,
  fileCount: number,
  source: string,
  dropEventsPerEdgeMinute: number,
): string[] {
  const skipped = skippedList(summary.skipped);
  const out = [
    `imported ${summary.flows} flows (${summary.records} records) from ${fileCount} file(s): ` +
      `${summary.denied} denied, ${summary.dropped} dropped, ${summary.audit} audit, ${summary.deadLetters} dead letters` +
      `${skipped ? `, skipped ${skipped}` : ''}, ` +
      `${summary.seconds.toFixed(1)} s, ${Math.round(summary.flowsPerSecond)} flows/s`,
  ];
  // Every line read is in exactly one bucket; records the aggregator rejected are dead letters too.
  const lines = summary.files.reduce((t, f) => addLineTally(t, f.lines), emptyLineTally());
  const invalid = summary.deadLetters - lines.malformed;
  out.push(
    `lines: ${formatLineTally(lines, 'malformed (dead letters)')}` +
      `${invalid > 0 ? `; ${invalid} records were invalid FlowRecords (dead letters)` : ''}`,
  );
  if (summary.dropEventsSampledOut > 0)
    out.push(
      `drop events: ${summary.dropEventsSampledOut} not stored, their edge already had ` +
        `DROP_EVENTS_PER_EDGE_MINUTE=${dropEventsPerEdgeMinute} that minute (their flows are in the roll-ups; 0 keeps every event)`,
    );
  for (const f of summary.files) if (allDeadLetters(f)) out.push(notOfSourceWarning(f, source));
  return out;
}

/** Every line was refused: most likely the wrong --source (or not a flow file at all). */
function allDeadLetters(f: ImportFileResult): boolean {
  const nonBlank = f.lines.lines - f.lines.blank;
  return nonBlank > 0 && f.lines.malformed === nonBlank;
}

function notOfSourceWarning(f: ImportFileResult, source: string): string {
  return (
    `warning: all ${f.lines.lines - f.lines.blank} lines of ${f.file} were dead letters: it is probably not a ${source} file ` +
    `(--source ${source} expects one record per line; the first line: ${f.firstError ?? 'refused'})`
  );
}

/** Most worker threads `--threads` takes, and its default: one per core, at most 16. */
function maxThreads(): number {
  return Math.min(availableParallelism(), 16);
}

/** `--threads N`: 0 to the number of cores (at most 16); absent: one per core. */
function threadCount(value: string | undefined): number {
  const max = maxThreads();
  if (value === undefined) return max;
  if (!/^\d+$/.test(value) || Number(value) > max)
    throw new UsageError(`--threads must be an integer from 0 to ${max}, got ${JSON.stringify(value)}`);
  return Number(value);
}

export function registerImport(program: Command): void {
  program
    .command('import')
    .description(
      'import a `hubble observe -o json` dump or Calico flows.log into the database (DATABASE_URL, else the embedded one); ' +
        're-running an interrupted import resumes where the stored data ends (same file: device, inode, first bytes); a file grown by appending imports only the new lines',
    )
    .requiredOption('--source <source>', `input format: ${FILE_SOURCES.join('|')}`)
    .option('--cluster-name <name>', 'cluster name for records that carry none (default: CLUSTER_NAME or "default")')
    .option('--no-progress', 'no progress bar even on a terminal')
    .option('--config <file>', 'YAML file of VARIABLE: value settings (the environment wins)')
    .option(
      '--threads <n>',
      'worker threads that parse, validate and roll up lines while the main thread writes (default: one per core; 0: all on the main thread; files under 4 MiB always use the main thread)',
    )
    .option(
      '--retime',
      "shift every flow's time by one offset so each file's newest flow lands at the time of import (example data; regular files only)",
    )
    .argument('<files...>', 'files to import')
    .action(
      async (
        files: string[],
        opts: {
          source: string;
          clusterName?: string;
          progress: boolean;
          config?: string;
          retime?: boolean;
          threads?: string;
        },
      ) => {
        try {
          if (!isFileSource(opts.source))
            throw new UsageError(
              `--source must be one of ${FILE_SOURCES.join('|')}, got ${JSON.stringify(opts.source)}`,
            );
          for (const f of files) {
            if (opts.retime && f === '-')
              throw new UsageError(
                '--retime reads each file twice and cannot read standard input: save it to a file first',
              );
            if (!existsSync(f)) throw new UsageError(`cannot read ${f}: no such file`);
            if (opts.retime && !statSync(f).isFile())
              throw new UsageError(
                `--retime reads each file twice: ${f} is not a regular file; save it to a file first`,
              );
          }
          const mappingThreads = threadCount(opts.threads);
          // After each full collection, let the heap grow to twice what is live rather than V8's
          // default of up to four times: the import's memory then follows its flush budget
          // (IMPORT_FLUSH_ENTRIES) at a little more GC time (docs/PERFORMANCE.md). Read at each
          // collection, so setting it now takes effect.
          setFlagsFromString('--heap-growing-percent=100');
          const env = { ...process.env };
          if (opts.config) env.DROPSCOPE_CONFIG = opts.config;
          const config = loadConfig(env);
          // Logs go to stderr so the summary on stdout stays clean; warnings only unless LOG_LEVEL says otherwise.
          const log = createLogger(env.LOG_LEVEL ?? 'warn', process.stderr);
          const pipeline = await openImportPipeline(config, log, new Registry());
          const bar =
            opts.progress && process.stderr.isTTY
              ? new cliProgress.SingleBar(
                  {
                    format: '{file} [{bar}] {percentage}% | {records} flows | {dead} dead letters',
                    stream: process.stderr,
                  },
                  cliProgress.Presets.shades_classic,
                )
              : undefined;
          let current = '';
          try {
            const summary = await runImport({
              pipeline,
              files,
              source: opts.source,
              cluster: opts.clusterName ?? config.clusterName,
              retention: config.retention,
              retime: opts.retime,
              mappingThreads,
              onProgress: (p) => {
                if (!bar) return;
                if (p.file !== current) {
                  if (current) bar.stop();
                  current = p.file;
                  bar.start(p.bytesTotal, 0, { file: p.file.split('/').pop(), records: 0, dead: 0 });
                }
                bar.update(p.bytesRead, { records: p.records, dead: p.deadLetters });
              },
            });
            bar?.stop();
            // The imported hours and days are summed into their roll-ups now, not at serve's next pass.
            const now = Date.now();
            await pipeline.repositories.rollupCloser.closeThrough(
              now - config.hourlyRollupLatenessMs,
              undefined,
              now - config.fiveMinuteRollupLatenessMs,
            );
            for (const f of summary.files)
              if (f.resumedAt > 0)
                process.stderr.write(`${f.file}: resumed at byte ${f.resumedAt} (already imported before)\n`);
            for (const l of summaryLines(summary, files.length, opts.source, config.aggregator.dropEventsPerEdgeMinute))
              process.stdout.write(`${l}\n`);
            for (const w of retentionWarnings(summary.outsideRetention, config.retention))
              process.stdout.write(`${w}\n`);
          } finally {
            bar?.stop();
            await pipeline.close();
          }
        } catch (e) {
          exitWithError(e);
        }
      },
    );
}
