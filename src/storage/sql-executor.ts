/** Anything that runs a parameterized statement: a DataSource or a transaction's EntityManager. */
export interface SqlExecutor {
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
}

/** One column of `rows` as an array (the parameter of an `unnest($1::type[])`). */
export function column<T, V>(rows: readonly T[], pick: (r: T) => V): V[] {
  const out = new Array<V>(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = pick(rows[i]);
  return out;
}
