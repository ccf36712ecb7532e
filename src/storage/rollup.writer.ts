import { once } from 'node:events';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { DataSource, QueryRunner } from 'typeorm';
import type { DeadLetter, StreamCheckpoint } from '../bus/flow-bus.js';
import type { BatchRollup } from '../aggregator/edge-rollup.js';
import type { PreparedWrite, RollupWriter } from '../aggregator/rollup-writer.port.js';
import { upsertCheckpoints } from './checkpoint.store.js';
import { EVENT_COLUMNS, eventsToCopyText, ROLLUP_COLUMNS, rollupsToCopyText } from './copy-text.js';
import { insertDeadLetters } from './dead-letter.store.js';
import { addLateMinutes } from './rollup-closer.js';
import type { PartitionManager } from './partition.manager.js';

/**
 * Roll-ups are COPied into a session temp table, then upserted with one INSERT ... SELECT. COPY's
 * text format costs PostgreSQL a fraction of what json_to_recordset did (a JSON document parsed
 * into records), and Node builds the text about as fast as JSON.stringify. The table is emptied
 * at each commit; IF NOT EXISTS makes each transaction self-contained on whatever connection.
 */
const CREATE_ROLLUP_STAGE = `CREATE TEMP TABLE IF NOT EXISTS rollup_stage (${ROLLUP_COLUMNS.map(([c, t]) => `${c} ${t}`).join(', ')}) ON COMMIT DELETE ROWS`;
const COPY_ROLLUPS = `COPY rollup_stage (${ROLLUP_COLUMNS.map(([c]) => c).join(', ')}) FROM STDIN`;

const UPSERT_ROLLUPS = `
INSERT INTO edge_rollups (bucket, edge_key, cluster, src_kind, src_namespace, src_workload, src_labels,
  dst_kind, dst_namespace, dst_workload, dst_labels, dst_port, protocol, verdict, direction, drop_reason,
  attribution_level, policies, source, count, packets, bytes, first_seen, last_seen)
SELECT bucket, edge_key, cluster, src_kind, src_namespace, src_workload, src_labels,
  dst_kind, dst_namespace, dst_workload, dst_labels, dst_port, protocol, verdict, direction, drop_reason,
  attribution_level, policies, source, count, packets, bytes,
  to_timestamp(first_seen / 1000.0), to_timestamp(last_seen / 1000.0)
FROM rollup_stage
ON CONFLICT (bucket, edge_key) DO UPDATE SET
  count = edge_rollups.count + EXCLUDED.count,
  packets = edge_rollups.packets + EXCLUDED.packets,
  bytes = edge_rollups.bytes + EXCLUDED.bytes,
  first_seen = LEAST(edge_rollups.first_seen, EXCLUDED.first_seen),
  last_seen = GREATEST(edge_rollups.last_seen, EXCLUDED.last_seen),
  src_labels = COALESCE(edge_rollups.src_labels, EXCLUDED.src_labels),
  dst_labels = COALESCE(edge_rollups.dst_labels, EXCLUDED.dst_labels)`;

/** Events go in with COPY: PostgreSQL's fastest ingest path (text format, one row per line). */
const COPY_EVENTS = `COPY drop_events (${EVENT_COLUMNS.join(', ')}) FROM STDIN`;

/** A batch serialized for one transaction. */
export interface PreparedBatch {
  days: Set<number>;
  /** Roll-up rows in COPY text format. */
  rollups?: string;
  /** The earliest roll-up bucket of the batch (ISO; they sort as times). */
  firstBucket?: string;
  deadLetters: DeadLetter[];
  checkpoints: StreamCheckpoint[];
  /** Drop events in COPY text format. */
  events?: string;
  /** Roll-up rows this batch stores labels of, with the sides (remembered once committed). */
  labelled: Array<[string, number]>;
}

/** Bound on remembered labelled roll-up rows (about a few minutes of a busy cluster). */
const MAX_LABELLED = 50_000;

/** Sides of a row whose labels are stored (PostgresRollupWriter.labelled). */
const SRC = 1;
const DST = 2;

/** Streams COPY text through the transaction's own connection. */
async function copyIn(runner: QueryRunner | undefined, sql: string, text: string): Promise<void> {
  if (!runner) throw new Error('COPY needs the transaction query runner');
  const client = (await runner.connect()) as pg.PoolClient;
  const stream = client.query(copyFrom(sql));
  const done = new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
  });
  const CHUNK = 1 << 20;
  for (let i = 0; i < text.length; i += CHUNK) {
    if (!stream.write(text.slice(i, i + CHUNK))) await once(stream, 'drain');
  }
  stream.end();
  await done;
}

/**
 * Writes one aggregated batch: roll-up upserts, drop events, dead letters and the stream
 * checkpoints, in ONE transaction. That transaction is what makes delivery exactly-once: the
 * positions become durable if and only if the data they cover does. Each table gets one
 * parameterized statement per batch (a JSON document through json_to_recordset, or COPY).
 */
