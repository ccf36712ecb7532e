/**
 * The edge list's cache of units over real PostgreSQL (src/storage/edge-unit-cache.ts): it returns
 * what reading every row returns, serves unchanged units from memory, and reads again the units a
 * late minute or a new write changed (rollup_generations, rollup_minute_writes). Expected counts
 * are worked out by hand from the flows written.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { silentLogger } from '../../src/common/logger.js';
import { VERDICTS, type FlowEndpoint, type FlowRecord } from '../../src/flow/flow-record.js';
import { registerEdgeListCacheMetrics } from '../../src/storage/edge-list-cache.metrics.js';
import { EdgeUnitCache } from '../../src/storage/edge-unit-cache.js';
import { PostgresEdgeReader } from '../../src/storage/edge.reader.js';
import type { DropFilters } from '../../src/storage/readers.js';
import type { RollupCloser } from '../../src/storage/rollup-closer.js';
import { PostgresRollupWriter } from '../../src/storage/rollup.writer.js';
import { PartitionManager } from '../../src/storage/partition.manager.js';
import { PostgresRetentionStore } from '../../src/storage/retention.store.js';
import { foldFlows, rollupFlow, startRollupDatabase, type RollupDatabase } from '../support/rollup-database.js';

const T0 = Date.parse('2025-03-01T10:00:00Z');
const MIN = 60_000;
const API: FlowEndpoint = { kind: 'pod', namespace: 'shop', workload: { kind: 'Deployment', name: 'api' } };

/** A flow `minute` minutes after T0 (at second 5): shop/web to db/pg:5432, denied, unless told otherwise. */
const flow = (minute: number, count: number, over: Partial<FlowRecord> = {}): FlowRecord =>
  rollupFlow(T0, minute, count, over);

