import type { DataSource } from 'typeorm';
import type { Logger } from '../common/logger.js';
import { StartupCheckError } from '../config/config.js';
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
    try {
      await ds.initialize();
    } catch (e) {
      // The raw driver error names neither the setting nor what to do; the URL itself is never echoed.
      if (opts.url === undefined) throw e;
      throw new StartupCheckError('DATABASE_URL', `cannot be reached: ${describeConnectError(e)}`);
    }
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

/** What went wrong connecting, without anything from the URL but host and port. */
function describeConnectError(e: unknown): string {
  const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
  if (err.code === 'ECONNREFUSED') return `connection refused at ${err.address ?? '?'}:${err.port ?? '?'}`;
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return 'its host name does not resolve';
  if (err.code === 'ETIMEDOUT') return 'the connection timed out';
  if (err.code === '28P01' || err.code === '28000') return 'authentication failed (check the user and password)';
  if (err.code === '3D000') return 'the database does not exist';
  return err.code ? `${err.code}: ${err.message}` : String(e);
}
