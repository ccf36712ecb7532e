import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `rollup_totals_hourly` (docs/ARCHITECTURE.md "Hourly totals"): per closed hour, cluster and
 * verdict, the sum of that hour's roll-up counts, without the edge columns. A time series whose
 * only filters are the verdicts and the cluster reads a few rows per hour from it instead of one
 * per edge (src/storage/rollup-stats.reader.ts). Kept by the closer and the writers' late-minute
 * path in the same transactions, under the same lock, as the hour rows (src/storage/rollup-closer.ts),
 * so it always equals the hour rows' sums. Partitioned by day like them, dropped by the same retention.
 *
 * Existing installs: filled here from the hour rows already stored, under the lock the closer and
 * the writers take, so no hour closes or gains a late minute while it is summed.
 */
const TABLE = 'rollup_totals_hourly';

/** One partition of `table` per day `like` has (its partitions' names end in _pYYYYMMDD). */
export async function partitionsLike(q: QueryRunner, table: string, like: string): Promise<void> {
  const days = (await q.query(
    `SELECT substring(c.relname FROM '_p([0-9]{8})$') AS day FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
      WHERE p.relname = $1 ORDER BY 1`,
    [like],
  )) as Array<{ day: string | null }>;
  for (const { day } of days) {
    if (day === null) continue;
    const from = Date.UTC(Number(day.slice(0, 4)), Number(day.slice(4, 6)) - 1, Number(day.slice(6, 8)));
    const iso = (ms: number) => new Date(ms).toISOString();
    await q.query(
      `CREATE TABLE ${table}_p${day} PARTITION OF ${table} FOR VALUES FROM ('${iso(from)}') TO ('${iso(from + 86_400_000)}')`,
    );
  }
}

export class HourlyTotals1764500000000 implements MigrationInterface {
  name = 'HourlyTotals1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`LOCK TABLE rollup_resolutions IN EXCLUSIVE MODE`);
    await q.query(`
      CREATE TABLE ${TABLE} (
        bucket timestamptz NOT NULL,
        cluster text NOT NULL,
        verdict text NOT NULL,
        count bigint NOT NULL,
        PRIMARY KEY (bucket, cluster, verdict)
      ) PARTITION BY RANGE (bucket)`);
    await partitionsLike(q, TABLE, 'edge_rollups_hourly');
    await q.query(`
      INSERT INTO ${TABLE} (bucket, cluster, verdict, count)
      SELECT bucket, cluster, verdict, sum(count) FROM edge_rollups_hourly GROUP BY 1, 2, 3`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE ${TABLE}`);
  }
}
