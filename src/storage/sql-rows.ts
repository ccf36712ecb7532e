/** What the read repositories need from a database client, and the row-value conversions they share. */
import type { SqlParams } from './sql-filters.js';

/** Any `query(sql, params)` client: a TypeORM DataSource, a pg Pool. */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
  /** When available (a TypeORM DataSource), heavy queries run in a transaction with more work_mem. */
  transaction?<T>(run: (m: { query(sql: string, params?: unknown[]): Promise<unknown> }) => Promise<T>): Promise<T>;
}

export type Row = Record<string, unknown>;

export async function rows(db: Queryable, sql: string, ps: SqlParams): Promise<Row[]> {
  return (await db.query(sql, ps.values)) as Row[];
}

/**
 * Runs `read` in one transaction with more work_mem when the client can (a TypeORM DataSource),
 * so PostgreSQL groups a day of roll-ups in memory (hash aggregate) instead of sorting on disk.
 */
export async function reading<T>(db: Queryable, read: (q: Queryable) => Promise<T>): Promise<T> {
  if (!db.transaction) return read(db);
  return db.transaction(async (m) => {
    await m.query(`SET LOCAL work_mem = '64MB'`);
    return read(m);
  });
}

/** One aggregate query over roll-ups, as `reading` runs it. */
export function aggregateRows(db: Queryable, sql: string, ps: SqlParams): Promise<Row[]> {
  return reading(db, (q) => rows(q, sql, ps));
}

export function iso(v: unknown): string {
  return v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString();
}

export function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

/** Empty strings in the store come out as null. */
export function orNull(v: unknown): string | null {
  return v === '' || v === null || v === undefined ? null : String(v);
}

export function parseJson<T>(v: unknown): T | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return JSON.parse(v) as T;
  return v as T;
}
