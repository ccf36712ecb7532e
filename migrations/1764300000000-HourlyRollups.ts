import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Coarser roll-up resolutions (docs/ARCHITECTURE.md "Hourly and daily roll-ups"):
 * `edge_rollups_hourly` and `edge_rollups_daily` hold one row per hour (day) and edge key, summed
 * from the minute (hour) rows of closed units by src/storage/rollup-closer.ts, partitioned by day
 * like the minutes, with the same read indexes. `last_bucket` is the latest minute a row sums, so
 * the edge list can take an edge's labels from its last minute exactly as a minute-only query does.
 *
 * `rollup_resolutions` holds, per resolution, `closed_through`: every minute before it is in that
 * resolution's table (added by the closer, or by the minute writer for late minutes), none after
 * it. Writers read it FOR SHARE, the closer locks the table EXCLUSIVE, so a minute is counted
 * exactly once.
 */
const TABLES = ['edge_rollups_hourly', 'edge_rollups_daily'] as const;

/** The minute table's read indexes (the policies GIN index is added separately; 4-hour rows reuse them). */
export const INDEXES: Array<[string, string]> = [
  ['verdict_bucket', '(verdict, bucket)'],
  ['dst_ns_bucket', '(dst_namespace, bucket)'],
  ['src_ns_bucket', '(src_namespace, bucket)'],
  ['src_workload_bucket', '(src_workload, bucket)'],
  ['dst_workload_bucket', '(dst_workload, bucket)'],
];

export class HourlyRollups1764300000000 implements MigrationInterface {
  name = 'HourlyRollups1764300000000';

  async up(q: QueryRunner): Promise<void> {
    for (const table of TABLES) {
      // The minute table's columns (as this migration finds them), plus the latest minute summed.
      await q.query(`
        CREATE TABLE ${table} (
          LIKE edge_rollups INCLUDING DEFAULTS,
          last_bucket timestamptz NOT NULL,
          PRIMARY KEY (bucket, edge_key)
        ) PARTITION BY RANGE (bucket)`);
      for (const [name, cols] of INDEXES) await q.query(`CREATE INDEX ${table}_${name} ON ${table} ${cols}`);
      await q.query(`CREATE INDEX ${table}_policies ON ${table} USING gin (policies) WHERE policies <> '{}'`);
    }
    await q.query(`
      CREATE TABLE rollup_resolutions (
        resolution text PRIMARY KEY,
        closed_through timestamptz
      )`);
    await q.query(`INSERT INTO rollup_resolutions (resolution, closed_through) VALUES ('hour', NULL), ('day', NULL)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE rollup_resolutions`);
    for (const table of [...TABLES].reverse()) await q.query(`DROP TABLE ${table}`);
  }
}
