import type { MigrationInterface, QueryRunner } from 'typeorm';
import { INDEXES } from './1764300000000-HourlyRollups.js';
import { partitionsLike } from './1764500000000-HourlyTotals.js';

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

/** Columns every row of an edge key shares (min() picks the one value). */
const KEY = `cluster, src_kind, src_namespace, src_workload, dst_kind, dst_namespace, dst_workload, dst_port,
  protocol, verdict, direction, drop_reason, attribution_level, policies, source`;

/** A roll-up resolution added between two others, summed from the finer one's rows. */
export interface AddedResolution {
  /** rollup_resolutions.resolution */
  name: string;
  table: string;
  unitMs: number;
  /** For date_bin, from the closer's epoch-aligned origin. */
  interval: string;
  /** The finer resolution: its name, and its table (whose columns, partitions and rows the new one takes). */
  finer: string;
  source: string;
}

/**
 * Creates `r.table` like its source (partitioned, with the read indexes), fills it from the source
 * rows through the last whole unit before the finer mark and sets its mark there, under the marks'
 * lock (no unit closes and no late minute arrives meanwhile). The mark stays NULL when the finer
 * one is: the closer then sums the source rows from the start.
 */
export async function addResolution(q: QueryRunner, r: AddedResolution): Promise<void> {
  await q.query(`LOCK TABLE rollup_resolutions IN EXCLUSIVE MODE`);
  await q.query(`
    CREATE TABLE ${r.table} (
      LIKE ${r.source} INCLUDING DEFAULTS,
      PRIMARY KEY (bucket, edge_key)
    ) PARTITION BY RANGE (bucket)`);
  for (const [name, cols] of INDEXES) await q.query(`CREATE INDEX ${r.table}_${name} ON ${r.table} ${cols}`);
  await q.query(`CREATE INDEX ${r.table}_policies ON ${r.table} USING gin (policies) WHERE policies <> '{}'`);
  await partitionsLike(q, r.table, r.source);
  const [{ finer }] = (await q.query(`SELECT closed_through AS finer FROM rollup_resolutions WHERE resolution = $1`, [
    r.finer,
  ])) as Array<{ finer: Date | null }>;
  const mark = finer === null ? null : new Date(Math.floor(finer.getTime() / r.unitMs) * r.unitMs).toISOString();
  if (mark !== null)
    await q.query(
      `INSERT INTO ${r.table} (bucket, edge_key, ${KEY}, src_labels, dst_labels, count, packets, bytes, first_seen,
        last_seen, last_bucket)
      SELECT date_bin('${r.interval}', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00'), edge_key,
        ${KEY.split(',')
          .map((c) => `min(${c.trim()})`)
          .join(', ')},
        (array_agg(src_labels ORDER BY last_bucket DESC) FILTER (WHERE src_labels IS NOT NULL))[1],
        (array_agg(dst_labels ORDER BY last_bucket DESC) FILTER (WHERE dst_labels IS NOT NULL))[1],
        sum(count), sum(packets), sum(bytes), min(first_seen), max(last_seen), max(last_bucket)
      FROM ${r.source} WHERE bucket < $1::timestamptz
      GROUP BY 1, 2`,
      [mark],
    );
  await q.query(`INSERT INTO rollup_resolutions (resolution, closed_through) VALUES ($1, $2::timestamptz)`, [
    r.name,
    mark,
  ]);
}

/** addResolution's way back. */
export async function dropResolution(q: QueryRunner, r: AddedResolution): Promise<void> {
  await q.query(`DELETE FROM rollup_resolutions WHERE resolution = $1`, [r.name]);
  await q.query(`DROP TABLE ${r.table}`);
}

const FOUR_HOURS: AddedResolution = {
  name: '4h',
  table: 'edge_rollups_4h',
  unitMs: 14_400_000,
  interval: '4 hours',
  finer: 'hour',
  source: 'edge_rollups_hourly',
};

export class FourHourRollups1764600000000 implements MigrationInterface {
  name = 'FourHourRollups1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await addResolution(q, FOUR_HOURS);
  }

  async down(q: QueryRunner): Promise<void> {
    await dropResolution(q, FOUR_HOURS);
  }
}
