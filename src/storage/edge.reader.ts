/** Observed edges over edge_rollups (PostgreSQL): the API's edge list and the input of suggestions. */
import { isIP } from 'node:net';
import { VERDICTS } from '../flow/flow-record.js';
import {
  isIcmpProtocol,
  type DropFilters,
  type EdgeEndpointView,
  type EdgeItem,
  type EdgeReader,
  type EdgeWindow,
  type ObservedEdge,
  type ObservedEndpoint,
  type ReaderPage,
} from './readers.js';
import type { Logger } from '../common/logger.js';
import {
  EGRESS,
  INGRESS,
  UNKNOWN_DIRECTION,
  StaleUnitError,
  unitVersion,
  type EdgeSums,
  type EdgeUnitCache,
  type UnitEdges,
  type UnitRef,
} from './edge-unit-cache.js';
import {
  EDGE_COLUMNS,
  EDGE_ID_SQL,
  HOUR_MS,
  RESOLUTIONS,
  closedThrough,
  generations,
  minuteWrites,
} from './rollup-closer.js';
import { rollupSegments, rollupSource, windowUnits } from './rollup-source.js';
import { ROLLUPS, SqlParams, filterClause, timeRange } from './sql-filters.js';
import { iso, num, orNull, parseJson, reading, rows, type Queryable, type Row } from './sql-rows.js';

const GROUP = EDGE_COLUMNS.join(', ');
/** What edgeSql reads of each row (besides last_bucket): the edge's id, not its ten columns. */
const EDGE_SOURCE_COLUMNS = `${EDGE_ID_SQL} AS edge_id, direction, count, packets, bytes, first_seen, last_seen`;

/**
 * Hash-aggregates the window by edge id (no DISTINCT or ordered aggregates, which force a sort of
 * every row). `source`: rollupSource's rows, coarse rows carrying their last minute. One 16-byte
 * key per row instead of the ten columns it stands for; the page's columns are looked up after
 * (columnSql). Equal counts are ordered by id: stable from page to page. Sums in float8 (a
 * value, not an allocated numeric state per group: ~8 % of the query): exact while under 2^53, as
 * the API's JSON numbers are anyway.
 */
function edgeSql(source: string, page: string): string {
  return `SELECT edge_id, bool_or(direction = 'ingress') AS ingress, bool_or(direction = 'egress') AS egress,
          bool_or(direction = 'unknown') AS unknown_direction,
          sum(count::float8) AS count, sum(packets::float8) AS packets, sum(bytes::float8) AS bytes,
          min(first_seen) AS first_seen, max(last_seen) AS last_seen, max(last_bucket) AS last_bucket
        FROM ${source}
        GROUP BY edge_id
        ORDER BY count DESC, edge_id${page}`;
}

/** The ten columns of one edge's rows, which are all the same (one id: one set of columns). */
const EDGE_VALUES = EDGE_COLUMNS.map((c) => `min(e.${c}) AS ${c}`).join(', ');

/**
 * The listed edges' columns and latest labels, in one query: each edge's rows in its last minute
 * bucket, the newest non-null labels among them. The listed edges' rows of just those minutes
 * (usually one or two for all edges) are read once, kept by id (a page is often a tenth of a
 * minute's rows) and joined to the list by hash: materialized, so PostgreSQL cannot turn the join
 * into one primary-key lookup per edge, each filtering its whole minute.
 */
