/**
 * The alerts role: evaluates rules on a timer and delivers the outbox. `startAlerting` is the one
 * entry point the service composition calls; everything it needs is passed in explicitly.
 */
import { readFileSync, statSync } from 'node:fs';
import type { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { WakeableSleep } from '../common/wakeable-sleep.js';
import type { AppConfig } from '../config/config.js';
import type { PolicyInventory } from '../policy/policy-inventory.js';
import { AlertStateRepository } from '../storage/alert-state.repository.js';
import { NotificationOutboxRepository } from '../storage/notification-outbox.repository.js';
import { AlertEvaluator } from '../alerts/alert-evaluator.js';
import { AlertRuleError } from '../alerts/alert-rules.js';
import { parseAlertingConfig, type AlertingConfig } from '../alerts/alerting-config.js';
import { AlertingMetrics } from '../alerts/alerting.metrics.js';
import { OutboxDispatcher } from '../alerts/outbox-dispatcher.js';

export interface AlertingDeps {
  dataSource: DataSource;
  config: AppConfig;
  log: Logger;
  registry: Registry;
  clock: Clock;
  inventory?: () => PolicyInventory | undefined;
  env?: Record<string, string | undefined>;
  /** The URL this process's HTTP server is reachable at locally (its bound port, not PORT, which may be 0):
   *  the link base when ALERT_LINK_BASE_URL is unset. */
  localApiUrl: string;
}

export interface AlertingHandle {
  evaluator: AlertEvaluator;
  dispatcher: OutboxDispatcher;
  /** One evaluation and one delivery pass (tests drive this with a controllable clock). */
  runOnce(): Promise<void>;
  stop(): Promise<void>;
}

/** Loads the rules file (ALERT_RULES_FILE) with the timing defaults; throws AlertRuleError naming the file. */
export function loadAlertingConfig(config: AppConfig): AlertingConfig {
  const a = config.alerts;
  const defaults = { ...a, slackWebhookUrl: a.slackWebhookUrl };
  if (!a.rulesFile) return parseAlertingConfig({}, defaults);
  try {
    return parseAlertingConfig(readFileSync(a.rulesFile, 'utf8'), defaults);
  } catch (e) {
    throw new AlertRuleError(`ALERT_RULES_FILE ${a.rulesFile}: ${(e as Error).message}`);
  }
}

/** A rules file that changed on disk is re-read; a broken edit keeps the last good one (logged). */
function reloadingConfig(config: AppConfig, log: Logger): () => AlertingConfig {
  let current = loadAlertingConfig(config);
  let mtime = config.alerts.rulesFile ? statSync(config.alerts.rulesFile).mtimeMs : 0;
  return () => {
    const file = config.alerts.rulesFile;
    if (!file) return current;
    try {
      const m = statSync(file).mtimeMs;
      if (m !== mtime) {
        mtime = m;
        current = loadAlertingConfig(config);
        log.info('alert rules reloaded', { file });
      }
    } catch (e) {
      log.error('alert rules file not reloaded; keeping the previous rules', { error: (e as Error).message });
    }
    return current;
  };
}

export function startAlerting(deps: AlertingDeps, opts: { timer?: boolean } = {}): AlertingHandle {
  const { config, clock } = deps;
  const log = deps.log.child({ component: 'alerts' });
  const metrics = new AlertingMetrics(deps.registry);
  const cfg = reloadingConfig(config, log);
  const store = new AlertStateRepository(deps.dataSource);
  const outbox = new NotificationOutboxRepository(deps.dataSource);
  const evaluator = new AlertEvaluator(store, cfg, clock, {
    apiBaseUrl: config.alerts.linkBaseUrl ?? deps.localApiUrl,
    notificationTtlMs: config.alerts.notificationTtlMs,
    inventory: deps.inventory,
  });
  const dispatcher = new OutboxDispatcher(outbox, () => cfg().receivers, clock, log, metrics, {
    sendTimeoutMs: config.alerts.sendTimeoutMs,
    minIntervalMs: 1000,
    backoff: { initialMs: 1000, maxMs: 5 * 60_000 },
    env: deps.env ?? process.env,
  });
  const runOnce = async () => {
    try {
      const s = await evaluator.evaluate();
      metrics.evaluations.inc({ outcome: s ? 'done' : 'standby' });
      if (s) {
        metrics.alerts.set({ status: 'pending' }, s.pending);
        metrics.alerts.set({ status: 'firing' }, s.firing);
      }
    } catch (e) {
      metrics.evaluations.inc({ outcome: 'error' });
      log.error('alert evaluation failed; will retry', { error: (e as Error).message });
    }
    try {
      await dispatcher.deliverDue();
      metrics.outboxPending.set(await outbox.pendingCount());
    } catch (e) {
      log.error('notification delivery pass failed; will retry', { error: (e as Error).message });
    }
  };
  let stopped = false;
  const sleep = new WakeableSleep();
  let loop: Promise<void> = Promise.resolve();
  if (opts.timer !== false)
    loop = (async () => {
      while (!stopped) {
        await runOnce();
        if (!stopped) await sleep.sleep(config.alerts.evaluationIntervalMs);
      }
    })();
  log.info('alerting started', {
    evaluationIntervalMs: config.alerts.evaluationIntervalMs,
    rulesFile: config.alerts.rulesFile,
  });
  return {
    evaluator,
    dispatcher,
    runOnce,
    stop: async () => {
      stopped = true;
      sleep.wake();
      await loop;
    },
  };
}
