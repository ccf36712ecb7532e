import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The first schema: stream checkpoints (exactly-once), per-minute edge roll-ups and drop events
 * (both natively partitioned by day, see src/storage/partition.manager.ts), dead letters.
 */
export class InitialSchema1763770000000 implements MigrationInterface {
  name = 'InitialSchema1763770000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE stream_checkpoints (
        stream text PRIMARY KEY,
        position text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE edge_rollups (
        bucket timestamptz NOT NULL,
        edge_key text NOT NULL,
        cluster text NOT NULL,
        src_kind text NOT NULL,
        src_namespace text NOT NULL DEFAULT '',
        src_workload text NOT NULL DEFAULT '',
        src_labels jsonb,
        dst_kind text NOT NULL,
        dst_namespace text NOT NULL DEFAULT '',
        dst_workload text NOT NULL DEFAULT '',
        dst_labels jsonb,
        dst_port integer NOT NULL DEFAULT 0,
        protocol text NOT NULL,
        verdict text NOT NULL,
        direction text NOT NULL,
        drop_reason text NOT NULL DEFAULT '',
        attribution_level text NOT NULL DEFAULT '',
        policy text NOT NULL DEFAULT '',
        source text NOT NULL,
        count bigint NOT NULL,
        packets bigint NOT NULL DEFAULT 0,
        bytes bigint NOT NULL DEFAULT 0,
        first_seen timestamptz NOT NULL,
        last_seen timestamptz NOT NULL,
        PRIMARY KEY (bucket, edge_key)
      ) PARTITION BY RANGE (bucket)`);
    await q.query(`CREATE INDEX edge_rollups_verdict_bucket ON edge_rollups (verdict, bucket)`);
    await q.query(`CREATE INDEX edge_rollups_dst_ns_bucket ON edge_rollups (dst_namespace, bucket)`);
    await q.query(`CREATE INDEX edge_rollups_src_ns_bucket ON edge_rollups (src_namespace, bucket)`);
    await q.query(`CREATE INDEX edge_rollups_policy_bucket ON edge_rollups (policy, bucket) WHERE policy <> ''`);
    await q.query(`
      CREATE TABLE drop_events (
        id bigserial NOT NULL,
        flow_id text NOT NULL,
        time timestamptz NOT NULL,
        end_time timestamptz,
        source text NOT NULL,
        cluster text NOT NULL,
        node text,
        verdict text NOT NULL,
        drop_reason text NOT NULL DEFAULT '',
        direction text NOT NULL,
        src_kind text NOT NULL,
        src_namespace text NOT NULL DEFAULT '',
        src_pod text NOT NULL DEFAULT '',
        src_workload text NOT NULL DEFAULT '',
        src_ip text,
        dst_kind text NOT NULL,
        dst_namespace text NOT NULL DEFAULT '',
        dst_pod text NOT NULL DEFAULT '',
        dst_workload text NOT NULL DEFAULT '',
        dst_ip text,
        dst_port integer NOT NULL DEFAULT 0,
        protocol text NOT NULL,
        count bigint NOT NULL,
        attribution_level text NOT NULL,
        policy text NOT NULL DEFAULT '',
        attribution json,
        record json NOT NULL,
        PRIMARY KEY (time, id)
      ) PARTITION BY RANGE (time)`);
    // The primary key (time, id) also serves newest-first keyset pagination (backward scan).
    await q.query(`CREATE INDEX drop_events_dst_ns_time ON drop_events (dst_namespace, time DESC)`);
    await q.query(`CREATE INDEX drop_events_src_ns_time ON drop_events (src_namespace, time DESC)`);
    await q.query(`CREATE INDEX drop_events_policy_time ON drop_events (policy, time DESC) WHERE policy <> ''`);
    await q.query(`
      CREATE TABLE dead_letters (
        id bigserial PRIMARY KEY,
        received_at timestamptz NOT NULL DEFAULT now(),
        origin text NOT NULL,
        reason text NOT NULL,
        raw text NOT NULL
      )`);
    await q.query(`CREATE INDEX dead_letters_received_at ON dead_letters (received_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE dead_letters`);
    await q.query(`DROP TABLE drop_events`);
    await q.query(`DROP TABLE edge_rollups`);
    await q.query(`DROP TABLE stream_checkpoints`);
  }
}
