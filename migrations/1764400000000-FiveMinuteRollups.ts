import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A 5-minute roll-up resolution between the minutes and the hours (docs/ARCHITECTURE.md "Hourly
 * and daily roll-ups"): `edge_rollups_5m` holds one row per 5 minutes and edge key, summed from the
 * minute rows of closed units by src/storage/rollup-closer.ts, the hours are summed from it. A
 * window's ragged ends then read at most a few minutes and a few 5-minute rows per edge instead of
 * up to an hour and a quarter of minutes, and a time series with a 5-minute or 15-minute step reads
 * 5-minute rows. Same columns, partitions and read indexes as the hourly table.
 *
 * Its mark starts NULL: the closer sums every minute still stored into 5-minute units in time order
 * (the hourly mark waits for it), and until then readers take those times from the minutes.
 */
const TABLE = 'edge_rollups_5m';

/** The hourly table's read indexes (1764300000000-HourlyRollups.ts). */
const INDEXES: Array<[string, string]> = [
  ['verdict_bucket', '(verdict, bucket)'],
  ['dst_ns_bucket', '(dst_namespace, bucket)'],
  ['src_ns_bucket', '(src_namespace, bucket)'],
  ['src_workload_bucket', '(src_workload, bucket)'],
  ['dst_workload_bucket', '(dst_workload, bucket)'],
];

export class FiveMinuteRollups1764400000000 implements MigrationInterface {
  name = 'FiveMinuteRollups1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE ${TABLE} (
        LIKE edge_rollups INCLUDING DEFAULTS,
        last_bucket timestamptz NOT NULL,
        PRIMARY KEY (bucket, edge_key)
      ) PARTITION BY RANGE (bucket)`);
    for (const [name, cols] of INDEXES) await q.query(`CREATE INDEX ${TABLE}_${name} ON ${TABLE} ${cols}`);
    await q.query(`CREATE INDEX ${TABLE}_policies ON ${TABLE} USING gin (policies) WHERE policies <> '{}'`);
    await q.query(`INSERT INTO rollup_resolutions (resolution, closed_through) VALUES ('5m', NULL)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM rollup_resolutions WHERE resolution = '5m'`);
    await q.query(`DROP TABLE ${TABLE}`);
  }
}
