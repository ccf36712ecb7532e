import type { LoggerService } from '@nestjs/common';
import { pino, type Logger as Pino } from 'pino';
import { redactSecrets } from './log-redaction.js';
import type { Logger } from './logger.js';

type Level = 'debug' | 'info' | 'warn' | 'error';

/**
 * Pino writes a child's bindings and each call's fields side by side without merging them, so a
 * key bound twice (a caller's `component` and a component's own) came out twice in one JSON line.
 * The adapter keeps the merged bindings itself (inner values win) and, when a call repeats a bound
 * key, writes that line from the root with bindings and fields merged (the call's value wins).
 */
class PinoAdapter implements Logger {
  private readonly p: Pino;
  constructor(
    private readonly root: Pino,
    private readonly bindings: Record<string, unknown>,
  ) {
    this.p = root.child(redactSecrets(bindings)); // pino's log formatter never sees child bindings
  }
  private write(level: Level, msg: string, fields: Record<string, unknown> | undefined): void {
    if (fields && Object.keys(fields).some((k) => Object.hasOwn(this.bindings, k)))
      this.root[level]({ ...this.bindings, ...fields }, msg);
    else this.p[level](fields ?? {}, msg);
  }
  debug(msg: string, fields?: Record<string, unknown>): void {
    this.write('debug', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.write('error', msg, fields);
  }
  child(bindings: Record<string, unknown>): Logger {
    return new PinoAdapter(this.root, { ...this.bindings, ...bindings });
  }
}

/** Structured JSON logs on stdout (one object per line), secrets redacted by name at any depth (log-redaction.ts). */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const p = pino(
    // No pino `base`: the service name is a binding like any other, so it too is written once.
    { level, base: null, formatters: { log: redactSecrets } },
    // process.stdout rather than pino.destination: sonic-boom's exit-time flushSync retries a
    // closed stdout (EPIPE) forever, which hung shutdown once the parent process had gone away.
    destination ?? stdoutIgnoringErrors(),
  );
  return new PinoAdapter(p, { service: 'dropscope' });
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
