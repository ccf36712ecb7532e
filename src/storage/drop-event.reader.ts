/** Drop events from drop_events (PostgreSQL), keyset-paginated on (time, id). */
import type {
  DropAttributionView,
  DropEventReader,
  DropFilters,
  DropItem,
  DropPosition,
  ReaderPage,
} from './readers.js';
import { EVENTS, SqlParams, whereClause } from './sql-filters.js';
import { parseJson, rows, type Queryable, type Row } from './sql-rows.js';

export class PostgresDropEventReader implements DropEventReader {
  constructor(private readonly db: Queryable) {}

  async listDrops(f: DropFilters, limit: number, after?: DropPosition): Promise<ReaderPage<DropItem, DropPosition>> {
    const ps = new SqlParams();
    let where = whereClause(f, EVENTS, ps);
    if (after) where += ` AND (time, id) < (${ps.add(after.time)}::timestamptz, ${ps.add(after.id)}::bigint)`;
    const sql = `SELECT id::text AS id,
        to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS time_key,
        attribution_level, attribution::text AS attribution, record::text AS record
      FROM drop_events WHERE ${where}
      ORDER BY time DESC, id DESC LIMIT ${ps.add(limit + 1)}`;
    const found = await rows(this.db, sql, ps);
    const more = found.length > limit;
    const page = more ? found.slice(0, limit) : found;
    const last = page[page.length - 1];
    return {
      items: page.map(toDropItem),
      next: more && last ? { time: String(last.time_key), id: String(last.id) } : null,
    };
  }
}

function toDropItem(r: Row): DropItem {
  const record = parseJson<Record<string, unknown>>(r.record) ?? {};
  const att = parseJson<Partial<DropAttributionView>>(r.attribution);
  const attribution: DropAttributionView = {
    level: att?.level ?? (String(r.attribution_level ?? '') || 'unknown'),
    policies: att?.policies ?? [],
  };
  if (att?.isolatedBy !== undefined) attribution.isolatedBy = att.isolatedBy;
  if (att?.reason !== undefined) attribution.reason = att.reason;
  const { id: flowId, ...rest } = record;
  return {
    id: String(r.id),
    flowId: typeof flowId === 'string' ? flowId : String(flowId ?? ''),
    ...rest,
    time: typeof rest.time === 'string' ? rest.time : String(r.time_key),
    attribution,
  };
}