export class PostgresRollupWriter implements RollupWriter {
  /**
   * Roll-up rows (bucket + edge key) this process has stored labels of, and which sides (SRC |
   * DST). Later upserts of the same row send no labels for those sides, sparing PostgreSQL a
   * jsonb parse per row: the upsert keeps stored labels anyway (the first labels seen win), so
   * what is stored does not depend on when a write learns of an earlier one.
   */
  private readonly labelled = new Map<string, number>();

  constructor(
    private readonly ds: DataSource,
    private readonly partitions: PartitionManager,
  ) {}

  async writeBatch(batch: BatchRollup, checkpoints: StreamCheckpoint[], deadLetters: DeadLetter[]): Promise<void> {
    await this.prepare(batch, checkpoints, deadLetters).commit();
  }

  /**
   * The CPU half of a write (serializing the batch), done synchronously so that the aggregator
   * can prepare the next batch while PostgreSQL stores the previous one.
   */
  prepare(batch: BatchRollup, checkpoints: StreamCheckpoint[], deadLetters: DeadLetter[]): PreparedWrite {
    const p = this.serialize(batch, checkpoints, deadLetters);
    return { commit: () => this.writePrepared(p) };
  }

  private serialize(batch: BatchRollup, checkpoints: StreamCheckpoint[], deadLetters: DeadLetter[]): PreparedBatch {
    const labelled: Array<[string, number]> = [];
    let firstBucket: string | undefined;
    for (const row of batch.rollups.values()) {
      if (firstBucket === undefined || row.bucket < firstBucket) firstBucket = row.bucket;
      const k = `${row.bucket}|${row.edge_key}`;
      const stored = this.labelled.get(k) ?? 0;
      if (stored & SRC) row.src_labels = null;
      if (stored & DST) row.dst_labels = null;
      const sides = (row.src_labels ? SRC : 0) | (row.dst_labels ? DST : 0);
      if (sides) labelled.push([k, stored | sides]);
    }
    // Rows folded in worker threads, by their roll-up key: the same string as above while the
    // edge key is stored as is (short keys), so a row is remembered once whichever way it came.
    for (const [k, row] of batch.formatted) {
      if (firstBucket === undefined || row.bucket < firstBucket) firstBucket = row.bucket;
      const stored = this.labelled.get(k) ?? 0;
      if (stored & SRC) row.srcLabels = null;
      if (stored & DST) row.dstLabels = null;
      const sides = (row.srcLabels !== null ? SRC : 0) | (row.dstLabels !== null ? DST : 0);
      if (sides) labelled.push([k, stored | sides]);
    }
    const rows = batch.rollups.size + batch.formatted.size;
    let events = batch.events.length > 0 ? eventsToCopyText(batch.events) : '';
    for (const t of batch.eventTexts) events += t;
    return {
      days: batch.days,
      rollups: rows > 0 ? rollupsToCopyText(batch.rollups.values(), batch.formatted.values()) : undefined,
      firstBucket,
      events: events.length > 0 ? events : undefined,
      deadLetters,
      checkpoints,
      labelled,
    };
  }

  private async writePrepared(p: PreparedBatch): Promise<void> {
    try {
      await this.write(p);
    } catch (e) {
      // Retention on another instance may have dropped a partition this one believes exists.
      if (!/no partition of relation/.test(String(e))) throw e;
      this.partitions.forget();
      await this.write(p);
    }
    if (this.labelled.size + p.labelled.length > MAX_LABELLED) this.labelled.clear();
    for (const [k, sides] of p.labelled) this.labelled.set(k, (this.labelled.get(k) ?? 0) | sides);
  }

  private async write(p: PreparedBatch): Promise<void> {
    await this.partitions.ensure(p.days);
    await this.ds.transaction(async (m) => {
      // Room for the upsert's sorts and hashes of a big flush without spilling to disk.
      // No wait for the WAL flush at commit: an OS crash can then lose the last commits, but
      // only whole transactions, checkpoints included, so sources replay them (still exactly once).
      await m.query(`SET LOCAL work_mem = '64MB'; SET LOCAL synchronous_commit = off`);
      if (p.rollups) {
        await m.query(CREATE_ROLLUP_STAGE);
        await copyIn(m.queryRunner, COPY_ROLLUPS, p.rollups);
        await m.query(UPSERT_ROLLUPS);
      }
      if (p.events) await copyIn(m.queryRunner, COPY_EVENTS, p.events);
      // Minutes in an already closed hour or day go to its rows too (see rollup-closer.ts); they
      // are read from rollup_stage, which holds the batch's rows until the commit.
      if (p.rollups && p.firstBucket) await addLateMinutes(m, p.firstBucket);
      await insertDeadLetters(m, p.deadLetters);
      await upsertCheckpoints(m, p.checkpoints);
    });
  }
}
