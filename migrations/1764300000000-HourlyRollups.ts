import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The hourly roll-up resolution (docs/ARCHITECTURE.md "Hourly roll-ups"): `edge_rollups_hourly`
 * holds one row per hour and edge key, built from the minute rows of closed hours
 * (src/storage/hourly-rollup.closer.ts), partitioned by day like the minutes, with the same read
 * indexes. `last_bucket` is the latest minute the row sums, so the edge list can take an edge's
 * labels from its last minute exactly as a minute-only query does.
 *
 * `rollup_resolutions` holds, per coarser resolution, `closed_through`: every minute before it is
 * in that resolution's table (added by the closer, or by the minute writer for late minutes), none
 * after it. Writers read it FOR SHARE, the closer locks the table EXCLUSIVE, so a minute is counted
 * exactly once.
 */
export class HourlyRollups1764300000000 implements MigrationInterface {
  name = 'HourlyRollups1764300000000';

  async up(q: QueryRunner): Promise<void> {
    // The minute table's columns (as this migration finds them), plus the latest minute summed.
    await q.query(`
      CREATE TABLE edge_rollups_hourly (
        LIKE edge_rollups INCLUDING DEFAULTS,
        last_bucket timestamptz NOT NULL,
        PRIMARY KEY (bucket, edge_key)
      ) PARTITION BY RANGE (bucket)`);
    const indexes: Array<[string, string]> = [
      ['verdict_bucket', '(verdict, bucket)'],
      ['dst_ns_bucket', '(dst_namespace, bucket)'],
      ['src_ns_bucket', '(src_namespace, bucket)'],
      ['src_workload_bucket', '(src_workload, bucket)'],
      ['dst_workload_bucket', '(dst_workload, bucket)'],
    ];
    for (const [name, cols] of indexes)
      await q.query(`CREATE INDEX edge_rollups_hourly_${name} ON edge_rollups_hourly ${cols}`);
    await q.query(
      `CREATE INDEX edge_rollups_hourly_policies ON edge_rollups_hourly USING gin (policies) WHERE policies <> '{}'`,
    );
    await q.query(`
      CREATE TABLE rollup_resolutions (
        resolution text PRIMARY KEY,
        closed_through timestamptz
      )`);
    await q.query(`INSERT INTO rollup_resolutions (resolution, closed_through) VALUES ('hour', NULL)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE rollup_resolutions`);
    await q.query(`DROP TABLE edge_rollups_hourly`);
  }
}
