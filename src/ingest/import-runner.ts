import { reportedOnlyAttributor } from '../aggregator/attribution.port.js';
import type { Pipeline } from '../app/composition.js';
import { importFile, type ImportFileResult, type ImportProgress } from './file-import.js';
import { createLineMapper, mapperFromSpec, type FileSource, type MapperSpec } from './line-mappers.js';
import { RetentionTally, type OutsideRetention, type RetentionDays } from './retention-tally.js';
import { newestFlowTime } from './retime.js';

export interface ImportSummary {
  files: ImportFileResult[];
  records: number;
  flows: number;
  denied: number;
  dropped: number;
  audit: number;
  deadLetters: number;
  /** Drop events not stored: their edge already had DROP_EVENTS_PER_EDGE_MINUTE that minute. */
  dropEventsSampledOut: number;
  /** Lines that were not flows, by kind (`lost_events`, ...), over all files. */
  skipped: Record<string, number>;
  seconds: number;
  flowsPerSecond: number;
  /** Stored data that `serve`'s retention pass will delete (older than the retention settings). */
  outsideRetention: OutsideRetention;
}

/**
 * `dropscope import`: files through the same normalize → attribute → roll-up path as the service,
 * on a pipeline from openImportPipeline (an in-process bus and the aggregator). The caller
 * owns the pipeline and closes it.
 */
export async function runImport(opts: {
  pipeline: Pipeline;
  files: string[];
  source: FileSource;
  cluster: string;
  /** The retention `serve` applies, to count what it would delete (default: keep forever). */
  retention?: RetentionDays;
  /** Shift every flow's time so each file's newest flow lands at `now` (example data). */
  retime?: boolean;
  now?: () => number;
  onProgress?: (p: ImportProgress) => void;
  /**
   * Worker threads that parse, validate and roll up segments of lines while this thread merges
   * and writes (default 0: all on this thread; `import` passes one per core).
   */
  mappingThreads?: number;
}): Promise<ImportSummary> {
  const started = process.hrtime.bigint();
  const now = opts.now ?? Date.now;
  const { pipeline } = opts;
  const totals = { flows: 0, denied: 0, dropped: 0, audit: 0, deadLetters: 0, dropEventsSampledOut: 0 };
  const tally = new RetentionTally(opts.retention ?? { rollupDays: 0, eventDays: 0 }, now());
  pipeline.onRecords((records, prefolded) => {
    tally.add(records);
    for (const p of prefolded) tally.addByDay(p.byDay);
  });
  pipeline.onBatch((r) => {
    totals.flows += r.flows;
    totals.deadLetters += r.deadLetters;
    totals.dropEventsSampledOut += r.dropEventsSampledOut;
    totals.denied += r.byVerdict.denied ?? 0;
    totals.dropped += r.byVerdict.dropped ?? 0;
    totals.audit += r.byVerdict.audit ?? 0;
  });
  const newMapper = () => createLineMapper(opts.source, opts.cluster);
  const files: ImportFileResult[] = [];
  // Parsing, mapping and folding can run in worker threads while this thread merges and writes
  // (docs/PERFORMANCE.md); the stored result is the same either way.
  const threads = opts.mappingThreads ?? 0;
  try {
    for (const f of opts.files) {
      const spec: MapperSpec = { source: opts.source, cluster: opts.cluster };
      if (opts.retime) {
        // Two passes over the file: the newest time first, then the import with the offset.
        const newest = await newestFlowTime(f, newMapper());
        if (newest !== undefined) spec.retimeOffsetMs = now() - newest;
      }
      files.push(
        await importFile(
          f,
          () => mapperFromSpec(spec),
          pipeline.bus,
          pipeline.repositories.checkpoints,
          opts.onProgress,
          {
            spec,
            threads,
            // Without a policy inventory a drop's attribution depends on the flow alone, so the
            // workers can do it; with one, the aggregator's attributor (which holds it) does.
            attributeInWorkers: pipeline.attributor === reportedOnlyAttributor,
            dropEventsPerRow: pipeline.aggregator?.dropEventsPerRow ?? 0,
          },
        ),
      );
    }
  } finally {
    // Closing the bus drains it: every published batch is stored (or failed) before the summary.
    await pipeline.bus.close();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const skipped: Record<string, number> = {};
  for (const f of files) for (const [k, n] of Object.entries(f.lines.skipped)) skipped[k] = (skipped[k] ?? 0) + n;
  return {
    files,
    records: files.reduce((n, f) => n + f.records, 0),
    ...totals,
    skipped,
    seconds,
    flowsPerSecond: totals.flows / Math.max(seconds, 1e-9),
    outsideRetention: tally.outside,
  };
}
