/**
 * The edge list's cache of roll-up units. A window's rows come in units (rollup-source.ts): whole
 * 5-minute, 15-minute, hour, 4-hour and day rows, and single minutes. Once a unit is closed (every
 * minute of it before the 5-minute mark) its rows change only through the writers' late path,
 * which counts a change in each hour it touches (rollup_generations); a minute still open changes
 * with every write to it, which its writers count (rollup_minute_writes). So a unit's edges, summed
 * per edge once, can be kept with that version and reused while it is unchanged: a dashboard
 * asking for the last 24 hours again then reads only the minutes written since.
 *
 * Pure: no database. The reader (edge.reader.ts) reads the rows and the generations; this holds
 * them within a memory budget (least recently used first out) and sums units into edge totals.
 */
import type { RetentionDays } from './ports.js';
import { DAY_MS, HOUR_MS } from './rollup-closer.js';

/** Direction bits of an edge's rows: any ingress, any egress, any unknown. */
export const INGRESS = 1;
export const EGRESS = 2;
export const UNKNOWN_DIRECTION = 4;

/**
 * One unit's edges, one entry per edge, in parallel arrays (times in ms). Edges are slots of the
 * cache's id table (EdgeUnitCache.unit): summing units is then array arithmetic, not a lookup of
 * a 36-character id per edge and unit. Valid while the table's `generation` is the unit's.
 */
export interface UnitEdges {
  generation: number;
  slots: Int32Array;
  directions: Uint8Array;
  count: Float64Array;
  packets: Float64Array;
  bytes: Float64Array;
  firstSeen: Float64Array;
  lastSeen: Float64Array;
  /** The latest minute the edge's rows cover (where its columns and labels are looked up). */
  lastBucket: Float64Array;
}

/** One edge's sums, as the database returns them per unit or as edge totals add them up. */
export interface EdgeSums {
  id: string;
  directions: number;
  count: number;
  packets: number;
  bytes: number;
  firstSeen: number;
  lastSeen: number;
  lastBucket: number;
}

/** A unit kept before the cache's id table was cleared: the caller reads every row instead. */
export class StaleUnitError extends Error {
  constructor() {
    super('edge unit from a cleared id table');
  }
}

/** Edge ids as slots, and the scratch arrays edge totals add into (one EdgeTotals at a time). */
class EdgeSlots {
  readonly ids: string[] = [];
  private readonly slotOf = new Map<string, number>();
  generation = 0;
  // Scratch, indexed by slot; `stamp` marks the slots the current totals have touched.
  stamp = new Uint32Array(0);
  epoch = 0;
  directions = new Uint8Array(0);
  count = new Float64Array(0);
  packets = new Float64Array(0);
  bytes = new Float64Array(0);
  firstSeen = new Float64Array(0);
  lastSeen = new Float64Array(0);
  lastBucket = new Float64Array(0);

  slot(id: string): number {
    let s = this.slotOf.get(id);
    if (s === undefined) {
      s = this.ids.length;
      this.ids.push(id);
      this.slotOf.set(id, s);
    }
    return s;
  }

  get size(): number {
    return this.ids.length;
  }

  /** Starts new totals: scratch arrays as long as the table, nothing touched. */
  begin(): number {
    this.fit(this.ids.length);
    if (++this.epoch === 0x1_0000_0000) {
      this.stamp.fill(0);
      this.epoch = 1;
    }
    return this.epoch;
  }

  /** Scratch arrays for at least `n` slots, what they hold kept. */
  fit(n: number): void {
    if (this.stamp.length < n) {
      const cap = Math.max(1024, 2 ** Math.ceil(Math.log2(n)));
      this.stamp = grow(this.stamp, cap);
      this.directions = grow(this.directions, cap);
      this.count = grow(this.count, cap);
      this.packets = grow(this.packets, cap);
      this.bytes = grow(this.bytes, cap);
      this.firstSeen = grow(this.firstSeen, cap);
      this.lastSeen = grow(this.lastSeen, cap);
      this.lastBucket = grow(this.lastBucket, cap);
    }
  }

  clear(): void {
    this.ids.length = 0;
    this.slotOf.clear();
    this.generation++;
  }
}

function grow<T extends Uint32Array | Uint8Array | Float64Array>(a: T, length: number): T {
  const b = new (a.constructor as new (n: number) => T)(length);
  b.set(a);
  return b;
}

