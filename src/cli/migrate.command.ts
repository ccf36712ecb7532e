import type { Command } from 'commander';
import { createLogger } from '../common/pino-logger.js';
import { loadConfig } from '../config/config.js';
import { openDatabase } from '../storage/database.js';
import { exitWithError } from './cli-error.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations (also done at every start) and exit')
    .option('--revert', 'revert the most recent migration instead')
    .action(async (opts: { revert?: boolean }) => {
      try {
        const config = loadConfig();
        const log = createLogger(config.logLevel);
        const db = await openDatabase(
          { url: config.database.url, dataDir: config.dataDir, migrate: !opts.revert },
          log,
        );
        try {
          if (opts.revert) await db.dataSource.undoLastMigration({ transaction: 'each' });
        } finally {
          await db.close();
        }
      } catch (e) {
        exitWithError(e);
      }
    });
}
