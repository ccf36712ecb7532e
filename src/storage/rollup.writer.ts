import { once } from 'node:events';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { DataSource, QueryRunner } from 'typeorm';
import type { DeadLetter, StreamCheckpoint } from '../bus/flow-bus.js';
import type { BatchRollup, DropEventRow } from '../aggregator/edge-rollup.js';
import type { PreparedWrite, RollupWriter } from '../aggregator/rollup-writer.port.js';
import { upsertCheckpoints } from './checkpoint.store.js';
import { insertDeadLetters } from './dead-letter.store.js';
import { addLateMinutes } from './rollup-closer.js';
import type { PartitionManager } from './partition.manager.js';
import { ROLLUP_COLUMNS } from './rollup-columns.js';

const UPSERT_ROLLUPS = `
INSERT INTO edge_rollups (bucket, edge_key, cluster, src_kind, src_namespace, src_workload, src_labels,
  dst_kind, dst_namespace, dst_workload, dst_labels, dst_port, protocol, verdict, direction, drop_reason,
  attribution_level, policies, source, count, packets, bytes, first_seen, last_seen)
SELECT bucket, edge_key, cluster, src_kind, src_namespace, src_workload, src_labels,
  dst_kind, dst_namespace, dst_workload, dst_labels, dst_port, protocol, verdict, direction, drop_reason,
  attribution_level, policies, source, count, packets, bytes,
  to_timestamp(first_seen / 1000.0), to_timestamp(last_seen / 1000.0)
FROM json_to_recordset($1::json) AS r(${ROLLUP_COLUMNS})
ON CONFLICT (bucket, edge_key) DO UPDATE SET
  count = edge_rollups.count + EXCLUDED.count,
  packets = edge_rollups.packets + EXCLUDED.packets,
  bytes = edge_rollups.bytes + EXCLUDED.bytes,
  first_seen = LEAST(edge_rollups.first_seen, EXCLUDED.first_seen),
  last_seen = GREATEST(edge_rollups.last_seen, EXCLUDED.last_seen),
  src_labels = COALESCE(EXCLUDED.src_labels, edge_rollups.src_labels),
  dst_labels = COALESCE(EXCLUDED.dst_labels, edge_rollups.dst_labels)`;

const EVENT_COLUMNS = [
  'flow_id',
  'time',
  'end_time',
  'source',
  'cluster',
  'node',
  'verdict',
  'drop_reason',
  'direction',
  'src_kind',
  'src_namespace',
  'src_pod',
  'src_workload',
  'src_ip',
  'dst_kind',
  'dst_namespace',
  'dst_pod',
  'dst_workload',
  'dst_ip',
  'dst_port',
  'protocol',
  'count',
  'attribution_level',
  'policies',
  'attribution',
  'record',
] as const satisfies ReadonlyArray<keyof DropEventRow>;

/** Events go in with COPY: PostgreSQL's fastest ingest path (text format, one row per line). */
const COPY_EVENTS = `COPY drop_events (${EVENT_COLUMNS.join(', ')}) FROM STDIN`;

const NEEDS_ESCAPE = /[\\\n\r\t]/;

/** A text[] literal: every element double-quoted, with its backslashes and quotes escaped. */
function arrayLiteral(xs: readonly string[]): string {
  return `{${xs.map((x) => `"${x.replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(',')}}`;
}

/** A value in COPY text format: \N for null, backslash escapes for \\, newline, CR and tab. */
function copyField(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return copyField(arrayLiteral(v));
  const s = typeof v === 'string' ? v : typeof v === 'number' ? String(v) : JSON.stringify(v);
  // JSON text has no raw newline, CR or tab: only its backslashes need doubling.
  if (typeof v === 'object') return s.indexOf('\\') === -1 ? s : s.replaceAll('\\', '\\\\');
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.replace(/[\\\n\r\t]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t'));
}

/** The batch's events as COPY text. */
export function eventsToCopyText(events: DropEventRow[]): string {
  const lines = new Array<string>(events.length);
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    let line = '';
    for (let c = 0; c < EVENT_COLUMNS.length; c++) {
      if (c > 0) line += '\t';
      line += copyField(e[EVENT_COLUMNS[c]]);
    }
    lines[i] = line;
  }
  return lines.join('\n') + '\n';
}

/** A batch serialized for one transaction. */
export interface PreparedBatch {
  days: Set<number>;
  rollups?: string;
  /** The earliest roll-up bucket of the batch (ISO; they sort as times). */
  firstBucket?: string;
  deadLetters: DeadLetter[];
  checkpoints: StreamCheckpoint[];
  /** Drop events in COPY text format. */
  events?: string;
  /** Roll-up rows this batch stores with labels (remembered once committed). */
  labelled: string[];
}

/** Bound on remembered labelled roll-up rows (about a few minutes of a busy cluster). */
const MAX_LABELLED = 50_000;

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
   * Roll-up rows (bucket + edge key) this process has stored with labels. Later upserts of the same
   * row send no labels (COALESCE keeps the stored ones), sparing PostgreSQL a jsonb parse per row.
   */
  private readonly labelled = new Set<string>();

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
    const r = [...batch.rollups.values()];
    const labelled: string[] = [];
    let firstBucket: string | undefined;
    for (const row of r) {
      if (firstBucket === undefined || row.bucket < firstBucket) firstBucket = row.bucket;
      const k = `${row.bucket}|${row.edge_key}`;
      if (this.labelled.has(k)) {
        row.src_labels = null;
        row.dst_labels = null;
      } else if (row.src_labels || row.dst_labels) labelled.push(k);
    }
    return {
      days: batch.days,
      // One JSON document per table: JSON.stringify is native and PostgreSQL parses JSON in C.
      rollups: r.length > 0 ? JSON.stringify(r) : undefined,
      firstBucket,
      events: batch.events.length > 0 ? eventsToCopyText(batch.events) : undefined,
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
    for (const k of p.labelled) this.labelled.add(k);
  }

  private async write(p: PreparedBatch): Promise<void> {
    await this.partitions.ensure(p.days);
    await this.ds.transaction(async (m) => {
      // A batch document is several MB: let json_to_recordset keep it in memory, not spill to disk.
      // No wait for the WAL flush at commit: an OS crash can then lose the last commits, but
      // only whole transactions, checkpoints included, so sources replay them (still exactly once).
      await m.query(`SET LOCAL work_mem = '64MB'; SET LOCAL synchronous_commit = off`);
      if (p.rollups) await m.query(UPSERT_ROLLUPS, [p.rollups]);
      if (p.events) await copyIn(m.queryRunner, COPY_EVENTS, p.events);
      // Minutes in an already closed hour or day go to its rows too (see rollup-closer.ts).
      if (p.rollups && p.firstBucket) await addLateMinutes(m, p.rollups, p.firstBucket);
      await insertDeadLetters(m, p.deadLetters);
      await upsertCheckpoints(m, p.checkpoints);
    });
  }
}
