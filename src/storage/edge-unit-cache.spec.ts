import { describe, expect, it } from '@jest/globals';
import {
  EGRESS,
  EdgeUnitCache,
  INGRESS,
  StaleUnitError,
  UNKNOWN_DIRECTION,
  tableRetention,
  unitVersion,
  type EdgeSums,
} from './edge-unit-cache.js';

const A = '0a000000-0000-0000-0000-000000000000';
const B = '0b000000-0000-0000-0000-000000000000';
const C = '0c000000-0000-0000-0000-000000000000';

function sums(id: string, count: number, over: Partial<EdgeSums> = {}): EdgeSums {
  return {
    id,
    directions: EGRESS,
    count,
    packets: 0,
    bytes: 0,
    firstSeen: 1000,
    lastSeen: 2000,
    lastBucket: 0,
    ...over,
  };
}

const HOUR = 3_600_000;
const DAY = 86_400_000;

const forever = (): number => 0;

describe('EdgeTotals', () => {
  it('adds counters, ors directions, keeps the earliest first and the latest last seen and minute', () => {
    const cache = new EdgeUnitCache({ maxBytes: 1 << 20, retention: forever });
    const first = cache.unit([
      sums(A, 3, { packets: 30, bytes: 300, firstSeen: 500, lastSeen: 900, lastBucket: 60_000 }),
      sums(B, 1, { directions: INGRESS }),
    ]);
    const second = cache.unit([
      sums(A, 4, {
        directions: INGRESS,
        packets: 40,
        bytes: 400,
        firstSeen: 700,
        lastSeen: 1500,
        lastBucket: 120_000,
      }),
    ]);
    const t = cache.totals();
    t.addUnit(first);
    t.addUnit(second);
    // An edge no unit holds yet, and one more of B (as the open rows are added).
    t.add(sums(C, 1, { firstSeen: 50, lastSeen: 60 }));
    t.add({
      id: B,
      directions: UNKNOWN_DIRECTION,
      count: 2,
      packets: 5,
      bytes: 50,
      firstSeen: 100,
      lastSeen: 3000,
      lastBucket: 180_000,
    });
    expect(t.size).toBe(3);
    expect(t.sorted()).toEqual([
      {
        id: A,
        directions: EGRESS | INGRESS,
        count: 7,
        packets: 70,
        bytes: 700,
        firstSeen: 500,
        lastSeen: 1500,
        lastBucket: 120_000,
      },
      {
        id: B,
        directions: INGRESS | UNKNOWN_DIRECTION,
        count: 3,
        packets: 5,
        bytes: 50,
        firstSeen: 100,
        lastSeen: 3000,
        lastBucket: 180_000,
      },
      { id: C, directions: EGRESS, count: 1, packets: 0, bytes: 0, firstSeen: 50, lastSeen: 60, lastBucket: 0 },
    ]);
    // New totals start from nothing: the scratch of the last ones is not carried over.
    const again = cache.totals();
    again.addUnit(second);
    expect(again.sorted().map((e) => [e.id, e.count, e.firstSeen])).toEqual([[A, 4, 700]]);
  });

  it('orders the most flows first and equal counts by id, as the SQL does, and pages', () => {
    const cache = new EdgeUnitCache({ maxBytes: 1 << 20, retention: forever });
    const t = cache.totals();
    t.addUnit(cache.unit([sums(C, 5), sums(A, 2), sums(B, 5)]));
    expect(t.sorted().map((e) => [e.id, e.count])).toEqual([
      [B, 5],
      [C, 5],
      [A, 2],
    ]);
    expect(t.sorted(1, 1).map((e) => e.id)).toEqual([C]);
  });

  it('refuses a unit made before the id table was cleared, and totals begun before it', () => {
    const cache = new EdgeUnitCache({ maxBytes: 1 << 20, retention: forever });
    const old = cache.unit([sums(A, 1)]);
    const begun = cache.totals();
    begun.addUnit(old);
    cache.clear();
    expect(() => cache.totals().addUnit(old)).toThrow(StaleUnitError);
    // Slot 0 was A; after the clear it is B's: adding to the old totals would mix them up.
    const fresh = cache.unit([sums(B, 2)]);
    expect(() => begun.addUnit(fresh)).toThrow(StaleUnitError);
    expect(() => begun.add(sums(C, 1))).toThrow(StaleUnitError);
    expect(() => begun.sorted()).toThrow(StaleUnitError);
    const t = cache.totals();
    t.addUnit(fresh);
    expect(t.sorted().map((e) => [e.id, e.count])).toEqual([[B, 2]]);
  });
});

