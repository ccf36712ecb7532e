import type { DeadLetter } from '../bus/flow-bus.js';
import { column, type SqlExecutor } from './sql-executor.js';

const INSERT_DEAD_LETTERS = `
INSERT INTO dead_letters (origin, reason, raw) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])`;

/** Inserts dead letters through `q` (the roll-up writer passes its transaction). */
export async function insertDeadLetters(q: SqlExecutor, letters: readonly DeadLetter[]): Promise<void> {
  if (letters.length === 0) return;
  await q.query(INSERT_DEAD_LETTERS, [
    column(letters, (d) => d.origin),
    column(letters, (d) => d.reason),
    column(letters, (d) => d.raw),
  ]);
}
