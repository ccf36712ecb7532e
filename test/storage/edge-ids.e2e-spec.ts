/**
 * Edge ids over real PostgreSQL (src/aggregator/edge-id.ts): the writer stores PostgreSQL's own
 * MD5 of the ten list columns, the closer carries it into every coarser row, rows stored before
 * the column existed (NULL) still group with new rows of their edge, and an edge whose last minute
 * is gone takes its columns from the coarser rows. Expected values are written by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import type { FlowEndpoint, FlowRecord } from '../../src/flow/flow-record.js';
import { PostgresEdgeReader } from '../../src/storage/edge.reader.js';
import type { RollupCloser } from '../../src/storage/rollup-closer.js';
import { DB_PG, SHOP_WEB, rollupFlow, startRollupDatabase, type RollupDatabase } from '../support/rollup-database.js';

const T0 = Date.parse('2025-03-01T10:00:00Z');
const ALL = ['allowed', 'denied', 'dropped', 'audit'];
const WEB: FlowEndpoint = { ...SHOP_WEB, labels: { app: 'web' } };

/** A flow `minute` minutes after T0 (at second 5): shop/web (labelled) to db/pg:5432, denied, unless told otherwise. */
const flow = (minute: number, count: number, over: Partial<FlowRecord> = {}): FlowRecord =>
  rollupFlow(T0, minute, count, { src: WEB, ...over });

/** PostgreSQL's MD5 of a row's ten list columns, as the migration's comment defines the id. */
const PG_MD5 = `md5(concat_ws(chr(31), cluster, src_kind, src_namespace, src_workload, dst_kind, dst_namespace,
  dst_workload, dst_port::text, protocol, verdict))::uuid::text`;

const ROLLUP_TABLES = [
  'edge_rollups',
  'edge_rollups_5m',
  'edge_rollups_15m',
  'edge_rollups_hourly',
  'edge_rollups_4h',
  'edge_rollups_daily',
];

