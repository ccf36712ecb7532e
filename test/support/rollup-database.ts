/**
 * A migrated test database with the real roll-up writer and closer, for storage tests that write
 * flows and read them back.
 */
import type { DataSource } from 'typeorm';
import { BatchRollup } from '../../src/aggregator/edge-rollup.js';
import { silentLogger } from '../../src/common/logger.js';
import type { FlowRecord } from '../../src/flow/flow-record.js';
import { createDataSource } from '../../src/storage/data-source.js';
import { PartitionManager } from '../../src/storage/partition.manager.js';
import { RollupCloser } from '../../src/storage/rollup-closer.js';
import { PostgresRollupWriter } from '../../src/storage/rollup.writer.js';
import { createTestDatabase } from './test-database.js';

export interface RollupDatabase {
  ds: DataSource;
  writer: PostgresRollupWriter;
  closer: RollupCloser;
  /** Folds the flows into one batch and writes it. */
  write(flows: FlowRecord[]): Promise<void>;
  /** Closes the DataSource and drops the database. */
  drop(): Promise<void>;
}

export async function startRollupDatabase(): Promise<RollupDatabase> {
  const db = await createTestDatabase();
  const ds = createDataSource(db.url, 4);
  await ds.initialize();
  await ds.runMigrations({ transaction: 'each' });
  const partitions = new PartitionManager(ds, silentLogger);
  const writer = new PostgresRollupWriter(ds, partitions);
  return {
    ds,
    writer,
    closer: new RollupCloser(ds, partitions, silentLogger),
    write: async (flows) => {
      const b = new BatchRollup();
      for (const f of flows) b.add(f, undefined);
      await writer.writeBatch(b, [], []);
    },
    drop: async () => {
      await ds.destroy();
      await db.drop();
    },
  };
}
