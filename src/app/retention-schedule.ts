import type { Logger } from '../common/logger.js';
import type { RollupCloser } from '../storage/rollup-closer.js';
import type { RetentionDays, RetentionStore } from '../storage/ports.js';

/**
 * Runs `task` now and then every `everyMs`, one pass at a time. The returned stop() aborts the
 * signal and waits for a pass in progress: a pass cut off by shutdown is not a failure, and the
 * pool must outlive it. Failures are logged and retried at the next tick.
 */
export function schedulePeriodic(
  what: string,
  task: (signal: AbortSignal) => Promise<unknown>,
  log: Logger,
  everyMs: number,
): () => Promise<void> {
  const stopping = new AbortController();
  let pass: Promise<void> = Promise.resolve();
  let running = false;
  const run = () => {
    if (running) return; // a long pass (say, closing a backlog of hours) is not started twice
    running = true;
    pass = task(stopping.signal).then(
      () => undefined,
      (e: unknown) => {
        if (!stopping.signal.aborted) log.error(`${what} failed; will retry`, { error: String(e) });
      },
    );
    void pass.finally(() => (running = false));
  };
  run();
  const timer = setInterval(run, everyMs);
  timer.unref();
  return async () => {
    stopping.abort();
    clearInterval(timer);
    await pass;
  };
}

/** A retention pass now and then every `everyMs`. */
export function scheduleRetention(
  store: RetentionStore,
  days: RetentionDays,
  log: Logger,
  everyMs: number,
  now: () => number = Date.now,
): () => Promise<void> {
  return schedulePeriodic('retention', (signal) => store.deleteExpired(now(), days, signal), log, everyMs);
}

/**
 * Closes every 5-minute and 15-minute unit that ended more than `lateness.fiveMinuteMs` ago and
 * every hour that ended more than `lateness.hourMs` ago (and the 4-hour units and days they
 * complete), now and every `everyMs`.
 */
export function scheduleRollupClosing(
  closer: RollupCloser,
  lateness: { hourMs: number; fiveMinuteMs: number },
  log: Logger,
  everyMs: number,
  now: () => number = Date.now,
): () => Promise<void> {
  return schedulePeriodic(
    'closing 5-minute, 15-minute, hourly, 4-hour and daily roll-ups',
    (signal) => {
      const t = now();
      return closer.closeThrough(t - lateness.hourMs, signal, t - lateness.fiveMinuteMs);
    },
    log,
    everyMs,
  );
}
