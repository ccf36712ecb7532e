import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for the REST API filters that the initial schema does not cover (docs/API.md "Index
 * plan"): workloads on both tables, pods on drop events. Created on the partitioned parents, so
 * every existing and future daily partition gets them. Low-cardinality filters (verdict,
 * direction, attribution level, cluster, reason) ride on the time-range index and partition
 * pruning instead: an index on them would not be selective.
 */
export class ApiIndexes1763900000000 implements MigrationInterface {
  name = 'ApiIndexes1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS edge_rollups_src_workload_bucket ON edge_rollups (src_workload, bucket)`);
    await q.query(`CREATE INDEX IF NOT EXISTS edge_rollups_dst_workload_bucket ON edge_rollups (dst_workload, bucket)`);
    await q.query(`CREATE INDEX IF NOT EXISTS drop_events_src_workload_time ON drop_events (src_workload, time DESC)`);
    await q.query(`CREATE INDEX IF NOT EXISTS drop_events_dst_workload_time ON drop_events (dst_workload, time DESC)`);
    await q.query(`CREATE INDEX IF NOT EXISTS drop_events_src_pod_time ON drop_events (src_pod, time DESC)`);
    await q.query(`CREATE INDEX IF NOT EXISTS drop_events_dst_pod_time ON drop_events (dst_pod, time DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS drop_events_dst_pod_time`);
    await q.query(`DROP INDEX IF EXISTS drop_events_src_pod_time`);
    await q.query(`DROP INDEX IF EXISTS drop_events_dst_workload_time`);
    await q.query(`DROP INDEX IF EXISTS drop_events_src_workload_time`);
    await q.query(`DROP INDEX IF EXISTS edge_rollups_dst_workload_bucket`);
    await q.query(`DROP INDEX IF EXISTS edge_rollups_src_workload_bucket`);
  }
}