describe('edge ids', () => {
  let db: RollupDatabase;
  let ds: DataSource;
  let closer: RollupCloser;
  let edges: PostgresEdgeReader;
  let write: RollupDatabase['write'];

  const empty = async () => {
    await ds.query(`TRUNCATE ${ROLLUP_TABLES.join(', ')}, rollup_totals_hourly`);
    await ds.query(`UPDATE rollup_resolutions SET closed_through = NULL`);
  };

  beforeAll(async () => {
    db = await startRollupDatabase();
    ({ ds, closer, write } = db);
    edges = new PostgresEdgeReader(ds);
  });
  afterAll(async () => {
    await db.drop();
  });

  it("stores PostgreSQL's MD5 of the ten columns on minute rows, and the closer carries it to every resolution", async () => {
    await empty();
    const world: FlowEndpoint = { kind: 'world', ip: '203.0.113.7' };
    const cafe: FlowEndpoint = { kind: 'pod', namespace: 'café', workload: { kind: 'Deployment', name: 'köln' } };
    await write([
      flow(1, 2),
      flow(2, 3, { verdict: 'allowed' }),
      flow(3, 1, { src: world, dst: cafe, protocol: 'ICMPv4', dstPort: undefined, icmpType: 0, verdict: 'dropped' }),
      // 23:59: the day's last 15-minute unit, so every coarser unit of the day can close.
      flow(839, 1),
    ]);
    // Both ids worked out by hand (`printf ... | md5sum`, as in src/aggregator/edge-id.spec.ts).
    const minute = (await ds.query(
      `SELECT verdict, edge_id::text AS id, ${PG_MD5} AS md5 FROM edge_rollups ORDER BY verdict, bucket`,
    )) as Array<{ verdict: string; id: string; md5: string }>;
    expect(minute.map((r) => [r.verdict, r.id])).toEqual([
      ['allowed', minute[0].md5],
      ['denied', 'b12216c2-2b74-47b8-243a-1e8ba008e7d9'],
      ['denied', 'b12216c2-2b74-47b8-243a-1e8ba008e7d9'],
      ['dropped', 'c3d47c79-faf3-4148-647e-d7eb7df1f420'],
    ]);
    expect(minute.every((r) => r.id === r.md5)).toBe(true);

    expect(await closer.closeThrough(Date.parse('2025-03-03T00:00:00Z'))).toEqual({
      '5m': 2,
      '15m': 2,
      hour: 2,
      '4h': 2,
      day: 1,
    });
    for (const table of ROLLUP_TABLES.slice(1)) {
      const coarse = (await ds.query(`SELECT edge_id::text AS id, ${PG_MD5} AS md5 FROM ${table}`)) as Array<{
        id: string;
        md5: string;
      }>;
      expect(new Set(coarse.map((r) => r.id))).toEqual(new Set(minute.map((r) => r.id)));
      expect(coarse.every((r) => r.id === r.md5)).toBe(true);
    }
  });

  it('groups rows stored before the column existed (NULL) with new rows of their edge, in the list and when closing', async () => {
    await empty();
    await write([flow(1, 2), flow(7, 3)]);
    // As an upgrade finds them: rows written by a version without edge ids.
    await ds.query(`UPDATE edge_rollups SET edge_id = NULL`);
    await write([flow(8, 4), flow(12, 5, { verdict: 'allowed' })]);
    expect(Number((await ds.query(`SELECT count(*) FROM edge_rollups WHERE edge_id IS NULL`))[0].count)).toBe(2);

    const w = { from: T0, to: T0 + 3_600_000, verdict: ALL };
    const list = async () =>
      (await edges.edges(w, 10, 0)).items.map((e) => [e.verdict, e.count, e.src.workload, e.dst.workload, e.dstPort]);
    const expected = [
      ['denied', 9, 'Deployment/web', 'StatefulSet/pg', 5432],
      ['allowed', 5, 'Deployment/web', 'StatefulSet/pg', 5432],
    ];
    expect(await list()).toEqual(expected);

    // 10:00-10:05 holds only old rows, 10:05-10:10 old and new: the 5-minute rows get the id.
    await closer.closeThrough(T0, undefined, T0 + 15 * 60_000);
    const units = (await ds.query(
      `SELECT to_char(bucket AT TIME ZONE 'UTC', 'HH24:MI') AS unit, count::int AS count, edge_id::text = ${PG_MD5} AS ok
        FROM edge_rollups_5m ORDER BY 1`,
    )) as Array<{ unit: string; count: number; ok: boolean }>;
    expect(units).toEqual([
      { unit: '10:00', count: 2, ok: true },
      { unit: '10:05', count: 7, ok: true },
      { unit: '10:10', count: 5, ok: true },
    ]);
    expect(await list()).toEqual(expected);
  });

  it('closes one row per edge key even when its minutes hold different ids (MD5 computed elsewhere)', async () => {
    await empty();
    await write([flow(1, 2), flow(2, 3)]);
    // As if one minute's id had been computed by a database that hashes the text differently.
    const other = '00000000-0000-4000-8000-000000000001';
    await ds.query(`UPDATE edge_rollups SET edge_id = $1 WHERE bucket = '2025-03-01T10:01:00Z'`, [other]);
    await closer.closeThrough(T0, undefined, T0 + 5 * 60_000);
    expect(
      await ds.query(`SELECT count::int AS count, edge_id::text AS id FROM edge_rollups_5m ORDER BY bucket`),
    ).toEqual([{ count: 5, id: 'b12216c2-2b74-47b8-243a-1e8ba008e7d9' }]);
  });

  it('an edge whose last minute is no longer stored takes its columns from the coarser rows, without labels', async () => {
    await empty();
    await write([flow(1, 2), flow(70, 3), flow(71, 6, { dst: { ...DB_PG, namespace: 'db2' } })]);
    await closer.closeThrough(Date.parse('2025-03-03T00:00:00Z'));
    // The minutes' retention is shorter than the hours' (HOURLY_ROLLUP_RETENTION_DAYS).
    await ds.query(`DELETE FROM edge_rollups`);
    const page = await edges.edges({ from: T0, to: T0 + 2 * 3_600_000, verdict: ALL }, 10, 0);
    expect(
      page.items.map((e) => [e.count, e.src.namespace, e.src.workload, e.dst.namespace, e.dst.workload, e.src.labels]),
    ).toEqual([
      [6, 'shop', 'Deployment/web', 'db2', 'StatefulSet/pg', null],
      [5, 'shop', 'Deployment/web', 'db', 'StatefulSet/pg', null],
    ]);
  });

  it('orders equal counts by edge id: pages never repeat or skip an edge', async () => {
    await empty();
    const dsts = ['a', 'b', 'c', 'd', 'e'].map((ns): FlowEndpoint => ({ ...DB_PG, namespace: ns }));
    await write(dsts.map((dst, i) => flow(i, 4, { dst })));
    const w = { from: T0, to: T0 + 3_600_000, verdict: ALL };
    const seen: string[] = [];
    for (let offset = 0; offset < 5; offset += 2)
      for (const e of (await edges.edges(w, 2, offset)).items) seen.push(String(e.dst.namespace));
    expect([...seen].sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    const again = (await edges.edges(w, 5, 0)).items.map((e) => String(e.dst.namespace));
    expect(again).toEqual(seen);
  });
});
