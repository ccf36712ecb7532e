import type { DataSource } from 'typeorm';
import type { StreamCheckpoint } from '../bus/flow-bus.js';
import type { CheckpointStore } from './ports.js';
import { column, type SqlExecutor } from './sql-executor.js';

const UPSERT_CHECKPOINTS = `
INSERT INTO stream_checkpoints (stream, position, updated_at)
SELECT s, p, now() FROM unnest($1::text[], $2::text[]) AS t(s, p)
ON CONFLICT (stream) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`;

/** Upserts positions through `q` (the roll-up writer passes its transaction). */
export async function upsertCheckpoints(q: SqlExecutor, checkpoints: readonly StreamCheckpoint[]): Promise<void> {
  if (checkpoints.length === 0) return;
  await q.query(UPSERT_CHECKPOINTS, [column(checkpoints, (c) => c.stream), column(checkpoints, (c) => c.position)]);
}

/** stream_checkpoints in PostgreSQL. */
export class PostgresCheckpointStore implements CheckpointStore {
  constructor(private readonly ds: DataSource) {}

  async loadMany(streams: string[]): Promise<Map<string, string>> {
    const rows = (await this.ds.query(`SELECT stream, position FROM stream_checkpoints WHERE stream = ANY($1)`, [
      streams,
    ])) as Array<{ stream: string; position: string }>;
    return new Map(rows.map((r) => [r.stream, r.position]));
  }

  async load(stream: string): Promise<string | undefined> {
    return (await this.loadMany([stream])).get(stream);
  }

  save(checkpoints: StreamCheckpoint[]): Promise<void> {
    return upsertCheckpoints(this.ds, checkpoints);
  }
}
