import type { MigrationInterface, QueryRunner } from 'typeorm';
import { INDEXES } from './1764300000000-HourlyRollups.js';

/** The short units' tables: written most often of the coarse ones, read only at a window's ends. */
const TABLES = ['edge_rollups_5m', 'edge_rollups_15m'] as const;

/**
 * The 5-minute and 15-minute tables' filter indexes (verdict, namespaces and workloads, each with
 * `bucket`) cover only rows that are not `allowed`, as the minute table's do
 * (1764800000000-DropRowMinuteIndexes.ts). Each close of a unit inserts every edge of it into
 * five of them, and allowed rows are most of them (75 % of the import bench's dense sample).
 * Readers that filter these tables by namespace, workload or verdict over more than a window's
 * ends are the `/drops` summaries and series (a 5m or 15m step), which only ask for drop verdicts
 * and so use the partial indexes; the edge list, which also reads allowed rows, reads at most two
 * 5-minute and three 15-minute units at each end of a window, by time.
 * Measured in docs/PERFORMANCE.md: the dense import's 5-minute close (150,343 rows) 1.6–2.0 s
 * instead of 2.4–3.5 s. The hourly, 4-hour and daily tables keep their full indexes: long
 * windows read them by namespace or workload, allowed rows included.
 */
export class DropRowFiveMinuteIndexes1765100000000 implements MigrationInterface {
  name = 'DropRowFiveMinuteIndexes1765100000000';

  async up(q: QueryRunner): Promise<void> {
    for (const table of TABLES)
      for (const [name, cols] of INDEXES) {
        await q.query(`DROP INDEX IF EXISTS ${table}_${name}`);
        await q.query(`CREATE INDEX ${table}_${name} ON ${table} ${cols} WHERE verdict <> 'allowed'`);
      }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of TABLES)
      for (const [name, cols] of INDEXES) {
        await q.query(`DROP INDEX IF EXISTS ${table}_${name}`);
        await q.query(`CREATE INDEX ${table}_${name} ON ${table} ${cols}`);
      }
  }
}
