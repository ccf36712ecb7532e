import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What readers need to know whether roll-up rows they read before are unchanged (the edge list's
 * cache, src/storage/edge-unit-cache.ts).
 *
 * `rollup_minute_writes`: per open minute and writer, how many batches wrote rows of that minute.
 * Each writer bumps only its own rows, so writers never wait on each other; the closer deletes a
 * minute's rows when its 5-minute unit closes.
 *
 * `rollup_generations`: per UTC hour, how many batches changed roll-up rows of that hour after
 * its 5-minute unit had closed (late minutes: an import of old flows, a lagging collector). Rows
 * before the 5-minute mark change only that way, so an hour whose generation is unchanged still
 * holds the rows a reader saw before: the edge list's cache of units (edge-unit-cache.ts)
 * checks it instead of reading the rows again. Hours that never took late minutes have no row.
 */
export class RollupGenerations1765000000000 implements MigrationInterface {
  name = 'RollupGenerations1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE rollup_generations (hour timestamptz PRIMARY KEY, generation bigint NOT NULL)`);
    await q.query(
      `CREATE TABLE rollup_minute_writes (minute timestamptz NOT NULL, writer uuid NOT NULL, generation bigint NOT NULL,
         PRIMARY KEY (minute, writer))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE rollup_minute_writes`);
    await q.query(`DROP TABLE rollup_generations`);
  }
}
