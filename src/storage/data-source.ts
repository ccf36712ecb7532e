import { DataSource } from 'typeorm';
import { MIGRATIONS } from '../../migrations/index.js';

export const MIGRATIONS_TABLE = 'dropscope_migrations';

/** The TypeORM DataSource for a PostgreSQL URL. Schema comes only from migrations/. */
export function createDataSource(url: string, poolSize = 10): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    synchronize: false,
    migrationsRun: false,
    migrations: MIGRATIONS,
    migrationsTableName: MIGRATIONS_TABLE,
    extra: { max: poolSize, application_name: 'dropscope' },
    logging: false,
  });
}

/** True when every known migration has been applied (for /readyz). */
export async function migrationsApplied(ds: DataSource): Promise<boolean> {
  const [{ present }]: Array<{ present: boolean }> = await ds.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [
    MIGRATIONS_TABLE,
  ]);
  if (!present) return false;
  const rows: Array<{ name: string }> = await ds.query(`SELECT name FROM ${MIGRATIONS_TABLE}`);
  const applied = new Set(rows.map((r) => r.name));
  return MIGRATIONS.every((m) => applied.has(m.name));
}
