import type { MigrationInterface, QueryRunner } from 'typeorm';
import { INDEXES } from './1764300000000-HourlyRollups.js';
import { partitionsLikeHourly } from './1764500000000-HourlyTotals.js';

/**
 * A 4-hour roll-up resolution between the hours and the days (docs/ARCHITECTURE.md "Hourly and
 * daily roll-ups"): `edge_rollups_4h` holds one row per 4-hour unit (00/04/08/12/16/20 UTC) and
 * edge key, summed from the hour rows of closed units by src/storage/rollup-closer.ts; the days
 * are summed from it. A 24-hour window then reads at most 3 hour rows per edge at each end and a
 * few 4-hour rows instead of up to 23 hour rows. Same columns, partitions and read indexes as the
 * hourly table.
 *
 * Existing installs: filled here from the hour rows already stored, under the lock the closer and
 * the writers take (no unit closes and no late minute arrives meanwhile), through the last whole
 * 4-hour unit before the hour mark, and its mark set there; the closer goes on from it. The days
 * already closed were summed from the same hour rows. One INSERT ... SELECT over the hour rows
 * before that mark, so its time grows with the stored hours (HOURLY_ROLLUP_RETENTION_DAYS).
 */
const TABLE = 'edge_rollups_4h';

/** Columns every row of an edge key shares (min() picks the one value). */
const KEY = `cluster, src_kind, src_namespace, src_workload, dst_kind, dst_namespace, dst_workload, dst_port,
  protocol, verdict, direction, drop_reason, attribution_level, policies, source`;

const FOUR_HOURS_MS = 14_400_000;

export class FourHourRollups1764600000000 implements MigrationInterface {
  name = 'FourHourRollups1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`LOCK TABLE rollup_resolutions IN EXCLUSIVE MODE`);
    await q.query(`
      CREATE TABLE ${TABLE} (
        LIKE edge_rollups_hourly INCLUDING DEFAULTS,
        PRIMARY KEY (bucket, edge_key)
      ) PARTITION BY RANGE (bucket)`);
    for (const [name, cols] of INDEXES) await q.query(`CREATE INDEX ${TABLE}_${name} ON ${TABLE} ${cols}`);
    await q.query(`CREATE INDEX ${TABLE}_policies ON ${TABLE} USING gin (policies) WHERE policies <> '{}'`);
    await partitionsLikeHourly(q, TABLE);
    const [{ hour }] = (await q.query(
      `SELECT closed_through AS hour FROM rollup_resolutions WHERE resolution = 'hour'`,
    )) as Array<{ hour: Date | null }>;
    const mark =
      hour === null ? null : new Date(Math.floor(hour.getTime() / FOUR_HOURS_MS) * FOUR_HOURS_MS).toISOString();
    if (mark !== null)
      await q.query(
        `INSERT INTO ${TABLE} (bucket, edge_key, ${KEY}, src_labels, dst_labels, count, packets, bytes, first_seen,
          last_seen, last_bucket)
        SELECT date_bin('4 hours', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00'), edge_key,
          ${KEY.split(',')
            .map((c) => `min(${c.trim()})`)
            .join(', ')},
          (array_agg(src_labels ORDER BY last_bucket DESC) FILTER (WHERE src_labels IS NOT NULL))[1],
          (array_agg(dst_labels ORDER BY last_bucket DESC) FILTER (WHERE dst_labels IS NOT NULL))[1],
          sum(count), sum(packets), sum(bytes), min(first_seen), max(last_seen), max(last_bucket)
        FROM edge_rollups_hourly WHERE bucket < $1::timestamptz
        GROUP BY 1, 2`,
        [mark],
      );
    await q.query(`INSERT INTO rollup_resolutions (resolution, closed_through) VALUES ('4h', $1::timestamptz)`, [mark]);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM rollup_resolutions WHERE resolution = '4h'`);
    await q.query(`DROP TABLE ${TABLE}`);
  }
}
