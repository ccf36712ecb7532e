import type { Command } from 'commander';
import { startService } from '../app/service.js';
import { createLogger } from '../common/pino-logger.js';
import { loadConfig } from '../config/config.js';
import { exitWithError, UsageError } from './cli-error.js';

/** Logging must never break shutdown (stdout may be a closed pipe). */
function quietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // nothing to do: the log is unreachable
  }
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the service (roles from DROPSCOPE_ROLES, default all; embedded PostgreSQL without DATABASE_URL)')
    .option('--port <port>', 'HTTP port (default: PORT or 8080)')
    .option('--config <file>', 'YAML file of VARIABLE: value settings (the environment wins)')
    .action(async (opts: { port?: string; config?: string }) => {
      let running: Awaited<ReturnType<typeof startService>> | undefined;
      try {
        const env = { ...process.env };
        if (opts.config) env.DROPSCOPE_CONFIG = opts.config;
        if (opts.port !== undefined) {
          if (!/^\d+$/.test(opts.port) || Number(opts.port) > 65535)
            throw new UsageError(`--port must be an integer from 0 to 65535, got ${JSON.stringify(opts.port)}`);
          env.PORT = opts.port;
        }
        const config = loadConfig(env);
        const log = createLogger(config.logLevel);
        let stopping = false;
        const stop = async (signal: string) => {
          if (stopping) return;
          stopping = true;
          // Armed first: whatever happens below, the process ends.
          const force = setTimeout(() => {
            quietly(() => log.error('shutdown took longer than 30s; exiting'));
            process.exit(1);
          }, 30_000);
          force.unref();
          quietly(() => log.info('shutting down', { signal }));
          try {
            await running?.close();
            quietly(() => log.info('stopped'));
            process.exit(0);
          } catch {
            process.exit(1);
          }
        };
        // A closed stderr (the parent went away) must not stop the service (stdout: see createLogger).
        process.stderr.on('error', () => undefined);
        process.on('SIGTERM', () => void stop('SIGTERM'));
        process.on('SIGINT', () => void stop('SIGINT'));
        running = await startService(config, log);
      } catch (e) {
        await running?.close();
        exitWithError(e);
      }
    });
}
