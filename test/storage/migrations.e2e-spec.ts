import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { createDataSource, migrationsApplied } from '../../src/storage/data-source.js';
import { createTestDatabase } from '../support/test-database.js';

describe('migrations against real PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = createDataSource(db.url, 2);
    await ds.initialize();
  });
  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  const tables = async (): Promise<string[]> =>
    (
      (await ds.query(
        `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE '%_p2%' ORDER BY 1`,
      )) as Array<{ tablename: string }>
    ).map((r) => r.tablename);

  it('applies every migration up, reports them applied, and reverts them all down', async () => {
    expect(await migrationsApplied(ds)).toBe(false);
    await ds.runMigrations({ transaction: 'each' });
    expect(await migrationsApplied(ds)).toBe(true);
    expect(await tables()).toEqual(
      expect.arrayContaining(['stream_checkpoints', 'edge_rollups', 'drop_events', 'dead_letters']),
    );
    const partitioned = (await ds.query(
      `SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid ORDER BY 1`,
    )) as Array<{ relname: string }>;
    expect(partitioned.map((r) => r.relname)).toEqual(['drop_events', 'edge_rollups']);

    while (((await ds.query(`SELECT count(*)::int AS n FROM dropscope_migrations`)) as Array<{ n: number }>)[0].n > 0)
      await ds.undoLastMigration({ transaction: 'each' });
    expect(await tables()).toEqual(['dropscope_migrations']);

    await ds.runMigrations({ transaction: 'each' });
    expect(await migrationsApplied(ds)).toBe(true);
  });
});
