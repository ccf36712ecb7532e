/**
 * Checkpoints that say where they continue from (StreamCheckpoint.after), over real PostgreSQL:
 * the roll-up writer and the checkpoint store refuse a position that does not continue the stored
 * one, with nothing of the batch stored, and accept one that does (null: no position stored yet).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { CheckpointConflictError, type StreamCheckpoint } from '../../src/bus/flow-bus.js';
import { PostgresCheckpointStore } from '../../src/storage/checkpoint.store.js';
import type { PostgresRollupWriter } from '../../src/storage/rollup.writer.js';
import { foldFlows, rollupFlow, startRollupDatabase, type RollupDatabase } from '../support/rollup-database.js';

describe('checkpoints that continue a stored position', () => {
  let db: RollupDatabase;
  let ds: DataSource;
  let writer: PostgresRollupWriter;
  let store: PostgresCheckpointStore;

  beforeAll(async () => {
    db = await startRollupDatabase();
    ({ ds, writer } = db);
    store = new PostgresCheckpointStore(ds);
  });
  afterAll(async () => {
    await db?.drop();
  });

  /** One batch: a flow of `count` at 10:01 with the checkpoint. */
  const write = (count: number, checkpoint: StreamCheckpoint) =>
    writer.writeBatch(foldFlows([rollupFlow(Date.parse('2025-03-01T10:00:00Z'), 1, count)]), [checkpoint], []);
  const total = async () =>
    Number(((await ds.query(`SELECT coalesce(sum(count), 0) AS n FROM edge_rollups`)) as Array<{ n: string }>)[0].n);

  it('stores a batch that continues the stored position and refuses, whole, one that does not', async () => {
    await write(1, { stream: 'file:a', position: '10', after: null }); // nothing stored yet
    await write(2, { stream: 'file:a', position: '20', after: '10' });
    // The batch between 20 and 30 was lost: the one after it must not move the position past it.
    const refused = write(4, { stream: 'file:a', position: '40', after: '30' });
    await expect(refused).rejects.toBeInstanceOf(CheckpointConflictError);
    await expect(refused).rejects.toThrow(/file:a is not stored where this batch continues from/);
    expect(await total()).toBe(3);
    expect(await store.load('file:a')).toBe('20');
    // A batch expecting "nothing stored" is refused once something is.
    await expect(write(8, { stream: 'file:a', position: '50', after: null })).rejects.toBeInstanceOf(
      CheckpointConflictError,
    );
    // Unchecked (no `after`), as before.
    await write(16, { stream: 'file:a', position: '60' });
    expect(await total()).toBe(19);
    expect(await store.load('file:a')).toBe('60');
  });

  it('the checkpoint store checks the same way', async () => {
    await store.save([{ stream: 'file:b', position: '1', after: null }]);
    await expect(store.save([{ stream: 'file:b', position: '3', after: '2' }])).rejects.toBeInstanceOf(
      CheckpointConflictError,
    );
    expect(await store.load('file:b')).toBe('1');
    await store.save([{ stream: 'file:b', position: '2', after: '1' }]);
    expect(await store.load('file:b')).toBe('2');
  });
});
