import type { DataSource } from 'typeorm';
import type { DeadLetter, StreamCheckpoint } from '../bus/flow-bus.js';
import type { PartitionManager } from '../storage/partition.manager.js';
import type { BatchRollup } from './edge-rollup.js';

const UPSERT_ROLLUPS = `
INSERT INTO edge_rollups (bucket, edge_key, cluster, src_kind, src_namespace, src_workload, src_labels,
  dst_kind, dst_namespace, dst_workload, dst_labels, dst_port, protocol, verdict, direction, drop_reason,
  attribution_level, policy, source, count, packets, bytes, first_seen, last_seen)
SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[],
  $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::int[], $13::text[], $14::text[], $15::text[], $16::text[],
  $17::text[], $18::text[], $19::text[], $20::bigint[], $21::bigint[], $22::bigint[], $23::timestamptz[], $24::timestamptz[])
ON CONFLICT (bucket, edge_key) DO UPDATE SET
  count = edge_rollups.count + EXCLUDED.count,
  packets = edge_rollups.packets + EXCLUDED.packets,
  bytes = edge_rollups.bytes + EXCLUDED.bytes,
  first_seen = LEAST(edge_rollups.first_seen, EXCLUDED.first_seen),
  last_seen = GREATEST(edge_rollups.last_seen, EXCLUDED.last_seen),
  src_labels = COALESCE(EXCLUDED.src_labels, edge_rollups.src_labels),
  dst_labels = COALESCE(EXCLUDED.dst_labels, edge_rollups.dst_labels)`;

const INSERT_EVENTS = `
INSERT INTO drop_events (flow_id, time, end_time, source, cluster, node, verdict, drop_reason, direction,
  src_kind, src_namespace, src_pod, src_workload, src_ip, dst_kind, dst_namespace, dst_pod, dst_workload, dst_ip,
  dst_port, protocol, count, attribution_level, policy, attribution, record)
SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[],
  $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
  $17::text[], $18::text[], $19::text[], $20::int[], $21::text[], $22::bigint[], $23::text[], $24::text[],
  $25::json[], $26::json[])`;

const UPSERT_CHECKPOINTS = `
INSERT INTO stream_checkpoints (stream, position, updated_at)
SELECT s, p, now() FROM unnest($1::text[], $2::text[]) AS t(s, p)
ON CONFLICT (stream) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`;

const INSERT_DEAD_LETTERS = `
INSERT INTO dead_letters (origin, reason, raw) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])`;

function column<T, V>(rows: T[], pick: (r: T) => V): V[] {
  const out = new Array<V>(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = pick(rows[i]);
  return out;
}

/**
 * Writes one aggregated batch: roll-up upserts, drop events, dead letters and the stream
 * checkpoints, in ONE transaction. That transaction is what makes delivery exactly-once: the
 * positions become durable if and only if the data they cover does. Arrays through unnest keep
 * each table to one parameterized statement per batch.
 */
export class DropRollupRepository {
  constructor(
    private readonly ds: DataSource,
    private readonly partitions: PartitionManager,
  ) {}

  async loadCheckpoints(streams: string[]): Promise<Map<string, string>> {
    const rows = (await this.ds.query(`SELECT stream, position FROM stream_checkpoints WHERE stream = ANY($1)`, [
      streams,
    ])) as Array<{ stream: string; position: string }>;
    return new Map(rows.map((r) => [r.stream, r.position]));
  }

  async loadCheckpoint(stream: string): Promise<string | undefined> {
    return (await this.loadCheckpoints([stream])).get(stream);
  }

  /** Stores positions on their own (Kafka mode: a collector's position once the broker acked its batch). */
  async saveCheckpoints(checkpoints: StreamCheckpoint[]): Promise<void> {
    if (checkpoints.length === 0) return;
    await this.ds.query(UPSERT_CHECKPOINTS, [
      column(checkpoints, (c) => c.stream),
      column(checkpoints, (c) => c.position),
    ]);
  }

  async writeBatch(batch: BatchRollup, checkpoints: StreamCheckpoint[], deadLetters: DeadLetter[]): Promise<void> {
    try {
      await this.write(batch, checkpoints, deadLetters);
    } catch (e) {
      // Retention on another instance may have dropped a partition this one believes exists.
      if (!/no partition of relation/.test(String(e))) throw e;
      this.partitions.forget();
      await this.write(batch, checkpoints, deadLetters);
    }
  }

  private async write(batch: BatchRollup, checkpoints: StreamCheckpoint[], deadLetters: DeadLetter[]): Promise<void> {
    await this.partitions.ensure(batch.days);
    const r = [...batch.rollups.values()];
    const e = batch.events;
    await this.ds.transaction(async (m) => {
      if (r.length > 0)
        await m.query(UPSERT_ROLLUPS, [
          column(r, (x) => x.bucket),
          column(r, (x) => x.edgeKey),
          column(r, (x) => x.cluster),
          column(r, (x) => x.srcKind),
          column(r, (x) => x.srcNamespace),
          column(r, (x) => x.srcWorkload),
          column(r, (x) => x.srcLabels),
          column(r, (x) => x.dstKind),
          column(r, (x) => x.dstNamespace),
          column(r, (x) => x.dstWorkload),
          column(r, (x) => x.dstLabels),
          column(r, (x) => x.dstPort),
          column(r, (x) => x.protocol),
          column(r, (x) => x.verdict),
          column(r, (x) => x.direction),
          column(r, (x) => x.dropReason),
          column(r, (x) => x.attributionLevel),
          column(r, (x) => x.policy),
          column(r, (x) => x.source),
          column(r, (x) => x.count),
          column(r, (x) => x.packets),
          column(r, (x) => x.bytes),
          column(r, (x) => new Date(x.firstSeen).toISOString()),
          column(r, (x) => new Date(x.lastSeen).toISOString()),
        ]);
      if (e.length > 0)
        await m.query(INSERT_EVENTS, [
          column(e, (x) => x.flowId),
          column(e, (x) => x.time),
          column(e, (x) => x.endTime),
          column(e, (x) => x.source),
          column(e, (x) => x.cluster),
          column(e, (x) => x.node),
          column(e, (x) => x.verdict),
          column(e, (x) => x.dropReason),
          column(e, (x) => x.direction),
          column(e, (x) => x.srcKind),
          column(e, (x) => x.srcNamespace),
          column(e, (x) => x.srcPod),
          column(e, (x) => x.srcWorkload),
          column(e, (x) => x.srcIp),
          column(e, (x) => x.dstKind),
          column(e, (x) => x.dstNamespace),
          column(e, (x) => x.dstPod),
          column(e, (x) => x.dstWorkload),
          column(e, (x) => x.dstIp),
          column(e, (x) => x.dstPort),
          column(e, (x) => x.protocol),
          column(e, (x) => x.count),
          column(e, (x) => x.attributionLevel),
          column(e, (x) => x.policy),
          column(e, (x) => x.attribution),
          column(e, (x) => x.record),
        ]);
      if (deadLetters.length > 0) await this.insertDeadLetters(deadLetters, m);
      if (checkpoints.length > 0)
        await m.query(UPSERT_CHECKPOINTS, [column(checkpoints, (c) => c.stream), column(checkpoints, (c) => c.position)]);
    });
  }

  async insertDeadLetters(letters: DeadLetter[], m: { query: DataSource['query'] } = this.ds): Promise<void> {
    await m.query(INSERT_DEAD_LETTERS, [
      column(letters, (d) => d.origin),
      column(letters, (d) => d.reason),
      column(letters, (d) => d.raw),
    ]);
  }
}
