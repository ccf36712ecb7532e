import type { DataSource } from 'typeorm';
import type { Logger } from '../common/logger.js';
import { createDataSource } from './data-source.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './embedded-postgres.js';

export interface Database {
  dataSource: DataSource;
  embedded: boolean;
  close(): Promise<void>;
}

/**
 * Connects to DATABASE_URL, or starts the embedded PostgreSQL under dataDir when none is set, then
 * runs pending migrations. The URL is never logged (it may carry a password).
 */
export async function openDatabase(
  opts: { url?: string; dataDir: string; poolSize?: number; migrate?: boolean },
  log: Logger,
): Promise<Database> {
  let embedded: EmbeddedPostgresHandle | undefined;
  const url = opts.url ?? (embedded = await startEmbeddedPostgres(opts.dataDir, log)).url;
  const ds = createDataSource(url, opts.poolSize);
  try {
    await ds.initialize();
    if (opts.migrate !== false) {
      const ran = await ds.runMigrations({ transaction: 'each' });
      for (const m of ran) log.info('migration applied', { name: m.name });
    }
  } catch (e) {
    if (ds.isInitialized) await ds.destroy();
    await embedded?.stop();
    throw e;
  }
  return {
    dataSource: ds,
    embedded: embedded !== undefined,
    close: async () => {
      if (ds.isInitialized) await ds.destroy();
      await embedded?.stop();
    },
  };
}
