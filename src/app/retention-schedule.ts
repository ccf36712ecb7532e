import type { Logger } from '../common/logger.js';
import type { RetentionDays, RetentionStore } from '../storage/ports.js';

/**
 * Runs a retention pass now and then every `everyMs`. The returned stop() waits for a pass in
 * progress: a pass cut off by shutdown is not a failure, and the pool must outlive it.
 */
export function scheduleRetention(
  store: RetentionStore,
  days: RetentionDays,
  log: Logger,
  everyMs: number,
  now: () => number = Date.now,
): () => Promise<void> {
  const stopping = new AbortController();
  let pass: Promise<void> = Promise.resolve();
  const run = () =>
    (pass = store.deleteExpired(now(), days, stopping.signal).then(
      () => undefined,
      (e: unknown) => {
        if (!stopping.signal.aborted) log.error('retention failed; will retry', { error: String(e) });
      },
    ));
  run();
  const timer = setInterval(run, everyMs);
  timer.unref();
  return async () => {
    stopping.abort();
    clearInterval(timer);
    await pass;
  };
}
