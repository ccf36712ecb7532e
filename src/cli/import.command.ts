import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { existsSync } from 'node:fs';
import { createLogger } from '../common/pino-logger.js';
import { loadConfig } from '../config/config.js';
import { createAttribution } from '../app/wiring.js';
import { FILE_SOURCES, isFileSource } from '../ingest/line-mappers.js';
import { runImport } from '../ingest/import-runner.js';
import { retentionWarnings } from '../ingest/retention-tally.js';
import { addLineTally, emptyLineTally, formatLineTally } from '../ingest/line-tally.js';
import { openDatabase } from '../storage/database.js';
import { exitWithError, UsageError } from './cli-error.js';

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
    .argument('<files...>', 'files to import')
    .action(async (files: string[], opts: { source: string; clusterName?: string; progress: boolean }) => {
      try {
        if (!isFileSource(opts.source))
          throw new UsageError(`--source must be one of ${FILE_SOURCES.join('|')}, got ${JSON.stringify(opts.source)}`);
        for (const f of files) if (!existsSync(f)) throw new UsageError(`cannot read ${f}: no such file`);
        const config = loadConfig();
        // Logs go to stderr so the summary on stdout stays clean; warnings only unless LOG_LEVEL says otherwise.
        const log = createLogger(process.env.LOG_LEVEL ?? 'warn', process.stderr);
        const db = await openDatabase({ url: config.database.url, dataDir: config.dataDir }, log);
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
          const { attributor, policies } = await createAttribution(config, log);
          const summary = await runImport({
            dataSource: db.dataSource,
            files,
            source: opts.source,
            cluster: opts.clusterName ?? config.clusterName,
            attributor,
            log,
            retention: config.retention,
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
          policies?.stop();
          for (const f of summary.files)
            if (f.resumedAt > 0)
              process.stderr.write(`${f.file}: resumed at byte ${f.resumedAt} (already imported before)\n`);
          process.stdout.write(
            `imported ${summary.flows} flows (${summary.records} records) from ${files.length} file(s): ` +
              `${summary.denied} denied, ${summary.dropped} dropped, ${summary.deadLetters} dead letters, ` +
              `${summary.seconds.toFixed(1)} s, ${Math.round(summary.flowsPerSecond)} flows/s\n`,
          );
          // Every line read is in exactly one bucket; records the aggregator rejected are dead letters too.
          const lines = summary.files.reduce((t, f) => addLineTally(t, f.lines), emptyLineTally());
          const invalid = summary.deadLetters - lines.malformed;
          process.stdout.write(
            `lines: ${formatLineTally(lines, 'malformed (dead letters)')}` +
              `${invalid > 0 ? `; ${invalid} records were invalid FlowRecords (dead letters)` : ''}\n`,
          );
          for (const w of retentionWarnings(summary.outsideRetention, config.retention)) process.stdout.write(`${w}\n`);
        } finally {
          bar?.stop();
          await db.close();
        }
      } catch (e) {
        exitWithError(e);
      }
    });
}