function columnSql(found: Row[], ps: SqlParams): string {
  const lastBuckets = found.map((r) => iso(r.last_bucket));
  const buckets = ps.add([...new Set(lastBuckets)]);
  const ids = ps.add(found.map((r) => r.edge_id));
  return `WITH e AS MATERIALIZED (
        SELECT bucket, ${EDGE_ID_SQL} AS edge_id, ${GROUP}, src_labels, dst_labels, last_seen FROM edge_rollups
        WHERE bucket = ANY(${buckets}::timestamptz[]) AND ${EDGE_ID_SQL} = ANY(${ids}::uuid[]))
      SELECT v.i, ${EDGE_VALUES},
        (array_agg(e.src_labels ORDER BY e.last_seen DESC) FILTER (WHERE e.src_labels IS NOT NULL))[1]::text AS src_labels,
        (array_agg(e.dst_labels ORDER BY e.last_seen DESC) FILTER (WHERE e.dst_labels IS NOT NULL))[1]::text AS dst_labels
      FROM unnest(${ps.add(found.map((_, i) => i))}::integer[], ${ps.add(lastBuckets)}::timestamptz[], ${ids}::uuid[])
        AS v(i, bucket, edge_id)
      JOIN e ON e.bucket = v.bucket AND e.edge_id = v.edge_id
      GROUP BY v.i`;
}

/**
 * The columns of edges whose last minute is no longer stored (a window reaching past the minutes'
 * retention into hour and day rows, which may be kept longer): from the row of each coarser
 * resolution whose unit holds the edge's last minute. Coarse rows carry no labels.
 */
function coarseColumnSql(missing: Array<{ i: number; row: Row }>, ps: SqlParams): string {
  const ids = ps.add(missing.map((m) => m.row.edge_id));
  const v = `unnest(${ps.add(missing.map((m) => m.i))}::integer[], ${ps.add(missing.map((m) => iso(m.row.last_bucket)))}::timestamptz[],
        ${ids}::uuid[]) AS v(i, last_bucket, edge_id)`;
  return RESOLUTIONS.map((r) => {
    // Units start at multiples of their length since the epoch (UTC), as date_bin's origin.
    const units = new Set(
      missing.map((m) => new Date(Math.floor(Date.parse(iso(m.row.last_bucket)) / r.unitMs) * r.unitMs).toISOString()),
    );
    return `SELECT v.i, ${EDGE_VALUES} FROM ${v}
      JOIN (SELECT bucket, ${EDGE_ID_SQL} AS edge_id, ${GROUP} FROM ${r.table}
        WHERE bucket = ANY(${ps.add([...units])}::timestamptz[]) AND ${EDGE_ID_SQL} = ANY(${ids}::uuid[])) e
        ON e.bucket = date_bin('${r.interval}', v.last_bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AND e.edge_id = v.edge_id
      GROUP BY v.i`;
  }).join('\n      UNION ALL ');
}

/**
 * The window's edges (a page of them when `page` is given) with their columns and latest labels.
 * One transaction: the partitions the list read cannot be dropped by retention before the
 * columns are looked up.
 */
async function edgeRows(db: Queryable, f: DropFilters, page?: Page): Promise<Row[]> {
  const ps = new SqlParams();
  const source = await rollupSource(db, f, ps, { columns: EDGE_SOURCE_COLUMNS });
  return reading(db, async (q) =>
    withColumns(
      q,
      await rows(q, edgeSql(source, page ? ` LIMIT ${ps.add(page.limit)} OFFSET ${ps.add(page.offset)}` : ''), ps),
    ),
  );
}

/** The listed edges (edgeSql's rows) with their columns and latest labels (see edgeRows). */
async function withColumns(q: Queryable, found: Row[]): Promise<Row[]> {
  if (found.length === 0) return found;
  const cps = new SqlParams();
  const columns = new Map((await rows(q, columnSql(found, cps), cps)).map((c) => [num(c.i), c]));
  const missing = found.flatMap((row, i) => (columns.has(i) ? [] : [{ i, row }]));
  if (missing.length > 0) {
    const mps = new SqlParams();
    for (const c of await rows(q, coarseColumnSql(missing, mps), mps))
      if (!columns.has(num(c.i))) columns.set(num(c.i), { ...c, src_labels: null, dst_labels: null });
  }
  // Not found at all cannot happen while this transaction holds the partitions it read; an edge
  // without its columns could not be shown, so it would be left out rather than fail the page.
  return found.flatMap((r, i) => {
    const c = columns.get(i);
    return c === undefined ? [] : [{ ...r, ...c }];
  });
}

