import type { MigrationInterface, QueryRunner } from 'typeorm';
import { addResolution, dropResolution, type AddedResolution } from './1764600000000-FourHourRollups.js';

/**
 * A 15-minute roll-up resolution between the 5-minute units and the hours (docs/ARCHITECTURE.md
 * "Hourly and daily roll-ups"): `edge_rollups_15m` holds one row per 15-minute unit (:00/:15/:30/:45
 * UTC) and edge key, summed from the 5-minute rows of closed units by src/storage/rollup-closer.ts;
 * the hours are summed from it. A window's ends then read at most 2 5-minute rows per edge and a
 * few 15-minute rows instead of up to 11 (start) or 14 (end) 5-minute rows. Same columns,
 * partitions and read indexes as the 5-minute table.
 *
 * Existing installs: filled here from the 5-minute rows already stored, under the lock the closer
 * and the writers take (no unit closes and no late minute arrives meanwhile), through the last
 * whole 15-minute unit before the 5-minute mark, and its mark set there; the closer goes on from
 * it. The hours already closed were summed from the same 5-minute rows (the hour mark is a whole
 * hour at or before the 5-minute mark, so at or before this one). One INSERT ... SELECT over the
 * 5-minute rows before that mark, so its time grows with the stored 5-minute rows (RETENTION_DAYS).
 */
const FIFTEEN_MINUTES: AddedResolution = {
  name: '15m',
  table: 'edge_rollups_15m',
  unitMs: 900_000,
  interval: '15 minutes',
  finer: '5m',
  source: 'edge_rollups_5m',
};

export class FifteenMinuteRollups1764700000000 implements MigrationInterface {
  name = 'FifteenMinuteRollups1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await addResolution(q, FIFTEEN_MINUTES);
  }

  async down(q: QueryRunner): Promise<void> {
    await dropResolution(q, FIFTEEN_MINUTES);
  }
}
