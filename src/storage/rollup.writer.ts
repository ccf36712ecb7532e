import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { DataSource, QueryRunner } from 'typeorm';
import type { DeadLetter, StreamCheckpoint } from '../bus/flow-bus.js';
import type { BatchRollup } from '../aggregator/edge-rollup.js';
import type { PreparedWrite, RollupWriter } from '../aggregator/rollup-writer.port.js';
import { upsertCheckpoints } from './checkpoint.store.js';
import { EVENT_COLUMNS, eventsToCopyText, formattedRollupLine, ROLLUP_COLUMNS, rollupLine } from './copy-text.js';
import { insertDeadLetters } from './dead-letter.store.js';
import { addLateMinutes, bumpMinuteWrites, lateMarks, type LateMarks } from './rollup-closer.js';
import type { PartitionManager } from './partition.manager.js';

/**
 * Roll-ups are COPied into a session temp table, then upserted with one INSERT ... SELECT. COPY's
 * text format costs PostgreSQL a fraction of what json_to_recordset did (a JSON document parsed
 * into records), and Node builds the text about as fast as JSON.stringify. The table is emptied
 * at each commit; IF NOT EXISTS makes each transaction self-contained on whatever connection.
 */
const CREATE_ROLLUP_STAGE = `CREATE TEMP TABLE IF NOT EXISTS rollup_stage (${ROLLUP_COLUMNS.map(([c, t]) => `${c} ${t}`).join(', ')}) ON COMMIT DELETE ROWS`;
const COPY_ROLLUPS = `COPY rollup_stage (${ROLLUP_COLUMNS.map(([c]) => c).join(', ')}) FROM STDIN`;
/** Rows no stored row can match go straight into the table (see PostgresRollupWriter.owned). */
const COPY_NEW_ROLLUPS = `COPY edge_rollups (${ROLLUP_COLUMNS.map(([c]) => c).join(', ')}) FROM STDIN`;
/** Which of the given minutes ($1) hold a roll-up row. */
const BUCKETS_WITH_ROWS = `SELECT b AS bucket FROM unnest($1::timestamptz[]) AS b
  WHERE EXISTS (SELECT 1 FROM edge_rollups r WHERE r.bucket = b)`;

