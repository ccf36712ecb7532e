import type { Command } from 'commander';
import { createLogger } from '../common/pino-logger.js';
import { loadConfig } from '../config/config.js';
import { MIGRATIONS_TABLE } from '../storage/data-source.js';
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
        // Migrations run here, not in openDatabase, so the command can say what it did.
        const db = await openDatabase({ url: config.database.url, dataDir: config.dataDir, migrate: false }, log);
        try {
          const ds = db.dataSource;
          if (opts.revert) {
            const last = (await ds
              .query(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id DESC LIMIT 1`)
              .catch(() => [])) as Array<{ name: string }>;
            if (last.length === 0) process.stdout.write('nothing to revert: no migration is applied\n');
            else {
              await ds.undoLastMigration({ transaction: 'each' });
              process.stdout.write(`reverted ${last[0].name}\n`);
            }
          } else {
            const ran = await ds.runMigrations({ transaction: 'each' });
            process.stdout.write(
              ran.length === 0
                ? `the database is up to date (${ds.migrations.length} migrations applied)\n`
                : `applied ${ran.length} migration(s): ${ran.map((m) => m.name).join(', ')}\n`,
            );
          }
        } finally {
          await db.close();
        }
      } catch (e) {
        exitWithError(e);
      }
    });
}
