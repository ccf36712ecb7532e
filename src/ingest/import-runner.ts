import { Registry } from 'prom-client';
import { Aggregator } from '../aggregator/aggregator.js';
import { AggregatorMetrics } from '../aggregator/aggregator.metrics.js';
import type { FlowAttributor } from '../aggregator/attribution.port.js';
import { DropRollupRepository } from '../aggregator/drop-rollup.repository.js';
import { InProcessFlowBus } from '../bus/in-process-flow.bus.js';
import type { Logger } from '../common/logger.js';
import type { DataSource } from 'typeorm';
import { PartitionManager } from '../storage/partition.manager.js';
import { importFile, type ImportFileResult, type ImportProgress } from './file-import.js';
import { createLineMapper, type FileSource } from './line-mappers.js';
import { RetentionTally, type OutsideRetention, type RetentionDays } from './retention-tally.js';

const IMPORT_BATCH_RECORDS = 20_000;
const IMPORT_QUEUE_RECORDS = 40_000;

export interface ImportSummary {
  files: ImportFileResult[];
  records: number;
  flows: number;
  denied: number;
  dropped: number;
  deadLetters: number;
  seconds: number;
  flowsPerSecond: number;
  /** Stored data that `serve`'s retention pass will delete (older than the retention settings). */
  outsideRetention: OutsideRetention;
}

/**
 * `dropscope import`: files through the same normalize → attribute → roll-up path as the service
 * (an in-process bus and the aggregator), into the given database.
 */
export async function runImport(opts: {
  dataSource: DataSource;
  files: string[];
  source: FileSource;
  cluster: string;
  attributor: FlowAttributor;
  log: Logger;
  registry?: Registry;
  /** The retention `serve` applies, to count what it would delete (default: keep forever). */
  retention?: RetentionDays;
  onProgress?: (p: ImportProgress) => void;
}): Promise<ImportSummary> {
  const started = process.hrtime.bigint();
  const repo = new DropRollupRepository(opts.dataSource, new PartitionManager(opts.dataSource, opts.log));
  const aggregator = new Aggregator(
    repo,
    opts.attributor,
    new AggregatorMetrics(opts.registry ?? new Registry()),
    opts.log,
  );
  // Big batches: each roll-up key is upserted once per batch, so fewer, larger transactions
  // cut PostgreSQL's work; memory stays bounded by the queue.
  const bus = new InProcessFlowBus(IMPORT_QUEUE_RECORDS, opts.log);
  bus.setDeadLetterSink((l) => repo.insertDeadLetters(l));
  const totals = { flows: 0, denied: 0, dropped: 0, deadLetters: 0 };
  const tally = new RetentionTally(opts.retention ?? { rollupDays: 0, eventDays: 0 }, Date.now());
  await bus.consume(
    async (b) => {
      const r = await aggregator.handle(b);
      totals.flows += r.flows;
      totals.deadLetters += r.deadLetters;
      totals.denied += r.byVerdict.denied ?? 0;
      totals.dropped += r.byVerdict.dropped ?? 0;
      tally.add(b.records);
    },
    { groupId: 'import', loadCheckpoints: (s) => repo.loadCheckpoints(s), maxBatch: IMPORT_BATCH_RECORDS },
  );
  const checkpoints = { load: (stream: string) => repo.loadCheckpoint(stream) };
  const files: ImportFileResult[] = [];
  try {
    for (const f of opts.files)
      files.push(
        await importFile(f, () => createLineMapper(opts.source, opts.cluster), bus, checkpoints, opts.onProgress),
      );
  } finally {
    await bus.close();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    files,
    records: files.reduce((n, f) => n + f.records, 0),
    ...totals,
    seconds,
    flowsPerSecond: totals.flows / Math.max(seconds, 1e-9),
    outsideRetention: tally.outside,
  };
}
