import type { DataSource } from 'typeorm';
import {
  CheckpointConflictError,
  StaleGenerationError,
  type ClaimedStream,
  type StreamCheckpoint,
} from '../bus/flow-bus.js';
import type { CheckpointStore } from './ports.js';
import { column, type SqlExecutor } from './sql-executor.js';

/**
 * Stores positions, fenced: a row whose stored generation is newer than the writer's is left alone
 * (the WHERE of the conflict update), and RETURNING tells which rows were written. A checkpoint
 * without a generation writes as generation 0, which only streams nobody claims ever hold.
 */
const UPSERT_CHECKPOINTS = `
INSERT INTO stream_checkpoints AS c (stream, position, generation, updated_at)
SELECT s, p, g, now() FROM unnest($1::text[], $2::text[], $3::bigint[]) AS t(s, p, g)
ON CONFLICT (stream) DO UPDATE SET position = EXCLUDED.position, updated_at = now()
  WHERE c.generation <= EXCLUDED.generation
RETURNING stream`;

/**
 * A claim bumps each stream's generation (creating the row, with no position, for a stream never
 * stored) and returns the position stored with it. The row lock orders it against writes: a write
 * committed before the claim is seen by it; a write of the older generation after it is refused.
 */
const CLAIM_STREAMS = `
INSERT INTO stream_checkpoints AS c (stream, position, generation, updated_at)
SELECT s, NULL, 1, now() FROM unnest($1::text[]) AS s
ON CONFLICT (stream) DO UPDATE SET generation = c.generation + 1, updated_at = now()
RETURNING stream, position, generation::text AS generation`;

/**
 * The stored positions of the streams ($1), locked until the transaction ends, so that no other
 * writer moves them between this check and the upsert.
 */
const LOCK_POSITIONS = `SELECT stream, position FROM stream_checkpoints WHERE stream = ANY($1::text[]) ORDER BY stream FOR UPDATE`;

/**
 * Upserts positions through `q` (the roll-up writer passes its transaction). Throws
 * StaleGenerationError when a newer generation holds any of the streams, and
 * CheckpointConflictError when a stream is not stored where its checkpoint continues from
 * (`after`), so the caller's transaction rolls back with everything the batch wrote.
 */
export async function upsertCheckpoints(q: SqlExecutor, checkpoints: readonly StreamCheckpoint[]): Promise<void> {
  if (checkpoints.length === 0) return;
  const checked = checkpoints.filter((c) => c.after !== undefined);
  if (checked.length > 0) {
    const rows = (await q.query(LOCK_POSITIONS, [column(checked, (c) => c.stream)])) as Array<{
      stream: string;
      position: string | null;
    }>;
    const stored = new Map(rows.map((r) => [r.stream, r.position]));
    const moved = checked.filter((c) => (stored.get(c.stream) ?? null) !== c.after);
    if (moved.length > 0) throw new CheckpointConflictError(moved.map((c) => c.stream));
  }
  const written = (await q.query(UPSERT_CHECKPOINTS, [
    column(checkpoints, (c) => c.stream),
    column(checkpoints, (c) => c.position),
    column(checkpoints, (c) => c.generation ?? 0),
  ])) as Array<{ stream: string }>;
  if (written.length === checkpoints.length) return;
  const ok = new Set(written.map((r) => r.stream));
  throw new StaleGenerationError(checkpoints.filter((c) => !ok.has(c.stream)).map((c) => c.stream));
}

/** stream_checkpoints in PostgreSQL. */
export class PostgresCheckpointStore implements CheckpointStore {
  constructor(private readonly ds: DataSource) {}

  async loadMany(streams: string[]): Promise<Map<string, string>> {
    const rows = (await this.ds.query(
      `SELECT stream, position FROM stream_checkpoints WHERE stream = ANY($1) AND position IS NOT NULL`,
      [streams],
    )) as Array<{ stream: string; position: string }>;
    return new Map(rows.map((r) => [r.stream, r.position]));
  }

  async load(stream: string): Promise<string | undefined> {
    return (await this.loadMany([stream])).get(stream);
  }

  save(checkpoints: StreamCheckpoint[]): Promise<void> {
    // A checked position is locked, compared and written in one transaction.
    if (checkpoints.some((c) => c.after !== undefined))
      return this.ds.transaction((m) => upsertCheckpoints(m, checkpoints));
    return upsertCheckpoints(this.ds, checkpoints);
  }

  async claim(streams: string[]): Promise<Map<string, ClaimedStream>> {
    if (streams.length === 0) return new Map();
    const rows = (await this.ds.query(CLAIM_STREAMS, [streams])) as Array<{
      stream: string;
      position: string | null;
      generation: string;
    }>;
    return new Map(
      rows.map((r) => [
        r.stream,
        r.position === null
          ? { generation: Number(r.generation) }
          : { position: r.position, generation: Number(r.generation) },
      ]),
    );
  }
}
