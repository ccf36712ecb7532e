/**
 * A migrated test database with the real roll-up writer and closer, for storage tests that write
 * flows and read them back.
 */
import type { DataSource } from 'typeorm';
import { BatchRollup } from '../../src/aggregator/edge-rollup.js';
import { silentLogger } from '../../src/common/logger.js';
import type { FlowEndpoint, FlowRecord } from '../../src/flow/flow-record.js';
import { createDataSource } from '../../src/storage/data-source.js';
import { PartitionManager } from '../../src/storage/partition.manager.js';
import { RollupCloser } from '../../src/storage/rollup-closer.js';
import { PostgresRollupWriter } from '../../src/storage/rollup.writer.js';
import { createTestDatabase } from './test-database.js';

export const SHOP_WEB: FlowEndpoint = { kind: 'pod', namespace: 'shop', workload: { kind: 'Deployment', name: 'web' } };
export const DB_PG: FlowEndpoint = { kind: 'pod', namespace: 'db', workload: { kind: 'StatefulSet', name: 'pg' } };

/** A flow `minute` minutes after `t0` (at second 5): shop/web to db/pg:5432, denied, unless told otherwise. */
export function rollupFlow(t0: number, minute: number, count: number, over: Partial<FlowRecord> = {}): FlowRecord {
  return {
    id: `f${minute}-${count}-${over.verdict ?? 'denied'}`,
    source: 'hubble',
    cluster: 'c1',
    time: new Date(t0 + minute * 60_000 + 5_000).toISOString(),
    verdict: 'denied',
    direction: 'egress',
    src: SHOP_WEB,
    dst: DB_PG,
    protocol: 'TCP',
    dstPort: 5432,
    count,
    policies: [],
    ...over,
  };
}

/** The flows folded into one batch, as an aggregator folds them. */
export function foldFlows(flows: readonly FlowRecord[]): BatchRollup {
  const b = new BatchRollup();
  for (const f of flows) b.add(f, undefined);
  return b;
}

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
      await writer.writeBatch(foldFlows(flows), [], []);
    },
    drop: async () => {
      await ds.destroy();
      await db.drop();
    },
  };
}
