/**
 * One retry schedule for every client that reconnects or re-sends (collectors, the Kubernetes
 * watch, the Kafka bus): capped exponential backoff with jitter, and a sleep that an
 * AbortSignal cuts short so `stop()` never waits out a 30-second delay.
 */

export interface BackoffOptions {
  /** First delay in ms (default 500). */
  initialMs?: number;
  /** Cap in ms (default 30000). */
  maxMs?: number;
  /** Growth per attempt (default 2). */
  multiplier?: number;
  /** Fraction of the delay that is randomized, 0..1 (default 0.5: between half and the full delay). */
  jitter?: number;
  /** Random source in [0, 1) (tests pass a fixed one). */
  random?: () => number;
}

/** The delay before retry number `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? 500;
  const max = options.maxMs ?? 30_000;
  const multiplier = options.multiplier ?? 2;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  // The exponent is capped so a long outage cannot overflow to Infinity before the cap applies.
  const base = Math.min(max, initial * multiplier ** Math.min(Math.max(0, attempt), 60));
  const random = (options.random ?? Math.random)();
  return Math.round(base * (1 - jitter) + base * jitter * random);
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * A retry schedule: `next()` sleeps the next delay (abortable), `reset()` after a success.
 * Returns false from `next()` when the signal has aborted, so loops read `while (await b.next())`.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly options: BackoffOptions = {},
    private readonly signal?: AbortSignal,
  ) {}

  /** The delay the next `next()` will sleep. */
  peek(): number {
    return backoffDelay(this.attempt, this.options);
  }

  async next(): Promise<boolean> {
    if (this.signal?.aborted) return false;
    await abortableSleep(backoffDelay(this.attempt++, this.options), this.signal);
    return !this.signal?.aborted;
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
