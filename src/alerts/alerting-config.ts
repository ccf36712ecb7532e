/**
 * The rules file (ALERT_RULES_FILE): rules, expected drops, the routing tree and receivers.
 * Receivers name where their secrets live (an environment variable or a file), never the
 * secret itself, so the file can sit in a ConfigMap. `default` is SLACK_WEBHOOK_URL.
 */
import { parse as parseYaml } from 'yaml';
import { AlertRuleError, matchersField, parseRule, type AlertRule } from './alert-rules.js';
import type { Matcher } from './matchers.js';
import { parseRoute, routeReceivers, type Route, type Timings } from './route-tree.js';

export type Receiver =
  | { name: string; kind: 'slack'; url: SecretRef }
  | { name: string; kind: 'alertmanager'; url: string }
  /** No integration: alerts are kept and shown by the API, nothing is sent. */
  | { name: string; kind: 'none' };

export type SecretRef = { env: string } | { file: string } | { value: string };

export interface AlertingConfig {
  rules: AlertRule[];
  expectedDrops: Matcher[][];
  route: Route;
  receivers: Map<string, Receiver>;
}

export interface AlertingDefaults extends Timings {
  /** SLACK_WEBHOOK_URL: the `default` receiver (absent: `default` sends nothing). */
  slackWebhookUrl?: string;
}

export const DEFAULT_GROUP_BY = ['alertname', 'namespace'];

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseReceiver(input: unknown, where: string): Receiver {
  if (!isObj(input) || typeof input.name !== 'string' || input.name === '')
    throw new AlertRuleError(`${where}: must be a mapping with a name`);
  const name = input.name;
  if (isObj(input.slack)) {
    const s = input.slack;
    if (typeof s.webhook_url_file === 'string') return { name, kind: 'slack', url: { file: s.webhook_url_file } };
    if (typeof s.webhook_url_env === 'string') return { name, kind: 'slack', url: { env: s.webhook_url_env } };
    throw new AlertRuleError(
      `${where}.slack: needs webhook_url_file (a mounted secret) or webhook_url_env (an environment variable); the URL itself does not belong in the rules file`,
    );
  }
  if (isObj(input.alertmanager)) {
    const url = input.alertmanager.url;
    if (typeof url !== 'string' || !/^https?:\/\/\S+$/.test(url))
      throw new AlertRuleError(`${where}.alertmanager.url: must be an http(s) URL such as http://alertmanager:9093`);
    return { name, kind: 'alertmanager', url };
  }
  if (Object.keys(input).length === 1) return { name, kind: 'none' };
  throw new AlertRuleError(`${where}: needs slack: {webhook_url_file|webhook_url_env} or alertmanager: {url}`);
}

/** Parses the rules document (YAML text or an already-parsed object); throws AlertRuleError. */
export function parseAlertingConfig(input: string | unknown, defaults: AlertingDefaults): AlertingConfig {
  let doc: unknown = input;
  if (typeof input === 'string') {
    try {
      doc = parseYaml(input, { schema: 'core', maxAliasCount: 0 }) ?? {};
    } catch (e) {
      throw new AlertRuleError(`not valid YAML: ${(e as Error).message}`);
    }
  }
  if (!isObj(doc)) throw new AlertRuleError('must be a mapping with rules, expected_drops, route and receivers');
  for (const k of Object.keys(doc))
    if (!['rules', 'expected_drops', 'route', 'receivers'].includes(k))
      throw new AlertRuleError(`${k}: unknown section; allowed: rules, expected_drops, route, receivers`);
  const rulesIn = doc.rules ?? [];
  if (!Array.isArray(rulesIn)) throw new AlertRuleError('rules: must be a list');
  const rules = rulesIn.map((r, i) => parseRule(r, `rules[${i}]`, 'file'));
  const ids = new Set<string>();
  for (const r of rules) {
    if (ids.has(r.id)) throw new AlertRuleError(`rules: id ${r.id} is used twice`);
    ids.add(r.id);
  }
  const expIn = doc.expected_drops ?? [];
  if (!Array.isArray(expIn)) throw new AlertRuleError('expected_drops: must be a list of {matchers: [...]}');
  const expectedDrops = expIn.map((e, i) => {
    if (!isObj(e)) throw new AlertRuleError(`expected_drops[${i}]: must be a mapping with matchers`);
    const ms = matchersField(e.matchers, `expected_drops[${i}].matchers`);
    if (ms.length === 0) throw new AlertRuleError(`expected_drops[${i}].matchers: must not be empty`);
    return ms;
  });
  const receivers = new Map<string, Receiver>();
  receivers.set(
    'default',
    defaults.slackWebhookUrl
      ? { name: 'default', kind: 'slack', url: { value: defaults.slackWebhookUrl } }
      : { name: 'default', kind: 'none' },
  );
  const recIn = doc.receivers ?? [];
  if (!Array.isArray(recIn)) throw new AlertRuleError('receivers: must be a list');
  recIn.forEach((r, i) => {
    const rec = parseReceiver(r, `receivers[${i}]`);
    receivers.set(rec.name, rec);
  });
  const route = parseRoute(doc.route ?? {}, 'route', {
    receiver: 'default',
    groupBy: DEFAULT_GROUP_BY,
    groupWaitMs: defaults.groupWaitMs,
    groupIntervalMs: defaults.groupIntervalMs,
    repeatIntervalMs: defaults.repeatIntervalMs,
  });
  for (const name of routeReceivers(route))
    if (!receivers.has(name)) throw new AlertRuleError(`route: receiver ${name} is not defined under receivers`);
  return { rules, expectedDrops, route, receivers };
}