describe('edge list cache', () => {
  let db: RollupDatabase;
  let ds: DataSource;
  let closer: RollupCloser;
  let write: RollupDatabase['write'];
  let plain: PostgresEdgeReader;
  let cached: PostgresEdgeReader;
  let units: EdgeUnitCache;

  const hits = () => units.stats().hits;
  const misses = () => units.stats().misses;

  beforeAll(async () => {
    db = await startRollupDatabase();
    ({ ds, closer, write } = db);
    plain = new PostgresEdgeReader(ds);
    units = new EdgeUnitCache({ maxBytes: 16 << 20, retention: () => 0 });
    cached = new PostgresEdgeReader(ds, { units, log: silentLogger });
  });
  afterAll(async () => {
    await cached.settled();
    await db.drop();
  });

  // 10:07 to 12:08 inclusive (the minute holding `to` counts). Closed through 12:05 below, it reads
  // minutes 10:07-10:09, the 5-minute unit 10:10, 15-minute units 10:15-10:45, the hour 11:00, the
  // 5-minute unit 12:00 (13 units with the open minutes 12:05-12:08).
  // Every verdict, as the suggestions' input asks: observedEdges shares these units.
  const window: DropFilters = { from: T0 + 7.5 * MIN, to: T0 + 128.5 * MIN, verdict: [...VERDICTS] };
  const counts = async (r: PostgresEdgeReader, f = window) =>
    (await r.edges(f, 100, 0)).items.map((e) => [e.verdict, e.dst.workload, e.count]);

  it('returns what reading every row returns, then serves unchanged units from memory', async () => {
    // web -> pg denied, one flow every minute 10:01-12:10; allowed, 10 flows at 10:03, 11:03 and 12:06.
    const flows = Array.from({ length: 130 }, (_, i) => flow(i + 1, 1));
    for (const m of [3, 63, 126]) flows.push(flow(m, 10, { verdict: 'allowed' }));
    flows.push(flow(64, 2, { dst: API, dstPort: 8080 }));
    await write(flows);
    await closer.closeThrough(T0 + 125 * MIN);
    // Minutes 10:07-12:08: 122 denied; 11:03 and 12:06 allowed: 20; 11:04 web -> api: 2.
    const expected = [
      ['denied', 'StatefulSet/pg', 122],
      ['allowed', 'StatefulSet/pg', 20],
      ['denied', 'Deployment/api', 2],
    ];
    expect(await counts(plain)).toEqual(expected);

    // First request: nothing kept, so it reads every row and then keeps the units.
    const first = await cached.edges(window, 100, 0);
    expect(first).toEqual(await plain.edges(window, 100, 0));
    expect(misses()).toBe(13);
    await cached.settled();
    expect(units.stats().units).toBe(13);

    const before = hits();
    expect(await cached.edges(window, 100, 0)).toEqual(first);
    expect(hits() - before).toBe(13);
    expect(misses()).toBe(13);
    // Pages and the suggestions' input read the same units.
    expect(await cached.edges(window, 1, 1)).toEqual(await plain.edges(window, 1, 1));
    expect(await cached.observedEdges({ from: window.from, to: window.to })).toEqual(
      await plain.observedEdges({ from: window.from, to: window.to }),
    );
    expect(misses()).toBe(13);
    // Closed minutes' write counts were removed by the closer; open ones remain.
    const [{ min }] = (await ds.query(`SELECT min(minute) AS min FROM rollup_minute_writes`)) as Array<{ min: Date }>;
    expect(min).toEqual(new Date(T0 + 125 * MIN));
  });

  it('warm() keeps a window before its first request, which then reads no unit from the database', async () => {
    // A reader started afresh (a new API process) over the rows of the test above.
    const fresh = new EdgeUnitCache({ maxBytes: 16 << 20, retention: () => 0 });
    const warmed = new PostgresEdgeReader(ds, { units: fresh, log: silentLogger });
    warmed.warm(window);
    await warmed.settled();
    expect(fresh.stats()).toMatchObject({ units: 13, misses: 13, hits: 0 });
    expect(await warmed.edges(window, 100, 0)).toEqual(await plain.edges(window, 100, 0));
    expect(fresh.stats()).toMatchObject({ misses: 13, hits: 13 });
    // Warming a window already kept reads nothing.
    warmed.warm(window);
    await warmed.settled();
    expect(fresh.stats()).toMatchObject({ misses: 13, hits: 26 });
    // A request that comes while the warm-up runs waits for it, then reads from memory too.
    const other = new EdgeUnitCache({ maxBytes: 16 << 20, retention: () => 0 });
    const racing = new PostgresEdgeReader(ds, { units: other, log: silentLogger });
    racing.warm(window);
    expect(await racing.edges(window, 100, 0)).toEqual(await plain.edges(window, 100, 0));
    expect(other.stats()).toMatchObject({ misses: 13, hits: 13 });
  });

  it('a request waits for a fill of its own window, not for one of other filters or of a much shorter window', async () => {
    // The fill's packed unit reads are held until released; every other query runs.
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    const gated = {
      query: async (sql: string, params?: unknown[]) => {
        if (sql.includes('uuid_send(edge_id)')) await held;
        return ds.query(sql, params);
      },
    };
    const units = new EdgeUnitCache({ maxBytes: 16 << 20, retention: () => 0 });
    const reader = new PostgresEdgeReader(gated, { units, log: silentLogger });
    const unheld = <T>(p: Promise<T>) =>
      Promise.race([p, new Promise<'waiting'>((r) => setTimeout(() => r('waiting'), 1000))]);
    reader.warm(window);
    try {
      // Other filters, and the same filters over twice the window: answered while the fill is held.
      const denied: DropFilters = { ...window, verdict: ['denied'] };
      expect(await unheld(reader.edges(denied, 100, 0))).toEqual(await plain.edges(denied, 100, 0));
      const longer: DropFilters = { ...window, from: window.from - (window.to - window.from) };
      expect(await unheld(reader.edges(longer, 100, 0))).toEqual(await plain.edges(longer, 100, 0));
      // The warmed window itself waits for the fill, then reads every unit from memory.
      const same = reader.edges(window, 100, 0);
      expect(await unheld(same)).toBe('waiting');
      release();
      expect(await same).toEqual(await plain.edges(window, 100, 0));
      expect(units.stats()).toMatchObject({ units: 13, hits: 13 });
    } finally {
      release();
      await reader.settled();
    }
  });

  it('reads again the units a late minute and a new write changed, few of them with the request', async () => {
    // 12:02 is closed (5-minute unit 12:00): the late path counts hour 12:00. 12:07 is open.
    await write([flow(122, 5), flow(127, 4)]);
    expect(await ds.query(`SELECT hour, generation::int AS generation FROM rollup_generations`)).toEqual([
      { hour: new Date(T0 + 120 * MIN), generation: 1 },
    ]);
    const before = misses();
    expect(await counts(cached)).toEqual([
      ['denied', 'StatefulSet/pg', 131],
      ['allowed', 'StatefulSet/pg', 20],
      ['denied', 'Deployment/api', 2],
    ]);
    // The 5-minute unit 12:00 and the minute 12:07, read with the request.
    expect(misses() - before).toBe(2);
    expect(await cached.edges(window, 100, 0)).toEqual(await plain.edges(window, 100, 0));
    expect(misses() - before).toBe(2);
  });

  it('counts each writer of an open minute on its own row, and reads the minute again after either writes', async () => {
    // A second writer (another aggregator) writes the open minute 12:08 after the first one did.
    const other = new PostgresRollupWriter(ds, new PartitionManager(ds, silentLogger));
    await write([flow(128, 2)]);
    await other.writeBatch(foldFlows([flow(128, 3)]), [], []);
    const rows = (await ds.query(
      `SELECT generation::int AS generation FROM rollup_minute_writes WHERE minute = $1 ORDER BY writer`,
      [new Date(T0 + 128 * MIN).toISOString()],
    )) as Array<{ generation: number }>;
    expect(rows.length).toBe(2);
    const before = misses();
    // 131 + 2 + 3.
    expect((await counts(cached))[0]).toEqual(['denied', 'StatefulSet/pg', 136]);
    expect(misses() - before).toBe(1);
    await other.writeBatch(foldFlows([flow(128, 4)]), [], []);
    expect((await counts(cached))[0]).toEqual(['denied', 'StatefulSet/pg', 140]);
    expect(misses() - before).toBe(2);
  });

  it('reads the whole window when many units changed, and keeps them again for the next request', async () => {
    // 10:10 is in hour 10:00: seven units change (three minutes, a 5-minute and three 15-minute units).
    await write([flow(10, 5)]);
    const before = misses();
    expect(await counts(cached)).toEqual([
      ['denied', 'StatefulSet/pg', 145],
      ['allowed', 'StatefulSet/pg', 20],
      ['denied', 'Deployment/api', 2],
    ]);
    expect(misses() - before).toBe(7);
    await cached.settled();
    const hitsBefore = hits();
    expect(await cached.edges(window, 100, 0)).toEqual(await plain.edges(window, 100, 0));
    expect(hits() - hitsBefore).toBe(13);
    expect(misses() - before).toBe(7);
  });

  it('reports its lookups and memory as metrics', async () => {
    const registry = new Registry();
    registerEdgeListCacheMetrics(registry, units);
    const { hits: h, misses: m, bytes } = units.stats();
    const text = await registry.metrics();
    expect(text).toContain(`dropscope_edge_list_cache_units_total{result="hit"} ${h}`);
    expect(text).toContain(`dropscope_edge_list_cache_units_total{result="miss"} ${m}`);
    expect(text).toContain(`dropscope_edge_list_cache_bytes ${bytes}`);
    expect(bytes).toBeGreaterThan(0);
    await cached.edges(window, 100, 0);
    expect(await registry.metrics()).toContain(`dropscope_edge_list_cache_units_total{result="hit"} ${h + 13}`);
  });

  it('reads every time the units of a day retention may drop within a day, and keeps the rest', async () => {
    // Around midnight of 2025-03-10: one flow a minute 23:50-00:09, closed through 00:05.
    const midnight = Date.parse('2025-03-10T00:00:00Z');
    const at = (minute: number) => flow((midnight - T0) / MIN + minute, 1, { dst: API, dstPort: 9090 });
    await write(Array.from({ length: 20 }, (_, i) => at(i - 10)));
    await closer.closeThrough(midnight + 5 * MIN);
    // Minutes kept 1 day, now 2025-03-10 05:00: the day before is read from the database each time.
    const near = new EdgeUnitCache({
      maxBytes: 16 << 20,
      retention: () => 1,
      now: () => midnight + 5 * 60 * MIN,
    });
    const reader = new PostgresEdgeReader(ds, { units: near, log: silentLogger });
    // 23:52 to 00:07 inclusive: 16 flows, 8 of each day.
    const f: DropFilters = { from: midnight - 8 * MIN, to: midnight + 7.5 * MIN, verdict: [...VERDICTS] };
    const expected = [['denied', 'Deployment/api', 16]];
    expect(await counts(plain, f)).toEqual(expected);
    expect(await counts(reader, f)).toEqual(expected);
    await reader.settled();
    // Kept: the 5-minute unit 00:00 and the open minutes 00:05-00:07 (the day of 2025-03-09 never).
    expect(near.stats().units).toBe(4);
    const hitsBefore = near.stats().hits;
    expect(await reader.edges(f, 100, 0)).toEqual(await plain.edges(f, 100, 0));
    expect(near.stats().hits - hitsBefore).toBe(4);
    expect(near.stats().units).toBe(4);
  });

  it("fills the cache for the edge list's windows, not for the suggestions' input", async () => {
    const fresh = new EdgeUnitCache({ maxBytes: 16 << 20, retention: () => 0 });
    const reader = new PostgresEdgeReader(ds, { units: fresh, log: silentLogger });
    const w = { from: window.from, to: window.to };
    expect(await reader.observedEdges(w)).toEqual(await plain.observedEdges(w));
    await reader.settled();
    expect(fresh.stats().units).toBe(0);
    await reader.edges(window, 100, 0);
    await reader.settled();
    expect(fresh.stats().units).toBe(13);
    // Then the suggestions' input, same window and filters, is served from the kept units.
    const hitsBefore = fresh.stats().hits;
    expect(await reader.observedEdges(w)).toEqual(await plain.observedEdges(w));
    expect(fresh.stats().hits - hitsBefore).toBe(13);
  });

  it('keeps units per filter', async () => {
    const f: DropFilters = { ...window, verdict: ['allowed'] };
    expect(await counts(cached, f)).toEqual([['allowed', 'StatefulSet/pg', 20]]);
    await cached.settled();
    expect(await counts(cached, f)).toEqual([['allowed', 'StatefulSet/pg', 20]]);
    const ns: DropFilters = { ...window, dstNamespace: 'shop' };
    expect(await cached.edges(ns, 100, 0)).toEqual(await plain.edges(ns, 100, 0));
    await cached.settled();
    expect(await counts(cached, ns)).toEqual([['denied', 'Deployment/api', 2]]);
  });

  // Last: it drops the partitions the tests above read.
  it("retention deletes the generations of hours older than the hour rows' retention", async () => {
    // The late writes above counted hours 10:00 and 12:00 of 2025-03-01; one hour of 03-06 added here.
    await ds.query(`INSERT INTO rollup_generations (hour, generation) VALUES ('2025-03-06T00:00:00Z', 3)`);
    expect(await ds.query(`SELECT count(*)::int AS n FROM rollup_generations`)).toEqual([{ n: 3 }]);
    const retention = new PostgresRetentionStore(ds, new PartitionManager(ds, silentLogger));
    // Hour rows kept 5 days (never less than the minutes' 1), now 2025-03-10: days before 03-05 go.
    await retention.deleteExpired(Date.parse('2025-03-10T05:00:00Z'), {
      rollupDays: 1,
      hourlyRollupDays: 5,
      eventDays: 0,
      deadLetterDays: 0,
    });
    expect(await ds.query(`SELECT hour, generation::int AS generation FROM rollup_generations`)).toEqual([
      { hour: new Date('2025-03-06T00:00:00Z'), generation: 3 },
    ]);
  });
});
