/**
 * The edge list's cache of closed roll-up units. A window's rows come in units (rollup-source.ts):
 * whole 5-minute, 15-minute, hour, 4-hour and day rows, and single minutes. Once a unit is closed
 * (every minute of it before the 5-minute mark) its rows change only through the writers' late path,
 * which counts a change in each hour it touches (rollup_generations). So a unit's edges, summed per
 * edge once, can be kept with the generations of its hours and reused while they are unchanged:
 * a dashboard asking for the last 24 hours again then reads only the minutes still open.
 *
 * Pure: no database. The reader (edge.reader.ts) reads the rows and the generations; this holds
 * them within a memory budget (least recently used first out) and sums units into edge totals.
 */
import type { RetentionDays } from './ports.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** Direction bits of an edge's rows: any ingress, any egress, any unknown. */
export const INGRESS = 1;
export const EGRESS = 2;
export const UNKNOWN_DIRECTION = 4;

/** One unit's edges, one entry per edge id, in parallel arrays (times in ms). */
export interface UnitEdges {
  ids: string[];
  directions: Uint8Array;
  count: Float64Array;
  packets: Float64Array;
  bytes: Float64Array;
  firstSeen: Float64Array;
  lastSeen: Float64Array;
  /** The latest minute the edge's rows cover (where its columns and labels are looked up). */
  lastBucket: Float64Array;
}

/** One edge's sums, as a unit holds them or as edge totals add them up. */
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

/** Packs a unit's edges (one per id, as the database grouped them) into parallel arrays. */
export function unitEdges(edges: readonly EdgeSums[]): UnitEdges {
  const n = edges.length;
  const u: UnitEdges = {
    ids: new Array<string>(n),
    directions: new Uint8Array(n),
    count: new Float64Array(n),
    packets: new Float64Array(n),
    bytes: new Float64Array(n),
    firstSeen: new Float64Array(n),
    lastSeen: new Float64Array(n),
    lastBucket: new Float64Array(n),
  };
  edges.forEach((e, i) => {
    u.ids[i] = e.id;
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

/**
 * Sums units (and single edges) per edge id, as the list's SQL would over the same rows: counters
 * added, directions or-ed, first seen the earliest, last seen and last minute the latest.
 */
export class EdgeTotals {
  private readonly byId = new Map<string, EdgeSums>();

  addUnit(u: UnitEdges): void {
    for (let i = 0; i < u.ids.length; i++)
      this.add(
        u.ids[i],
        u.directions[i],
        u.count[i],
        u.packets[i],
        u.bytes[i],
        u.firstSeen[i],
        u.lastSeen[i],
        u.lastBucket[i],
      );
  }

  add(
    id: string,
    directions: number,
    count: number,
    packets: number,
    bytes: number,
    firstSeen: number,
    lastSeen: number,
    lastBucket: number,
  ): void {
    const e = this.byId.get(id);
    if (e === undefined) {
      this.byId.set(id, { id, directions, count, packets, bytes, firstSeen, lastSeen, lastBucket });
      return;
    }
    e.directions |= directions;
    e.count += count;
    e.packets += packets;
    e.bytes += bytes;
    if (firstSeen < e.firstSeen) e.firstSeen = firstSeen;
    if (lastSeen > e.lastSeen) e.lastSeen = lastSeen;
    if (lastBucket > e.lastBucket) e.lastBucket = lastBucket;
  }

  get size(): number {
    return this.byId.size;
  }

  /**
   * Every edge, the most flows first; equal counts by id, as the SQL orders them (a uuid's text
   * is lowercase hex, so comparing the strings compares the bytes).
   */
  sorted(): EdgeSums[] {
    return [...this.byId.values()].sort((a, b) =>
      a.count !== b.count ? b.count - a.count : a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
    );
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

/** Rough heap size of a unit: the id strings and the arrays. */
function unitBytes(u: UnitEdges): number {
  return 200 + u.ids.length * (8 + 56 + 1 + 6 * 8);
}

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
 * Closed units' edges by unit and filters, within a memory budget. A unit is kept and served only
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

  constructor(private readonly o: EdgeUnitCacheOptions) {
    this.now = o.now ?? Date.now;
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
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.entries.delete(key);
      this.used -= old.bytes;
    }
    const bytes = unitBytes(unit);
    if (bytes > this.o.maxBytes) return;
    this.entries.set(key, { version, unit, bytes });
    this.used += bytes;
    for (const [k, e] of this.entries) {
      if (this.used <= this.o.maxBytes) break;
      this.entries.delete(k);
      this.used -= e.bytes;
      this.evictions++;
    }
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