/**
 * Sums units (and single edges) per edge, as the list's SQL would over the same rows: counters
 * added, directions or-ed, first seen the earliest, last seen and last minute the latest. Made by
 * EdgeUnitCache.totals; use one at a time, synchronously (it adds into the cache's scratch).
 */
export class EdgeTotals {
  private readonly touched: number[] = [];
  private readonly epoch: number;
  private readonly generation: number;

  constructor(private readonly t: EdgeSlots) {
    this.epoch = t.begin();
    this.generation = t.generation;
  }

  /** Slots added so far mean other ids once the table is cleared: nothing may be added after. */
  private check(u?: UnitEdges): void {
    if (this.t.generation !== this.generation || (u && u.generation !== this.generation)) throw new StaleUnitError();
  }

  addUnit(u: UnitEdges): void {
    this.check(u);
    // Units packed after these totals began may hold newer slots.
    this.t.fit(this.t.size);
    for (let i = 0; i < u.slots.length; i++)
      this.addSlot(
        u.slots[i],
        u.directions[i],
        u.count[i],
        u.packets[i],
        u.bytes[i],
        u.firstSeen[i],
        u.lastSeen[i],
        u.lastBucket[i],
      );
  }

  add(e: EdgeSums): void {
    this.check();
    const slot = this.t.slot(e.id);
    this.t.fit(slot + 1);
    this.addSlot(slot, e.directions, e.count, e.packets, e.bytes, e.firstSeen, e.lastSeen, e.lastBucket);
  }

  private addSlot(
    s: number,
    directions: number,
    count: number,
    packets: number,
    bytes: number,
    firstSeen: number,
    lastSeen: number,
    lastBucket: number,
  ): void {
    const t = this.t;
    if (t.stamp[s] !== this.epoch) {
      t.stamp[s] = this.epoch;
      this.touched.push(s);
      t.directions[s] = directions;
      t.count[s] = count;
      t.packets[s] = packets;
      t.bytes[s] = bytes;
      t.firstSeen[s] = firstSeen;
      t.lastSeen[s] = lastSeen;
      t.lastBucket[s] = lastBucket;
      return;
    }
    t.directions[s] |= directions;
    t.count[s] += count;
    t.packets[s] += packets;
    t.bytes[s] += bytes;
    if (firstSeen < t.firstSeen[s]) t.firstSeen[s] = firstSeen;
    if (lastSeen > t.lastSeen[s]) t.lastSeen[s] = lastSeen;
    if (lastBucket > t.lastBucket[s]) t.lastBucket[s] = lastBucket;
  }

  get size(): number {
    return this.touched.length;
  }

  /**
   * The edges, the most flows first and equal counts by id, as the SQL orders them (a uuid's text
   * is lowercase hex, so comparing the strings compares the bytes); `offset` and `limit` pick a page.
   */
  sorted(offset = 0, limit = Infinity): EdgeSums[] {
    this.check();
    const t = this.t;
    const order = this.touched.sort((a, b) =>
      t.count[a] !== t.count[b] ? t.count[b] - t.count[a] : t.ids[a] < t.ids[b] ? -1 : t.ids[a] > t.ids[b] ? 1 : 0,
    );
    return order.slice(offset, offset + limit).map((s) => ({
      id: t.ids[s],
      directions: t.directions[s],
      count: t.count[s],
      packets: t.packets[s],
      bytes: t.bytes[s],
      firstSeen: t.firstSeen[s],
      lastSeen: t.lastSeen[s],
      lastBucket: t.lastBucket[s],
    }));
  }
}

/** A closed unit of one table: [start, end) in ms. */
export interface UnitRef {
  table: string;
  start: number;
  end: number;
}

/**
 * The version of a unit's rows: the generations of the hours it covers (0 for hours without
 * one). Equal versions mean no late minute has changed the unit's rows since.
 */
export function unitVersion(u: UnitRef, generations: ReadonlyMap<number, number>): string {
  const parts: number[] = [];
  for (let h = Math.floor(u.start / HOUR_MS) * HOUR_MS; h < u.end; h += HOUR_MS) parts.push(generations.get(h) ?? 0);
  return parts.join(',');
}

/** Each table's retention in days (0: forever), as retention.store.ts applies it. */
export type TableRetention = (table: string) => number;

