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
      'edge_rollups_15m',
      'edge_rollups_4h',
      'edge_rollups_5m',
      'edge_rollups_daily',
      'edge_rollups_hourly',
      'rollup_totals_hourly',
    ]);
    expect(await ds.query(`SELECT resolution, closed_through FROM rollup_resolutions ORDER BY 1`)).toEqual([
      { resolution: '15m', closed_through: null },
      { resolution: '4h', closed_through: null },
      { resolution: '5m', closed_through: null },
      { resolution: 'day', closed_through: null },
      { resolution: 'hour', closed_through: null },
    ]);
    // DropRowFiveMinuteIndexes: the 5-minute and 15-minute tables' filter indexes hold drop rows
    // only; reverted, all rows.
    const shortUnitIndexes = async (): Promise<string[]> =>
      (
        (await ds.query(
          `SELECT indexdef FROM pg_indexes WHERE tablename IN ('edge_rollups_5m', 'edge_rollups_15m')
             AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_policies' ORDER BY indexname`,
        )) as Array<{ indexdef: string }>
      ).map((r) => r.indexdef);
    const shortUnitDefs = (where: string): string[] =>
      ['15m', '5m'].flatMap((unit) =>
        [
          ['dst_ns_bucket', 'dst_namespace'],
          ['dst_workload_bucket', 'dst_workload'],
          ['src_ns_bucket', 'src_namespace'],
          ['src_workload_bucket', 'src_workload'],
          ['verdict_bucket', 'verdict'],
        ].map(
          ([name, col]) =>
            `CREATE INDEX edge_rollups_${unit}_${name} ON ONLY public.edge_rollups_${unit} USING btree (${col}, bucket)${where}`,
        ),
      );
    expect(await shortUnitIndexes()).toEqual(shortUnitDefs(` WHERE (verdict <> 'allowed'::text)`));
    await ds.undoLastMigration({ transaction: 'each' }); // DropRowFiveMinuteIndexes
    expect(await shortUnitIndexes()).toEqual(shortUnitDefs(''));
    // RollupGenerations: the two tables the edge list's cache checks, empty; reverted, gone.
    expect(await ds.query(`SELECT count(*)::int AS n FROM rollup_generations`)).toEqual([{ n: 0 }]);
    expect(await ds.query(`SELECT count(*)::int AS n FROM rollup_minute_writes`)).toEqual([{ n: 0 }]);
    await ds.undoLastMigration({ transaction: 'each' }); // RollupGenerations
    expect(await tables()).not.toContain('rollup_generations');
    expect(await tables()).not.toContain('rollup_minute_writes');
    // EdgeIds: a nullable edge_id uuid on every roll-up table; reverted, none.
    const edgeIdColumns = async (): Promise<unknown[]> =>
      (await ds.query(
        `SELECT table_name, data_type, is_nullable FROM information_schema.columns
           WHERE table_schema = 'public' AND column_name = 'edge_id' AND table_name NOT LIKE '%_p2%' ORDER BY 1`,
      )) as unknown[];
    expect(await edgeIdColumns()).toEqual(
      partitioned
        .filter((r) => r.relname.startsWith('edge_rollups'))
        .map((r) => ({ table_name: r.relname, data_type: 'uuid', is_nullable: 'YES' })),
    );
    await ds.undoLastMigration({ transaction: 'each' }); // EdgeIds
    expect(await edgeIdColumns()).toEqual([]);
    // DropRowMinuteIndexes: the minute table's filter indexes hold drop rows only; reverted, all rows.
    const minuteIndexes = async (): Promise<string[]> =>
      (
        (await ds.query(
          `SELECT indexdef FROM pg_indexes WHERE tablename = 'edge_rollups'
             AND indexname NOT IN ('edge_rollups_pkey', 'edge_rollups_policies') ORDER BY indexname`,
        )) as Array<{ indexdef: string }>
      ).map((r) => r.indexdef);
    const on = 'ON ONLY public.edge_rollups USING btree';
    expect(await minuteIndexes()).toEqual([
      `CREATE INDEX edge_rollups_dst_ns_bucket ${on} (dst_namespace, bucket) WHERE (verdict <> 'allowed'::text)`,
      `CREATE INDEX edge_rollups_dst_workload_bucket ${on} (dst_workload, bucket) WHERE (verdict <> 'allowed'::text)`,
      `CREATE INDEX edge_rollups_src_ns_bucket ${on} (src_namespace, bucket) WHERE (verdict <> 'allowed'::text)`,
      `CREATE INDEX edge_rollups_src_workload_bucket ${on} (src_workload, bucket) WHERE (verdict <> 'allowed'::text)`,
      `CREATE INDEX edge_rollups_verdict_bucket ${on} (verdict, bucket) WHERE (verdict <> 'allowed'::text)`,
    ]);
    await ds.undoLastMigration({ transaction: 'each' }); // DropRowMinuteIndexes
    expect(await minuteIndexes()).toEqual([
      `CREATE INDEX edge_rollups_dst_ns_bucket ${on} (dst_namespace, bucket)`,
      `CREATE INDEX edge_rollups_dst_workload_bucket ${on} (dst_workload, bucket)`,
      `CREATE INDEX edge_rollups_src_ns_bucket ${on} (src_namespace, bucket)`,
      `CREATE INDEX edge_rollups_src_workload_bucket ${on} (src_workload, bucket)`,
      `CREATE INDEX edge_rollups_verdict_bucket ${on} (verdict, bucket)`,
    ]);
    // FifteenMinuteRollups sums the 5-minute rows an install already has into 15-minute units,
    // through the last whole unit before the 5-minute mark (10:40: units 10:00 and 10:15; the 10:30
    // unit waits for the closer). The hour mark (10:00) is left as it is.
    await ds.undoLastMigration({ transaction: 'each' }); // FifteenMinuteRollups
    expect(await tables()).not.toContain('edge_rollups_15m');
    await ds.query(
      `CREATE TABLE edge_rollups_5m_p20250501 PARTITION OF edge_rollups_5m FOR VALUES FROM ('2025-05-01') TO ('2025-05-02')`,
    );
    await ds.query(`INSERT INTO edge_rollups_5m (bucket, edge_key, cluster, src_kind, dst_kind, protocol, verdict,
        direction, source, src_labels, count, first_seen, last_seen, last_bucket)
      SELECT b::timestamptz, k, 'c', 'pod', 'pod', 'TCP', 'denied', 'ingress', 'hubble', l::jsonb, n, b::timestamptz,
        b::timestamptz + interval '30 seconds', lb::timestamptz
      FROM (VALUES ('2025-05-01T10:00:00Z', 'k1', '{"v":"1"}', 2, '2025-05-01T10:04:00Z'),
        ('2025-05-01T10:05:00Z', 'k1', '{"v":"2"}', 3, '2025-05-01T10:06:00Z'),
        ('2025-05-01T10:10:00Z', 'k1', NULL, 4, '2025-05-01T10:14:00Z'),
        ('2025-05-01T10:20:00Z', 'k2', '{"v":"9"}', 5, '2025-05-01T10:21:00Z'),
        ('2025-05-01T10:30:00Z', 'k1', '{"v":"3"}', 6, '2025-05-01T10:33:00Z')) AS x(b, k, l, n, lb)`);
    await ds.query(`UPDATE rollup_resolutions SET closed_through = '2025-05-01T10:40:00Z' WHERE resolution = '5m'`);
    await ds.query(`UPDATE rollup_resolutions SET closed_through = '2025-05-01T10:00:00Z' WHERE resolution = 'hour'`);
    await ds.runMigrations({ transaction: 'each' });
    expect(
      await ds.query(
        `SELECT to_char(bucket AT TIME ZONE 'UTC', 'HH24:MI') AS unit, edge_key, count::int AS count, src_labels,
            to_char(first_seen AT TIME ZONE 'UTC', 'HH24:MI:SS') AS first_seen,
            to_char(last_seen AT TIME ZONE 'UTC', 'HH24:MI:SS') AS last_seen,
            to_char(last_bucket AT TIME ZONE 'UTC', 'HH24:MI') AS last_bucket
          FROM edge_rollups_15m ORDER BY 1, 2`,
      ),
    ).toEqual([
      {
        unit: '10:00',
        edge_key: 'k1',
        count: 9,
        src_labels: { v: '2' },
        first_seen: '10:00:00',
        last_seen: '10:10:30',
        last_bucket: '10:14',
      },
      {
        unit: '10:15',
        edge_key: 'k2',
        count: 5,
        src_labels: { v: '9' },
        first_seen: '10:20:00',
        last_seen: '10:20:30',
        last_bucket: '10:21',
      },
    ]);
    expect(await ds.query(`SELECT resolution, closed_through FROM rollup_resolutions ORDER BY 1`)).toEqual([
      { resolution: '15m', closed_through: new Date('2025-05-01T10:30:00Z') },
      { resolution: '4h', closed_through: null },
      { resolution: '5m', closed_through: new Date('2025-05-01T10:40:00Z') },
      { resolution: 'day', closed_through: null },
      { resolution: 'hour', closed_through: new Date('2025-05-01T10:00:00Z') },
    ]);
    // The day's 15-minute partition, named like the 5-minute rows' (retention drops both by name).
    expect(
      await ds.query(`SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'edge_rollups_15m_p20250501'`),
    ).toEqual([{ n: 1 }]);
    await ds.undoLastMigration({ transaction: 'each' }); // DropRowFiveMinuteIndexes (applied again above)
    await ds.undoLastMigration({ transaction: 'each' }); // RollupGenerations (applied again above)
    await ds.undoLastMigration({ transaction: 'each' }); // EdgeIds (applied again above)
    await ds.undoLastMigration({ transaction: 'each' }); // DropRowMinuteIndexes (applied again above)
    await ds.undoLastMigration({ transaction: 'each' }); // FifteenMinuteRollups
    await ds.query(`DROP TABLE edge_rollups_5m_p20250501`);
    await ds.query(`UPDATE rollup_resolutions SET closed_through = NULL`);

    // FourHourRollups sums the hour rows an install already has into 4-hour units, through the last
    // whole unit before the hour mark (09:00: units 00:00 and 04:00; the 08:00 hour waits for the closer).
    await ds.undoLastMigration({ transaction: 'each' }); // FourHourRollups
    expect(await tables()).not.toContain('edge_rollups_4h');
    await ds.query(
      `CREATE TABLE edge_rollups_hourly_p20250501 PARTITION OF edge_rollups_hourly FOR VALUES FROM ('2025-05-01') TO ('2025-05-02')`,
    );
    await ds.query(`INSERT INTO edge_rollups_hourly (bucket, edge_key, cluster, src_kind, dst_kind, protocol, verdict,
        direction, source, src_labels, count, first_seen, last_seen, last_bucket)
      SELECT b::timestamptz, k, 'c', 'pod', 'pod', 'TCP', 'denied', 'ingress', 'hubble', l::jsonb, n, b::timestamptz,
        b::timestamptz + interval '30 seconds', b::timestamptz + interval '59 minutes'
      FROM (VALUES ('2025-05-01T03:00:00Z', 'k1', '{"v":"1"}', 2), ('2025-05-01T04:00:00Z', 'k1', '{"v":"2"}', 3),
        ('2025-05-01T07:00:00Z', 'k1', '{"v":"3"}', 4), ('2025-05-01T07:00:00Z', 'k2', NULL, 5),
        ('2025-05-01T08:00:00Z', 'k1', '{"v":"4"}', 6)) AS x(b, k, l, n)`);
    await ds.query(`UPDATE rollup_resolutions SET closed_through = '2025-05-01T09:00:00Z' WHERE resolution = 'hour'`);
    await ds.runMigrations({ transaction: 'each' });
    expect(
      await ds.query(
        `SELECT to_char(bucket AT TIME ZONE 'UTC', 'HH24:MI') AS unit, edge_key, count::int AS count, src_labels,
            to_char(first_seen AT TIME ZONE 'UTC', 'HH24:MI:SS') AS first_seen,
            to_char(last_bucket AT TIME ZONE 'UTC', 'HH24:MI') AS last_bucket
          FROM edge_rollups_4h ORDER BY 1, 2`,
      ),
    ).toEqual([
      { unit: '00:00', edge_key: 'k1', count: 2, src_labels: { v: '1' }, first_seen: '03:00:00', last_bucket: '03:59' },
      { unit: '04:00', edge_key: 'k1', count: 7, src_labels: { v: '3' }, first_seen: '04:00:00', last_bucket: '07:59' },
      { unit: '04:00', edge_key: 'k2', count: 5, src_labels: null, first_seen: '07:00:00', last_bucket: '07:59' },
    ]);
    expect(await ds.query(`SELECT closed_through FROM rollup_resolutions WHERE resolution = '4h'`)).toEqual([
      { closed_through: new Date('2025-05-01T08:00:00Z') },
    ]);
    await ds.undoLastMigration({ transaction: 'each' }); // DropRowFiveMinuteIndexes (applied again above)
    await ds.undoLastMigration({ transaction: 'each' }); // RollupGenerations (applied again above)
    await ds.undoLastMigration({ transaction: 'each' }); // EdgeIds (applied again above)
    await ds.undoLastMigration({ transaction: 'each' }); // DropRowMinuteIndexes (applied again above)
    await ds.undoLastMigration({ transaction: 'each' }); // FifteenMinuteRollups (applied again above)
    await ds.undoLastMigration({ transaction: 'each' }); // FourHourRollups
    await ds.query(`DROP TABLE edge_rollups_hourly_p20250501`);
    await ds.query(`UPDATE rollup_resolutions SET closed_through = NULL WHERE resolution = 'hour'`);
    // HourlyTotals sums the hour rows an install already has into the totals, per hour, cluster and verdict.
    await ds.undoLastMigration({ transaction: 'each' }); // HourlyTotals
    expect(await tables()).not.toContain('rollup_totals_hourly');
    await ds.query(
      `CREATE TABLE edge_rollups_hourly_p20250501 PARTITION OF edge_rollups_hourly FOR VALUES FROM ('2025-05-01') TO ('2025-05-02')`,
    );
    await ds.query(`INSERT INTO edge_rollups_hourly (bucket, edge_key, cluster, src_kind, dst_kind, protocol, verdict,
        direction, source, count, first_seen, last_seen, last_bucket)
      SELECT b::timestamptz, k, c, 'pod', 'pod', 'TCP', v, 'ingress', 'hubble', n, now(), now(), b::timestamptz
      FROM (VALUES ('2025-05-01T10:00:00Z', 'k1', 'c', 'denied', 2), ('2025-05-01T10:00:00Z', 'k2', 'c', 'denied', 3),
        ('2025-05-01T10:00:00Z', 'k3', 'c', 'allowed', 4), ('2025-05-01T11:00:00Z', 'k1', 'c', 'denied', 5),
        ('2025-05-01T11:00:00Z', 'k4', 'c2', 'denied', 6)) AS x(b, k, c, v, n)`);
    await ds.runMigrations({ transaction: 'each' });
    expect(
      await ds.query(
        `SELECT to_char(bucket AT TIME ZONE 'UTC', 'HH24:MI') AS hour, cluster, verdict, count::int AS count
          FROM rollup_totals_hourly ORDER BY 1, 2, 3`,
      ),
    ).toEqual([
      { hour: '10:00', cluster: 'c', verdict: 'allowed', count: 4 },
      { hour: '10:00', cluster: 'c', verdict: 'denied', count: 5 },
      { hour: '11:00', cluster: 'c', verdict: 'denied', count: 5 },
      { hour: '11:00', cluster: 'c2', verdict: 'denied', count: 6 },
    ]);
    // The day's totals partition, named like the hour rows' (retention drops both by name).
    expect(
      await ds.query(`SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'rollup_totals_hourly_p20250501'`),
    ).toEqual([{ n: 1 }]);
    await ds.undoLastMigration({ transaction: 'each' }); // DropRowFiveMinuteIndexes (applied again above)
    await ds.undoLastMigration({ transaction: 'each' }); // RollupGenerations (applied again above)
    await ds.undoLastMigration({ transaction: 'each' }); // EdgeIds (applied again above)
    await ds.undoLastMigration({ transaction: 'each' }); // DropRowMinuteIndexes (applied again above)
    await ds.undoLastMigration({ transaction: 'each' }); // FifteenMinuteRollups (applied again above)
    await ds.undoLastMigration({ transaction: 'each' }); // FourHourRollups (applied again above)
    await ds.undoLastMigration({ transaction: 'each' }); // HourlyTotals
    await ds.query(`DROP TABLE edge_rollups_hourly_p20250501`);

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
    await ds.undoLastMigration({ transaction: 'each' }); // DropRowFiveMinuteIndexes (applied again above)
    await ds.undoLastMigration({ transaction: 'each' }); // RollupGenerations (applied again above)
    await ds.undoLastMigration({ transaction: 'each' }); // EdgeIds (applied again above)
    await ds.undoLastMigration({ transaction: 'each' }); // DropRowMinuteIndexes (applied again above)
    await ds.undoLastMigration({ transaction: 'each' }); // FifteenMinuteRollups
    await ds.undoLastMigration({ transaction: 'each' }); // FourHourRollups
    await ds.undoLastMigration({ transaction: 'each' }); // HourlyTotals
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
