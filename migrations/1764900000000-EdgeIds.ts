import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Every roll-up table: the minutes and each coarser resolution. */
const TABLES = [
  'edge_rollups',
  'edge_rollups_5m',
  'edge_rollups_15m',
  'edge_rollups_hourly',
  'edge_rollups_4h',
  'edge_rollups_daily',
] as const;

/**
 * `edge_id uuid` on every roll-up row: the MD5 of the ten columns the edge list groups by
 * (src/aggregator/edge-id.ts). Grouping a day's rows by one 16-byte value instead of ten text
 * columns takes about a third off the list's query (docs/PERFORMANCE.md). Writers and the closer
 * fill it from now on. Rows already stored keep NULL, so the upgrade rewrites nothing (a nullable
 * column without a default is only a catalog change); readers and the closer compute the same id
 * for them (EDGE_ID_SQL in src/storage/rollup-closer.ts) until retention drops them. Both are
 * the MD5 of the same UTF-8 text in a UTF-8 database, and of ASCII names (Kubernetes names are)
 * in any other.
 */
export class EdgeIds1764900000000 implements MigrationInterface {
  name = 'EdgeIds1764900000000';

  async up(q: QueryRunner): Promise<void> {
    for (const t of TABLES) await q.query(`ALTER TABLE ${t} ADD COLUMN edge_id uuid`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of TABLES) await q.query(`ALTER TABLE ${t} DROP COLUMN edge_id`);
  }
}
