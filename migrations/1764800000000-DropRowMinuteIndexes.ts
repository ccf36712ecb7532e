import type { MigrationInterface, QueryRunner } from 'typeorm';
import { INDEXES } from './1764300000000-HourlyRollups.js';

/**
 * The minute table's filter indexes (verdict, namespaces and workloads, each with `bucket`) cover
 * only rows that are not `allowed`. Every row written paid for all five, and allowed rows are
 * most of them (75 % of the minute rows of the import bench's dense sample), while the readers
 * that need these indexes on minute rows are the `/drops` summaries and series, which only ever
 * ask for drop verdicts (a verdict list that implies the predicate, so PostgreSQL uses the
 * partial indexes).
 * Measured in docs/PERFORMANCE.md: COPY of real minute rows about 30 % cheaper, the drop reads
 * faster (smaller indexes holding only what they read), and a namespace-filtered edge list, which
 * also reads allowed rows, ~45 ms slower (it reads a window's ragged minutes by time instead).
 * The coarser tables keep their full indexes: long windows read them.
 *
 * Built on the partitioned parent, so every partition (existing and future) gets them; on a large
 * minute table the upgrade spends the time of building five indexes over the drop rows. The
 * five are HourlyRollups' INDEXES, the minute table's read indexes by their suffixes.
 */
export class DropRowMinuteIndexes1764800000000 implements MigrationInterface {
  name = 'DropRowMinuteIndexes1764800000000';

  async up(q: QueryRunner): Promise<void> {
    for (const [name, cols] of INDEXES) {
      await q.query(`DROP INDEX IF EXISTS edge_rollups_${name}`);
      await q.query(`CREATE INDEX edge_rollups_${name} ON edge_rollups ${cols} WHERE verdict <> 'allowed'`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const [name, cols] of INDEXES) {
      await q.query(`DROP INDEX IF EXISTS edge_rollups_${name}`);
      await q.query(`CREATE INDEX edge_rollups_${name} ON edge_rollups ${cols}`);
    }
  }
}