/** The tables' retention from the service's settings (coarse tables at least as long as minutes). */
export function tableRetention(days: RetentionDays): TableRetention {
  const coarse =
    days.rollupDays === 0 || days.hourlyRollupDays === 0 ? 0 : Math.max(days.rollupDays, days.hourlyRollupDays);
  return (table) =>
    ['edge_rollups_hourly', 'edge_rollups_4h', 'edge_rollups_daily'].includes(table) ? coarse : days.rollupDays;
}

interface Entry {
  version: string;
  unit: UnitEdges;
  bytes: number;
}

/** Rough heap size of a unit's arrays. */
function unitBytes(u: UnitEdges): number {
  return 200 + u.slots.length * (4 + 1 + 6 * 8);
}

/** Rough heap size of an id in the table: the string, its map entry and its scratch slots. */
const ID_BYTES = 64 + 40 + 4 + 1 + 6 * 8;

export interface EdgeUnitCacheOptions {
  /** Memory budget in bytes; the least recently used units go first. */
  maxBytes: number;
  retention: TableRetention;
  now?: () => number;
}

export interface EdgeUnitCacheStats {
  hits: number;
  misses: number;
  evictions: number;
  units: number;
  bytes: number;
}

/**
 * Units' edges by unit and filters, within a memory budget. A unit is kept and served only
 * while its day is at least a whole day inside its table's retention: retention drops whole days,
 * which no generation records, so a unit near the edge is read from the database instead.
 */
export class EdgeUnitCache {
  private readonly entries = new Map<string, Entry>();
  private used = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private readonly now: () => number;
  private readonly slots = new EdgeSlots();
  /** Edges held by the kept units (an id table much longer than this is cleared). */
  private edges = 0;

  constructor(private readonly o: EdgeUnitCacheOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Packs a unit's edges (one per id, as the database grouped them) into slots of the id table. */
  unit(edges: readonly EdgeSums[]): UnitEdges {
    const n = edges.length;
    const u: UnitEdges = {
      generation: this.slots.generation,
      slots: new Int32Array(n),
      directions: new Uint8Array(n),
      count: new Float64Array(n),
      packets: new Float64Array(n),
      bytes: new Float64Array(n),
      firstSeen: new Float64Array(n),
      lastSeen: new Float64Array(n),
      lastBucket: new Float64Array(n),
    };
    edges.forEach((e, i) => {
      u.slots[i] = this.slots.slot(e.id);
      u.directions[i] = e.directions;
      u.count[i] = e.count;
      u.packets[i] = e.packets;
      u.bytes[i] = e.bytes;
      u.firstSeen[i] = e.firstSeen;
      u.lastSeen[i] = e.lastSeen;
      u.lastBucket[i] = e.lastBucket;
    });
    return u;
  }

  /** New totals over units of this cache (see EdgeTotals: one at a time, synchronously). */
  totals(): EdgeTotals {
    return new EdgeTotals(this.slots);
  }

  /** Whether `u` may be served from (and kept in) the cache now. */
  usable(u: UnitRef): boolean {
    const days = this.o.retention(u.table);
    return days === 0 || Math.floor(u.start / DAY_MS) >= Math.floor(this.now() / DAY_MS) - days + 1;
  }

  get(key: string, version: string): UnitEdges | undefined {
    const e = this.entries.get(key);
    if (e === undefined || e.version !== version) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    // Most recently used last: Map keeps insertion order.
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.unit;
  }

  set(key: string, version: string, unit: UnitEdges): void {
    if (unit.generation !== this.slots.generation) return;
    this.remove(key);
    const bytes = unitBytes(unit);
    if (bytes > this.o.maxBytes) return;
    this.entries.set(key, { version, unit, bytes });
    this.used += bytes;
    this.edges += unit.slots.length;
    for (const k of this.entries.keys()) {
      if (this.used + this.slots.size * ID_BYTES <= this.o.maxBytes) break;
      this.remove(k);
      this.evictions++;
    }
    // Ids of edges no kept unit holds any more (graphs change): start the table again.
    if (this.slots.size > 2 * this.edges + 50_000) this.clear();
  }

  private remove(key: string): void {
    const e = this.entries.get(key);
    if (e === undefined) return;
    this.entries.delete(key);
    this.used -= e.bytes;
    this.edges -= e.unit.slots.length;
  }

  /** Forgets every unit and id (units handed out before are stale: StaleUnitError). */
  clear(): void {
    this.entries.clear();
    this.used = 0;
    this.edges = 0;
    this.slots.clear();
  }

  stats(): EdgeUnitCacheStats {
    return {
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      units: this.entries.size,
      bytes: this.used,
    };
  }
}
