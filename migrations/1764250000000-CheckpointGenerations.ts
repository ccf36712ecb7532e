import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Fencing for Kafka consumers (docs/KAFKA.md, "Fencing"): each checkpoint row carries the
 * generation of the consumer that last claimed its stream. A claim may precede any stored position
 * (a partition nobody has consumed yet), so the position becomes nullable: NULL means "claimed,
 * nothing stored".
 */
export class CheckpointGenerations1764250000000 implements MigrationInterface {
  name = 'CheckpointGenerations1764250000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE stream_checkpoints ADD COLUMN generation bigint NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE stream_checkpoints ALTER COLUMN position DROP NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM stream_checkpoints WHERE position IS NULL`);
    await q.query(`ALTER TABLE stream_checkpoints ALTER COLUMN position SET NOT NULL`);
    await q.query(`ALTER TABLE stream_checkpoints DROP COLUMN generation`);
  }
}
