import type { MigrationInterface, QueryRunner } from 'typeorm';

const TABLES = [
  { table: 'edge_rollups', time: 'bucket', oldIndex: 'edge_rollups_policy_bucket', newIndex: 'edge_rollups_policies' },
  { table: 'drop_events', time: 'time DESC', oldIndex: 'drop_events_policy_time', newIndex: 'drop_events_policies' },
] as const;

/**
 * Every policy of a drop's attribution is stored, not only the first: `policy text` becomes
 * `policies text[]` on roll-ups and events, so a drop isolated by two policies counts for both.
 * The array is part of the roll-up key (edge_key ends with the policies joined by commas, which
 * keeps existing single-policy keys unchanged). A GIN index serves the `policy` filter
 * (`policies @> ARRAY[...]`). Down keeps the first policy only.
 */
export class PolicyArrays1764000000000 implements MigrationInterface {
  name = 'PolicyArrays1764000000000';

  async up(q: QueryRunner): Promise<void> {
    for (const t of TABLES) {
      await q.query(`ALTER TABLE ${t.table} ADD COLUMN policies text[] NOT NULL DEFAULT '{}'`);
      await q.query(`UPDATE ${t.table} SET policies = ARRAY[policy] WHERE policy <> ''`);
      await q.query(`DROP INDEX IF EXISTS ${t.oldIndex}`);
      await q.query(`ALTER TABLE ${t.table} DROP COLUMN policy`);
      await q.query(`CREATE INDEX ${t.newIndex} ON ${t.table} USING gin (policies) WHERE policies <> '{}'`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of TABLES) {
      await q.query(`ALTER TABLE ${t.table} ADD COLUMN policy text NOT NULL DEFAULT ''`);
      await q.query(`UPDATE ${t.table} SET policy = policies[1] WHERE policies <> '{}'`);
      await q.query(`DROP INDEX IF EXISTS ${t.newIndex}`);
      await q.query(`ALTER TABLE ${t.table} DROP COLUMN policies`);
      await q.query(`CREATE INDEX ${t.oldIndex} ON ${t.table} (policy, ${t.time}) WHERE policy <> ''`);
    }
  }
}