interface Page {
  limit: number;
  offset: number;
}

/**
 * When more than this share of a window's units is missing, the request reads every row as
 * before and the units are read in the background: reading them by unit costs more than reading
 * the window whole (one group per unit and edge instead of per edge).
 */
const SYNC_FILL_SHARE = 0.25;

/**
 * A unit's (or the uncached segments') edges, summed per edge id and packed into one bytea of
 * PACKED_EDGE_BYTES per edge (the id, the direction bits, six float8: counters and times in ms).
 * One value per unit instead of a row per edge: node-postgres then parses one hex string, not
 * ~10,000 rows of nine fields (that parse was ~3 µs a row, three times PostgreSQL's own work).
 */
const PACKED_EDGE_SUMS = `SELECT count(*)::int AS n, string_agg(uuid_send(edge_id) || int2send(directions::int2)
    || float8send(count) || float8send(packets) || float8send(bytes)
    || float8send(first_seen) || float8send(last_seen) || float8send(last_bucket), ''::bytea) AS packed
  FROM (SELECT edge_id,
      bit_or(CASE direction WHEN 'ingress' THEN ${INGRESS} WHEN 'egress' THEN ${EGRESS} WHEN 'unknown' THEN ${UNKNOWN_DIRECTION} ELSE 0 END) AS directions,
      sum(count::float8) AS count, sum(packets::float8) AS packets, sum(bytes::float8) AS bytes,
      floor(extract(epoch FROM min(first_seen)) * 1000)::float8 AS first_seen,
      floor(extract(epoch FROM max(last_seen)) * 1000)::float8 AS last_seen,
      floor(extract(epoch FROM max(last_bucket)) * 1000)::float8 AS last_bucket
    FROM`;
const PACKED_EDGE_BYTES = 16 + 2 + 6 * 8;

/** PACKED_EDGE_SUMS's value as edge sums. */
function unpackEdgeSums(r: Row): EdgeSums[] {
  const n = num(r.n);
  if (n === 0) return [];
  const b = r.packed as Buffer;
  if (b.length !== n * PACKED_EDGE_BYTES) throw new Error(`packed edge sums: ${b.length} bytes for ${n} edges`);
  const out = new Array<EdgeSums>(n);
  for (let i = 0, o = 0; i < n; i++, o += PACKED_EDGE_BYTES) {
    const hex = b.toString('hex', o, o + 16);
    out[i] = {
      id: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
      directions: b.readInt16BE(o + 16),
      count: b.readDoubleBE(o + 18),
      packets: b.readDoubleBE(o + 26),
      bytes: b.readDoubleBE(o + 34),
      firstSeen: b.readDoubleBE(o + 42),
      lastSeen: b.readDoubleBE(o + 50),
      lastBucket: b.readDoubleBE(o + 58),
    };
  }
  return out;
}

