import type { LoggerService } from '@nestjs/common';
import { pino, type Logger as Pino } from 'pino';
import type { Logger } from './logger.js';

/** Field names whose values are never written to logs, wherever they appear. */
const REDACT = [
  'password',
  'token',
  'authorization',
  'url',
  '*.password',
  '*.token',
  '*.authorization',
  'headers.authorization',
  'databaseUrl',
  'webhookUrl',
];

class PinoAdapter implements Logger {
  constructor(private readonly p: Pino) {}
  debug(msg: string, fields?: Record<string, unknown>): void {
    this.p.debug(fields ?? {}, msg);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.p.info(fields ?? {}, msg);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.p.warn(fields ?? {}, msg);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.p.error(fields ?? {}, msg);
  }
  child(bindings: Record<string, unknown>): Logger {
    return new PinoAdapter(this.p.child(bindings));
  }
}

/** Structured JSON logs on stdout (one object per line), secrets redacted by key. */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const p = pino(
    { level, base: { service: 'dropscope' }, redact: { paths: REDACT, censor: '[redacted]' } },
    // process.stdout rather than pino.destination: sonic-boom's exit-time flushSync retries a
    // closed stdout (EPIPE) forever, which hung shutdown once the parent process had gone away.
    destination ?? stdoutIgnoringErrors(),
  );
  return new PinoAdapter(p);
}

/** stdout whose write errors (a reader that went away) are dropped, never thrown at the service. */
function stdoutIgnoringErrors(): NodeJS.WritableStream {
  if (process.stdout.listenerCount('error') === 0) process.stdout.on('error', () => undefined);
  return process.stdout;
}

/** Routes NestJS's own log lines into the structured logger. */
export class NestLoggerAdapter implements LoggerService {
  constructor(private readonly out: Logger) {}
  private fmt(message: unknown, rest: unknown[]): [string, Record<string, unknown>] {
    const context = rest.length > 0 ? rest[rest.length - 1] : undefined;
    return [String(message), typeof context === 'string' ? { context } : {}];
  }
  log(message: unknown, ...rest: unknown[]): void {
    this.log_('debug', message, rest); // Nest's route-mapping chatter is debug-level for operators
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.log_('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.log_('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.log_('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.log_('debug', message, rest);
  }
  private log_(level: 'debug' | 'warn' | 'error', message: unknown, rest: unknown[]): void {
    const [m, f] = this.fmt(message, rest);
    this.out[level](m, f);
  }
}
