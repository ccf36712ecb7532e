import type { DataSource } from 'typeorm';
import type { RollupWriter } from '../aggregator/rollup-writer.port.js';
import type { Logger } from '../common/logger.js';
import { PostgresCheckpointStore } from './checkpoint.store.js';
import { RollupCloser } from './rollup-closer.js';
import { PartitionManager } from './partition.manager.js';
import type { CheckpointStore, RetentionStore } from './ports.js';
import { PostgresRetentionStore } from './retention.store.js';
import { PostgresRollupWriter } from './rollup.writer.js';

/** The write side of storage, as the pipeline sees it (the API's readers are in readers.ts). */
export interface WriteRepositories {
  rollups: RollupWriter;
  checkpoints: CheckpointStore;
  retention: RetentionStore;
  /** Sums closed hours and days into the hourly and daily roll-ups (serve's schedule, after import). */
  rollupCloser: RollupCloser;
}

/** The PostgreSQL implementations over one DataSource, sharing one partition manager. */
export function postgresWriteRepositories(ds: DataSource, log: Logger): WriteRepositories {
  const partitions = new PartitionManager(ds, log.child({ component: 'partitions' }));
  return {
    rollups: new PostgresRollupWriter(ds, partitions),
    checkpoints: new PostgresCheckpointStore(ds),
    retention: new PostgresRetentionStore(ds, partitions),
    rollupCloser: new RollupCloser(ds, partitions, log.child({ component: 'rollup-closer' })),
  };
}