const UPSERT_ROLLUPS = `
INSERT INTO edge_rollups (bucket, edge_key, edge_id, cluster, src_kind, src_namespace, src_workload, src_labels,
  dst_kind, dst_namespace, dst_workload, dst_labels, dst_port, protocol, verdict, direction, drop_reason,
  attribution_level, policies, source, count, packets, bytes, first_seen, last_seen)
SELECT bucket, edge_key, edge_id, cluster, src_kind, src_namespace, src_workload, src_labels,
  dst_kind, dst_namespace, dst_workload, dst_labels, dst_port, protocol, verdict, direction, drop_reason,
  attribution_level, policies, source, count, packets, bytes, first_seen, last_seen
FROM rollup_stage
ON CONFLICT (bucket, edge_key) DO UPDATE SET
  edge_id = COALESCE(edge_rollups.edge_id, EXCLUDED.edge_id),
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
  /** Roll-up rows to upsert, in COPY text format. */
  rollups?: string;
  /**
   * Roll-up rows this writer has not written before, by minute (ISO bucket), in COPY text format:
   * COPied straight into edge_rollups when no other writer has rows in their minute, else upserted.
   */
  fresh: Map<string, string>;
  /** The earliest roll-up bucket of the batch (ISO; they sort as times). */
  firstBucket?: string;
  /** Every minute the batch has roll-up rows in (ISO). */
  minutes: Set<string>;
  deadLetters: DeadLetter[];
  checkpoints: StreamCheckpoint[];
  /** Drop events in COPY text format: text, then bytes (runs of whole lines). */
  events?: string;
  eventChunks: Uint8Array[];
  /** Roll-up rows this batch stores labels of, with the sides (remembered once committed). */
  labelled: Array<[string, number]>;
}

/** Bound on remembered labelled roll-up rows (about a few minutes of a busy cluster). */
const MAX_LABELLED = 50_000;

/** Bound on the roll-up keys remembered per minute written (PostgresRollupWriter.written): about 8 MB. */
const MAX_WRITTEN_KEYS = 500_000;
/** Bound on the minutes remembered as holding other writers' rows. */
const MAX_SHARED_MINUTES = 100_000;

/** A roll-up key's hash, for PostgresRollupWriter.written (a small integer: a compact Set entry). */
function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h & 0x3fffffff;
}

function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: unknown; driverError?: { code?: unknown } };
  return err.code === '23505' || err.driverError?.code === '23505';
}

/** Sides of a row whose labels are stored (PostgresRollupWriter.labelled). */
const SRC = 1;
const DST = 2;

/** Streams COPY text through the transaction's own connection. */
async function copyIn(
  runner: QueryRunner | undefined,
  sql: string,
  text: string,
  chunks: readonly Uint8Array[] = [],
): Promise<void> {
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
  for (const c of chunks) if (!stream.write(c)) await once(stream, 'drain');
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

  /**
   * Plain COPY into edge_rollups costs PostgreSQL about half of COPY into the staging table plus
   * the upsert, but fails on a row that exists. A row cannot exist when its minute held no row when
   * this writer first wrote to it (`owned`, checked in that write's transaction) and this writer
   * has not written its key since (`written`: per minute, hashes of the keys handed to a write, so
   * a collision or a failed write only sends a row the safe way, through the upsert). Another
   * writer may still add rows to an owned minute later (a second import of the same times, serve):
   * the primary key then refuses our COPY, the transaction rolls back whole (checkpoints
   * included) and is written again with every row upserted, and the minute is no longer owned.
   */
  private readonly owned = new Set<string>();
  private readonly written = new Map<string, Set<number>>();
  private writtenKeys = 0;
  /** Minutes known to hold rows this writer did not write (or forgotten): always upserted. */
  private readonly shared = new Set<string>();
  /** This writer's rows in rollup_minute_writes (readers' cache of open minutes: rollup-closer.ts). */
  private readonly writerId = randomUUID();

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
    let upserts = '';
    const fresh = new Map<string, string>();
    const minutes = new Set<string>();
    let lastMinute = '';
    const route = (bucket: string, key: string, line: string) => {
      // Rows come mostly minute by minute: one Set lookup per change of minute.
      if (bucket !== lastMinute) minutes.add((lastMinute = bucket));
      if (!this.shared.has(bucket)) {
        let keys = this.written.get(bucket);
        if (keys === undefined) this.written.set(bucket, (keys = new Set()));
        const h = keyHash(key);
        if (!keys.has(h)) {
          keys.add(h);
          this.writtenKeys++;
          fresh.set(bucket, (fresh.get(bucket) ?? '') + line);
          return;
        }
      }
      upserts += line;
    };
    for (const row of batch.rollups.values()) {
      if (firstBucket === undefined || row.bucket < firstBucket) firstBucket = row.bucket;
      const k = `${row.bucket}|${row.edge_key}`;
      const stored = this.labelled.get(k) ?? 0;
      if (stored & SRC) row.src_labels = null;
      if (stored & DST) row.dst_labels = null;
      const sides = (row.src_labels ? SRC : 0) | (row.dst_labels ? DST : 0);
      if (sides) labelled.push([k, stored | sides]);
      route(row.bucket, k, rollupLine(row));
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
      route(row.bucket, k, formattedRollupLine(row));
    }
    this.forgetOldMinutes();
    const events = batch.events.length > 0 ? eventsToCopyText(batch.events) : '';
    return {
      days: batch.days,
      rollups: upserts.length > 0 ? upserts : undefined,
      fresh,
      firstBucket,
      minutes,
      events: events.length > 0 ? events : undefined,
      eventChunks: batch.eventChunks,
      deadLetters,
      checkpoints,
      labelled,
    };
  }

  /** Keeps `written` within its bound: the oldest minutes (an import goes forward in time) are forgotten. */
  private forgetOldMinutes(): void {
    if (this.writtenKeys <= MAX_WRITTEN_KEYS) return;
    if (this.shared.size > MAX_SHARED_MINUTES) this.shared.clear(); // such a minute is checked again
    for (const bucket of [...this.written.keys()].sort()) {
      if (this.writtenKeys <= MAX_WRITTEN_KEYS / 2) break;
      this.writtenKeys -= this.written.get(bucket)!.size;
      this.written.delete(bucket);
      this.owned.delete(bucket);
      this.shared.add(bucket);
    }
  }

  private async writePrepared(p: PreparedBatch): Promise<void> {
    let plainCopy = true;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.write(p, plainCopy);
        break;
      } catch (e) {
        if (attempt < 3 && plainCopy && p.fresh.size > 0 && isUniqueViolation(e)) {
          // Another writer stored one of these rows meanwhile: upsert them all (see `owned`).
          for (const bucket of p.fresh.keys()) {
            this.owned.delete(bucket);
            this.shared.add(bucket);
          }
          plainCopy = false;
        } else if (attempt < 3 && /no partition of relation/.test(String(e))) {
          // Retention on another instance may have dropped a partition this one believes exists.
          this.partitions.forget();
        } else throw e;
      }
    }
    if (this.labelled.size + p.labelled.length > MAX_LABELLED) this.labelled.clear();
    for (const [k, sides] of p.labelled) this.labelled.set(k, (this.labelled.get(k) ?? 0) | sides);
  }

  /** `plainCopy`: fresh rows in minutes no other writer has rows in go in by plain COPY. */
  private async write(p: PreparedBatch, plainCopy: boolean): Promise<void> {
    await this.partitions.ensure(p.days);
    const nowOwned: string[] = [];
    await this.ds.transaction(async (m) => {
      // Room for the upsert's sorts and hashes of a big flush without spilling to disk.
      // No wait for the WAL flush at commit: an OS crash can then lose the last commits, but
      // only whole transactions, checkpoints included, so sources replay them (still exactly once).
      await m.query(`SET LOCAL work_mem = '64MB'; SET LOCAL synchronous_commit = off`);
      let upserts = p.rollups ?? '';
      let plain = '';
      // Late minutes are read back from rollup_stage (addLateMinutes): then every row goes there.
      // The marks are read here only when the choice needs them; else last, to lock them briefly.
      let late: LateMarks | undefined;
      if (p.fresh.size > 0 && plainCopy && p.firstBucket) late = await lateMarks(m, p.firstBucket);
      if (p.fresh.size > 0 && plainCopy && (late === undefined || late.length === 0)) {
        const unknown = [...p.fresh.keys()].filter((b) => !this.owned.has(b));
        const taken = new Set<string>();
        if (unknown.length > 0)
          for (const { bucket } of (await m.query(BUCKETS_WITH_ROWS, [unknown])) as Array<{ bucket: Date }>)
            taken.add(bucket.toISOString());
        for (const [bucket, text] of p.fresh) {
          if (taken.has(bucket)) {
            this.shared.add(bucket); // a fact about the table, whether or not this commits
            upserts += text;
          } else {
            plain += text;
            if (!this.owned.has(bucket)) nowOwned.push(bucket);
          }
        }
      } else for (const text of p.fresh.values()) upserts += text;
      if (plain) await copyIn(m.queryRunner, COPY_NEW_ROLLUPS, plain);
      if (upserts) {
        await m.query(CREATE_ROLLUP_STAGE);
        await copyIn(m.queryRunner, COPY_ROLLUPS, upserts);
        await m.query(UPSERT_ROLLUPS);
      }
      if (p.events || p.eventChunks.length > 0) await copyIn(m.queryRunner, COPY_EVENTS, p.events ?? '', p.eventChunks);
      // Minutes in an already closed hour or day go to its rows too (see rollup-closer.ts); they
      // are read from rollup_stage, which holds the batch's rows until the commit.
      if (upserts && p.firstBucket) await addLateMinutes(m, late ?? (await lateMarks(m, p.firstBucket)));
      if (p.minutes.size > 0) await bumpMinuteWrites(m, this.writerId, [...p.minutes]);
      await insertDeadLetters(m, p.deadLetters);
      await upsertCheckpoints(m, p.checkpoints);
    });
    for (const bucket of nowOwned) this.owned.add(bucket);
  }
}
