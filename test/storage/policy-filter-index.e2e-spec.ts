/**
 * The policy filter is served by the `policies` GIN indexes of the drop events and of every
 * roll-up table. Those indexes are partial (WHERE policies <> '{}'), and PostgreSQL plans with a
 * partial index only when the query's conditions imply its predicate; it does not infer "not
 * empty" from `policies @> ARRAY[...]`, so without the filter saying so a policy filter read the
 * whole window (386 ms for a 24-hour summary of 360,000 minute rows in `npm run bench`,
 * 2026-11-30). Each table gets a day of 20,000 analyzed rows in which the filtered policy is on
 * 1 % of them: the index is then the cheapest plan, if the planner may use it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { silentLogger } from '../../src/common/logger.js';
import { PartitionManager } from '../../src/storage/partition.manager.js';
import type { DropFilters } from '../../src/storage/readers.js';
import { RESOLUTIONS } from '../../src/storage/rollup-closer.js';
import { EVENTS, ROLLUPS, SqlParams, filterClause, timeRange, whereClause } from '../../src/storage/sql-filters.js';
import { startRollupDatabase, type RollupDatabase } from '../support/rollup-database.js';

const DAY = Date.parse('2025-03-01T00:00:00Z');
const FILTERS: DropFilters = {
  from: DAY,
  to: DAY + 86_400_000,
  verdict: ['allowed', 'denied', 'dropped', 'audit', 'other'],
  policy: 'shop/deny-all',
};

/** The minute roll-ups and every coarser resolution's table. */
const ROLLUP_TABLES = ['edge_rollups', ...RESOLUTIONS.map((r) => r.table)];

/** 20,000 rows of the day: 1 in 100 names the filtered policy, 1 in 4 some other policy, the rest none. */
const ROWS = 'generate_series(0, 19999) AS i';
const POLICIES = `CASE WHEN i % 100 = 0 THEN ARRAY['shop/deny-all'] WHEN i % 4 = 0 THEN ARRAY['other/p' || (i % 50)] ELSE '{}' END`;
const TIME = `$1::timestamptz + (i % 1440) * interval '1 minute'`;

async function fillRollups(ds: DataSource, table: string): Promise<void> {
  const coarse = table !== 'edge_rollups';
  await ds.query(
    `INSERT INTO ${table} (bucket, edge_key, cluster, src_kind, dst_kind, protocol, verdict, direction, source, count,
       first_seen, last_seen, policies${coarse ? ', last_bucket' : ''})
     SELECT ${TIME}, 'e' || i, 'c', 'pod', 'pod', 'TCP', CASE WHEN i % 4 = 0 THEN 'denied' ELSE 'allowed' END, 'ingress',
       'hubble', 1, ${TIME}, ${TIME}, ${POLICIES}${coarse ? `, ${TIME}` : ''}
     FROM ${ROWS}`,
    [new Date(DAY).toISOString()],
  );
  await ds.query(`ANALYZE ${table}`);
}

async function fillEvents(ds: DataSource): Promise<void> {
  await ds.query(
    `INSERT INTO drop_events (flow_id, time, source, cluster, verdict, direction, src_kind, dst_kind, protocol, count,
       attribution_level, record, policies)
     SELECT 'f' || i, ${TIME}, 'hubble', 'c', 'denied', 'ingress', 'pod', 'pod', 'TCP', 1, 'inferred', '{}', ${POLICIES}
     FROM ${ROWS}`,
    [new Date(DAY).toISOString()],
  );
  await ds.query('ANALYZE drop_events');
}

/** The plan of a count over `table` with `where`, as text. */
async function plan(ds: DataSource, table: string, where: string, values: unknown[]): Promise<string> {
  const rows = (await ds.query(`EXPLAIN SELECT count(*) FROM ${table} WHERE ${where}`, values)) as Array<{
    'QUERY PLAN': string;
  }>;
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

describe('policy filter and the partial policies indexes', () => {
  let db: RollupDatabase;

  beforeAll(async () => {
    db = await startRollupDatabase();
    await new PartitionManager(db.ds, silentLogger).ensure([DAY / 86_400_000]);
    for (const table of ROLLUP_TABLES) await fillRollups(db.ds, table);
    await fillEvents(db.ds);
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('drop events: the policy filter uses the policies index', async () => {
    const ps = new SqlParams();
    const text = await plan(db.ds, 'drop_events', whereClause(FILTERS, EVENTS, ps), ps.values);
    expect(text).toMatch(/Bitmap Index Scan on drop_events_\w*polic/);
    expect(text).not.toMatch(/Seq Scan/);
  });

  for (const table of ROLLUP_TABLES)
    it(`${table}: the policy filter uses the policies index`, async () => {
      const ps = new SqlParams();
      const where = `${timeRange('bucket', FILTERS.from, FILTERS.to, ps)} AND ${filterClause(FILTERS, ROLLUPS, ps)}`;
      const text = await plan(db.ds, table, where, ps.values);
      expect(text).toMatch(new RegExp(`Bitmap Index Scan on ${table}_\\w*polic`));
      expect(text).not.toMatch(/Seq Scan/);
    });

  it('the minute roll-ups: the same through whereClause (minute-aligned range)', async () => {
    const ps = new SqlParams();
    const text = await plan(db.ds, 'edge_rollups', whereClause(FILTERS, ROLLUPS, ps), ps.values);
    expect(text).toMatch(/Bitmap Index Scan on edge_rollups_\w*polic/);
  });
});