describe('unitVersion', () => {
  it('lists the generation of each hour the unit covers, 0 for hours without one', () => {
    const gens = new Map([
      [2 * HOUR, 3],
      [5 * HOUR, 1],
    ]);
    expect(unitVersion({ table: 'edge_rollups_4h', start: 4 * HOUR, end: 8 * HOUR }, gens)).toBe('0,1,0,0');
    expect(unitVersion({ table: 'edge_rollups', start: 2 * HOUR + 60_000, end: 2 * HOUR + 120_000 }, gens)).toBe('3');
    expect(unitVersion({ table: 'edge_rollups_15m', start: 3 * HOUR, end: 3 * HOUR + 900_000 }, gens)).toBe('0');
  });
});

describe('EdgeUnitCache', () => {
  it('serves a unit only at the version it was kept with', () => {
    const cache = new EdgeUnitCache({ maxBytes: 1 << 20, retention: forever });
    const u = cache.unit([sums(A, 1)]);
    cache.set('k', '0,0', u);
    expect(cache.get('k', '0,0')).toBe(u);
    expect(cache.get('k', '0,1')).toBeUndefined();
    expect(cache.get('other', '0,0')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 2, units: 1 });
  });

  it('drops the least recently used units to stay within its budget', () => {
    // Room for two one-edge units and their id, not three (253 bytes a unit, 157 an id).
    const cache = new EdgeUnitCache({ maxBytes: 700, retention: forever });
    const one = cache.unit([sums(A, 1)]);
    cache.set('a', 'v', one);
    cache.set('b', 'v', one);
    expect(cache.get('a', 'v')).toBe(one); // a is now the most recent
    cache.set('c', 'v', one);
    expect(cache.get('b', 'v')).toBeUndefined();
    expect(cache.get('a', 'v')).toBe(one);
    expect(cache.get('c', 'v')).toBe(one);
    expect(cache.stats()).toMatchObject({ units: 2, evictions: 1 });
    expect(cache.stats().bytes).toBeLessThanOrEqual(700);
    // A unit larger than the whole budget is not kept at all.
    cache.set('big', 'v', cache.unit(Array.from({ length: 20 }, (_, i) => sums(`${i}`, 1))));
    expect(cache.get('big', 'v')).toBeUndefined();
    expect(cache.stats().units).toBe(2);
  });

  it("keeps no unit of a day that is not at least a whole day inside its table's retention", () => {
    const now = 10 * DAY + 5 * HOUR;
    const retention = tableRetention({ rollupDays: 3, hourlyRollupDays: 5, eventDays: 7, deadLetterDays: 7 });
    const cache = new EdgeUnitCache({ maxBytes: 1 << 20, retention, now: () => now });
    // Minutes (3 days): retention drops day 6 and before today; day 7 goes at the next midnight.
    expect(cache.usable({ table: 'edge_rollups', start: 8 * DAY, end: 8 * DAY + 60_000 })).toBe(true);
    expect(cache.usable({ table: 'edge_rollups_5m', start: 7 * DAY + 23 * HOUR, end: 8 * DAY })).toBe(false);
    // Hours and coarser (5 days).
    expect(cache.usable({ table: 'edge_rollups_hourly', start: 6 * DAY, end: 6 * DAY + HOUR })).toBe(true);
    expect(cache.usable({ table: 'edge_rollups_daily', start: 5 * DAY, end: 6 * DAY })).toBe(false);
    // 0 keeps everything.
    const always = new EdgeUnitCache({ maxBytes: 1 << 20, retention: forever, now: () => now });
    expect(always.usable({ table: 'edge_rollups_daily', start: 0, end: DAY })).toBe(true);
  });
});
