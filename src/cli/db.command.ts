import type { Command } from 'commander';
import { createLogger } from '../common/pino-logger.js';
import { loadConfig } from '../config/config.js';
import { startEmbeddedPostgres } from '../storage/embedded-postgres.js';
import { exitWithError, UsageError } from './cli-error.js';

/** The URL with its password replaced by `****` (nothing else changed); as is without one. */
export function maskPassword(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError('DATABASE_URL is not a URL');
  }
  if (u.password === '') return url;
  return `${u.protocol}//${u.username}:****@${u.host}${u.pathname}${u.search}${u.hash}`;
}

export function registerDb(program: Command): void {
  const db = program.command('db').description('the database Dropscope uses');
  db.command('url')
    .description(
      'print a connection URL for psql or Grafana (DATABASE_URL, else the embedded server: shared with a running ' +
        'dropscope, or started here and kept running until interrupted); the password is masked unless --show-password',
    )
    .option('--show-password', 'print the password instead of ****')
    .option('--config <file>', 'YAML file of VARIABLE: value settings (the environment wins)')
    .action(async (opts: { showPassword?: boolean; config?: string }) => {
      try {
        const env = { ...process.env };
        if (opts.config) env.DROPSCOPE_CONFIG = opts.config;
        const config = loadConfig(env);
        const show = (url: string) => process.stdout.write(`${opts.showPassword ? url : maskPassword(url)}\n`);
        if (config.database.url !== undefined) {
          show(config.database.url);
          return;
        }
        const log = createLogger(env.LOG_LEVEL ?? 'warn', process.stderr);
        const embedded = await startEmbeddedPostgres(config.dataDir, log);
        show(embedded.url);
        if (embedded.shared) return;
        // Started here: the URL is only good while this process keeps the server running.
        process.stderr.write('embedded PostgreSQL started for this command; it runs until you press Ctrl-C\n');
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await embedded.stop();
      } catch (e) {
        exitWithError(e);
      }
    });
}
