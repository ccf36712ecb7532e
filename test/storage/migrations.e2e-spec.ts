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
    expect(partitioned.map((r) => r.relname)).toEqual([
      'drop_events',
      'edge_rollups',
      'edge_rollups_5m',
      'edge_rollups_daily',
      'edge_rollups_hourly',
    ]);
    expect(await ds.query(`SELECT resolution, closed_through FROM rollup_resolutions ORDER BY 1`)).toEqual([
      { resolution: '5m', closed_through: null },
      { resolution: 'day', closed_through: null },
      { resolution: 'hour', closed_through: null },
    ]);
    await ds.undoLastMigration({ transaction: 'each' }); // FiveMinuteRollups
    expect(await tables()).not.toContain('edge_rollups_5m');
    expect(await ds.query(`SELECT resolution FROM rollup_resolutions ORDER BY 1`)).toEqual([
      { resolution: 'day' },
      { resolution: 'hour' },
    ]);
    await ds.undoLastMigration({ transaction: 'each' }); // HourlyRollups
    expect(await tables()).not.toContain('edge_rollups_hourly');
    expect(await tables()).not.toContain('edge_rollups_daily');
    expect(await tables()).not.toContain('rollup_resolutions');

    expect(await tables()).toEqual(
      expect.arrayContaining(['alert_rules', 'alerts', 'alert_groups', 'silences', 'notification_outbox']),
    );
    // CheckpointGenerations: a claimed stream with no position yet goes, the rest keep their positions.
    await ds.query(
      `INSERT INTO stream_checkpoints (stream, position, generation) VALUES ('kafka:t:0', '42', 3), ('kafka:t:1', NULL, 1)`,
    );
    await ds.undoLastMigration({ transaction: 'each' });
    expect(await ds.query(`SELECT * FROM stream_checkpoints`)).toEqual([
      { stream: 'kafka:t:0', position: '42', updated_at: expect.any(Date) },
    ]);
    await ds.query(`DELETE FROM stream_checkpoints`);
    await ds.undoLastMigration({ transaction: 'each' }); // Alerts, which PolicyArrays' steps below do not touch
    expect(await tables()).not.toContain('notification_outbox');

    // PolicyArrays moves a stored single policy into the policies list, and back on the way down.
    await ds.undoLastMigration({ transaction: 'each' });
    await ds.query(
      `CREATE TABLE edge_rollups_p20250501 PARTITION OF edge_rollups FOR VALUES FROM ('2025-05-01') TO ('2025-05-02')`,
    );
    await ds.query(`INSERT INTO edge_rollups (bucket, edge_key, cluster, src_kind, dst_kind, protocol, verdict, direction,
        policy, source, count, first_seen, last_seen)
      VALUES ('2025-05-01T10:00:00Z', 'k1', 'c', 'pod', 'pod', 'TCP', 'denied', 'ingress', 'shop/a', 'hubble', 2, now(), now()),
        ('2025-05-01T10:00:00Z', 'k2', 'c', 'pod', 'pod', 'TCP', 'denied', 'ingress', '', 'hubble', 1, now(), now())`);
    await ds.runMigrations({ transaction: 'each' });
    expect(await ds.query(`SELECT edge_key, policies FROM edge_rollups ORDER BY 1`)).toEqual([
      { edge_key: 'k1', policies: ['shop/a'] },
      { edge_key: 'k2', policies: [] },
    ]);
    await ds.query(`UPDATE edge_rollups SET policies = '{shop/b,shop/a}' WHERE edge_key = 'k1'`);
    await ds.undoLastMigration({ transaction: 'each' }); // FiveMinuteRollups
    await ds.undoLastMigration({ transaction: 'each' }); // HourlyRollups
    await ds.undoLastMigration({ transaction: 'each' }); // CheckpointGenerations
    await ds.undoLastMigration({ transaction: 'each' }); // Alerts
    await ds.undoLastMigration({ transaction: 'each' });
    expect(await ds.query(`SELECT edge_key, policy FROM edge_rollups ORDER BY 1`)).toEqual([
      { edge_key: 'k1', policy: 'shop/b' },
      { edge_key: 'k2', policy: '' },
    ]);
    await ds.runMigrations({ transaction: 'each' });

    while (((await ds.query(`SELECT count(*)::int AS n FROM dropscope_migrations`)) as Array<{ n: number }>)[0].n > 0)
      await ds.undoLastMigration({ transaction: 'each' });
    expect(await tables()).toEqual(['dropscope_migrations']);

    await ds.runMigrations({ transaction: 'each' });
    expect(await migrationsApplied(ds)).toBe(true);
  });
});