/** The cache key of a window's filters (every filter but the time range). */
function filterKey(f: DropFilters): string {
  return JSON.stringify(
    Object.entries(f)
      .filter(([k, v]) => k !== 'from' && k !== 'to' && v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}

function unitKey(u: UnitRef, filters: string): string {
  return `${u.table}|${u.start}|${filters}`;
}

/** An edge's sums as edgeSql's row. */
function sumsRow(e: EdgeSums): Row {
  return {
    edge_id: e.id,
    ingress: (e.directions & INGRESS) !== 0,
    egress: (e.directions & EGRESS) !== 0,
    unknown_direction: (e.directions & UNKNOWN_DIRECTION) !== 0,
    count: e.count,
    packets: e.packets,
    bytes: e.bytes,
    first_seen: new Date(e.firstSeen),
    last_seen: new Date(e.lastSeen),
    last_bucket: new Date(e.lastBucket),
  };
}

/** The columns a unit's rows are summed from; `last_bucket` from the minute itself for minutes. */
function unitColumns(table: string): string {
  return `${EDGE_ID_SQL} AS edge_id, direction, count, packets, bytes, first_seen, last_seen,
    ${table === 'edge_rollups' ? 'bucket' : 'last_bucket'} AS last_bucket`;
}

/**
 * Each of `units`' edges (one query per unit: a unit's hash of ~10,000 edges stays in the CPU's
 * caches, where one grouping by unit and edge over a day's units took ~3 times as long), and the
 * edges of the `uncached` units summed over all of them.
 */
async function unitSums(
  q: Queryable,
  f: DropFilters,
  units: readonly UnitRef[],
  uncached: readonly UnitRef[],
): Promise<{ units: EdgeSums[][]; uncached: EdgeSums[] }> {
  // Table names come from the fixed roll-up tables (rollup-source.ts), never from a request.
  const select = (u: UnitRef, ps: SqlParams) =>
    `SELECT ${unitColumns(u.table)} FROM ${u.table} WHERE ${timeRange('bucket', u.start, u.end, ps)} AND ${filterClause(f, ROLLUPS, ps)}`;
  const byUnit: EdgeSums[][] = [];
  for (const u of units) {
    const ps = new SqlParams();
    byUnit.push(unpackEdgeSums((await rows(q, `${PACKED_EDGE_SUMS} (${select(u, ps)}) r GROUP BY edge_id) g`, ps))[0]));
  }
  if (uncached.length === 0) return { units: byUnit, uncached: [] };
  const ps = new SqlParams();
  const parts = uncached.map((u) => select(u, ps));
  const sql = `${PACKED_EDGE_SUMS} (${parts.join('\n  UNION ALL ')}) r GROUP BY edge_id) g`;
  return { units: byUnit, uncached: unpackEdgeSums((await rows(q, sql, ps))[0]) };
}

interface MissingUnit {
  unit: UnitRef;
  key: string;
  version: string;
}

/**
 * The edge list from units kept in `cache` (see edge-unit-cache.ts): closed units, versioned by
 * the generations of their hours, and open minutes, versioned by their writers' counts. Units
 * missing or changed are read with the request when they are few; when many (a first request, a
 * window moved far), returns what reads them, for the caller to run once it has read the whole
 * window as before. Null when the window has no units to keep, or the cache was cleared meanwhile:
 * the caller reads the window whole. A unit's version is read before its rows, so a write between
 * the two only makes the next request read the unit again.
 */
async function cachedEdgeRows(
  db: Queryable,
  f: DropFilters,
  page: Page | undefined,
  cache: EdgeUnitCache,
  /** Null when nothing is closed yet (a new database: every minute of the window is open). */
  onlyWithClosedUnits = false,
): Promise<Row[] | null | (() => Promise<void>)> {
  const marks = await closedThrough(db);
  if (onlyWithClosedUnits && (marks.get('5m') ?? null) === null) return null;
  const split = windowUnits(rollupSegments(f, marks), marks.get('5m') ?? null);
  const closed = split.units.filter((u) => cache.usable(u));
  const openMinutes = split.open.filter((u) => cache.usable(u));
  // Units of a day retention may drop soon are read every time (a drop bumps no generation).
  const uncached = [...split.units, ...split.open].filter((u) => !cache.usable(u));
  if (closed.length + openMinutes.length === 0) return null;
  const filters = filterKey(f);
  const wanted: MissingUnit[] = [];
  if (closed.length > 0) {
    const gens = await generations(
      db,
      Math.floor(Math.min(...closed.map((u) => u.start)) / HOUR_MS) * HOUR_MS,
      Math.max(...closed.map((u) => u.end)),
    );
    for (const unit of closed) wanted.push({ unit, key: unitKey(unit, filters), version: unitVersion(unit, gens) });
  }
  if (openMinutes.length > 0) {
    const writes = await minuteWrites(db, openMinutes[0].start, openMinutes[openMinutes.length - 1].end);
    for (const unit of openMinutes)
      wanted.push({ unit, key: `open|${unitKey(unit, filters)}`, version: writes.get(unit.start) ?? '' });
  }
  const kept: UnitEdges[] = [];
  const missing: MissingUnit[] = [];
  for (const w of wanted) {
    const unit = cache.get(w.key, w.version);
    if (unit) kept.push(unit);
    else missing.push(w);
  }
  const store = (m: MissingUnit, sums: EdgeSums[]): UnitEdges => {
    const u = cache.unit(sums);
    cache.set(m.key, m.version, u);
    return u;
  };
  const read = (q: Queryable, alsoUncached: boolean) =>
    unitSums(
      q,
      f,
      missing.map((m) => m.unit),
      alsoUncached ? uncached : [],
    );
  if (missing.length > wanted.length * SYNC_FILL_SHARE)
    return async () => {
      await reading(db, async (q) => {
        const found = await read(q, false);
        missing.forEach((m, i) => store(m, found.units[i]));
      });
    };
  return reading(db, async (q) => {
    const found = await read(q, true);
    // From here to the page's rows without a pause: the totals add into the cache's scratch.
    let edges: EdgeSums[];
    try {
      const totals = cache.totals();
      for (const u of kept) totals.addUnit(u);
      missing.forEach((m, i) => totals.addUnit(store(m, found.units[i])));
      for (const e of found.uncached) totals.add(e);
      edges = page ? totals.sorted(page.offset, page.limit) : totals.sorted();
    } catch (e) {
      // The id table was cleared while this request waited: read every row instead.
      if (e instanceof StaleUnitError) return null;
      throw e;
    }
    return withColumns(q, edges.map(sumsRow));
  });
}

function endpointView(r: Row, side: 'src' | 'dst'): EdgeEndpointView {
  return {
    kind: String(r[`${side}_kind`]),
    namespace: orNull(r[`${side}_namespace`]),
    workload: orNull(r[`${side}_workload`]),
    labels: parseJson<Record<string, string>>(r[`${side}_labels`]),
  };
}

/** The roll-ups store an address-only endpoint's IP in the workload column. */
function observedEndpoint(r: Row, side: 'src' | 'dst'): ObservedEndpoint {
  const v = endpointView(r, side);
  const address = v.workload !== null && isIP(v.workload) !== 0 ? v.workload : null;
  return { ...v, workload: address === null ? v.workload : null, address };
}

function portFields(r: Row): { dstPort: number | null; icmpType: number | null; protocol: string } {
  const protocol = String(r.protocol);
  const port = num(r.dst_port);
  return isIcmpProtocol(protocol)
    ? { dstPort: null, icmpType: port, protocol }
    : { dstPort: port, icmpType: null, protocol };
}

function directions(r: Row): string[] {
  return (['egress', 'ingress', 'unknown'] as const).filter((d) =>
    Boolean(r[d === 'unknown' ? 'unknown_direction' : d]),
  );
}

/** What the reader keeps between requests: units' edges, and who hears of a failed fill. */
export interface EdgeReaderCache {
  units: EdgeUnitCache;
  log: Logger;
}

/** A background fill of the cache: the window and filters whose units it reads. */
interface Fill {
  done: Promise<void>;
  filters: string;
  from: number;
  to: number;
}

/**
 * Whether a request for `f` gains from waiting for `fill`: the same filters over mostly the same
 * time (a dashboard's window, moved on by the clock). Otherwise the fill would leave too many of
 * the request's units missing, and the request would read every row after waiting.
 */
function fillServes(fill: Fill, f: DropFilters): boolean {
  if (fill.filters !== filterKey(f)) return false;
  const overlap = Math.min(fill.to, f.to) - Math.max(fill.from, f.from);
  return overlap >= (f.to - f.from) * (1 - SYNC_FILL_SHARE);
}

export class PostgresEdgeReader implements EdgeReader {
  private filling: Fill | null = null;

  constructor(
    private readonly db: Queryable,
    private readonly cache?: EdgeReaderCache,
  ) {}

  /** Resolves once no background fill of the cache is running (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.filling) await this.filling.done;
  }

  /**
   * Reads the units of `f`'s window into the cache in the background, so that the first request
   * for that window after a start finds them kept rather than reading every row and then waiting
   * for a fill (the API warms its default window: api/edge-list-warmup.ts). Does nothing without
   * a cache or while another fill runs; requests it serves wait for it, as for any fill. Skipped
   * on a database where no unit is closed yet: each minute of the window would be a unit of its
   * own, read one query each.
   */
  warm(f: DropFilters): void {
    const cache = this.cache;
    if (!cache) return;
    this.fillLater(f, async () => {
      const read = await cachedEdgeRows(this.db, f, undefined, cache.units, true);
      // Few units missing (a window already kept): they were read and kept just now.
      if (typeof read === 'function') await read();
    });
  }

  /** One background fill at a time (of `f`'s units); requests it serves wait for it (rows()). */
  private fillLater(f: DropFilters, fill: () => Promise<void>): void {
    if (this.filling) return;
    const done = fill()
      .catch((e: unknown) => this.cache?.log.warn('edge list cache fill failed', { error: String(e) }))
      .finally(() => {
        this.filling = null;
      });
    this.filling = { done, filters: filterKey(f), from: f.from, to: f.to };
  }

  /**
   * `fill`: whether a window missing most of its units is read into the cache afterwards. The
   * edge list's windows come back (dashboards); the suggestions' (a namespace, days long) mostly
   * do not, and their fill would cost the database as much again for nothing.
   */
  private async rows(f: DropFilters, page: Page | undefined, fill: boolean): Promise<Row[]> {
    // A fill under way of this window (dashboards repeat their requests): waiting for it costs
    // less than reading every row beside it. Other windows and filters do not wait.
    const running = this.filling;
    if (running && fillServes(running, f)) await running.done;
    const cached = this.cache ? await cachedEdgeRows(this.db, f, page, this.cache.units) : null;
    if (Array.isArray(cached)) return cached;
    const found = await edgeRows(this.db, f, page);
    // After the answer is read: the fill competes with nothing this request waits for.
    if (cached && fill) this.fillLater(f, cached);
    return found;
  }

  async edges(f: DropFilters, limit: number, offset: number): Promise<ReaderPage<EdgeItem, number>> {
    const found = await this.rows(f, { limit: limit + 1, offset }, true);
    const more = found.length > limit;
    const items = (more ? found.slice(0, limit) : found).map((r): EdgeItem => ({
      cluster: String(r.cluster),
      src: endpointView(r, 'src'),
      dst: endpointView(r, 'dst'),
      ...portFields(r),
      verdict: String(r.verdict),
      directions: directions(r),
      count: num(r.count),
      packets: num(r.packets),
      bytes: num(r.bytes),
      firstSeen: iso(r.first_seen),
      lastSeen: iso(r.last_seen),
    }));
    return { items, next: more ? offset + limit : null };
  }

  async observedEdges(w: EdgeWindow): Promise<ObservedEdge[]> {
    const f: DropFilters = { from: w.from, to: w.to, verdict: [...VERDICTS] };
    if (w.namespace !== undefined) f.namespace = w.namespace;
    if (w.cluster !== undefined) f.cluster = w.cluster;
    return (await this.rows(f, undefined, false)).map((r): ObservedEdge => ({
      cluster: String(r.cluster),
      src: observedEndpoint(r, 'src'),
      dst: observedEndpoint(r, 'dst'),
      ...portFields(r),
      verdict: String(r.verdict),
      directions: directions(r),
      count: num(r.count),
      firstSeen: iso(r.first_seen),
      lastSeen: iso(r.last_seen),
    }));
  }
}
