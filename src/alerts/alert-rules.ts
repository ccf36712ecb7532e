/**
 * Alert rules: the built-in unexpected-drop rule and drop-rate thresholds, with their defaults,
 * parsed from the rules file (ALERT_RULES_FILE) or the API's JSON. Every problem is an
 * AlertRuleError naming the field.
 */
import { parseDuration } from '../config/duration.js';
import { MatcherError, parseMatchers, type Matcher } from './matchers.js';

export class AlertRuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AlertRuleError';
  }
}

export type Severity = 'critical' | 'warning' | 'info';
export const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info'];

interface RuleBase {
  /** Unique id (the API path segment); also the `rule` label. */
  id: string;
  /** The `alertname` label. */
  name: string;
  severity: Severity;
  enabled: boolean;
  /** Only roll-ups whose FlowRecord fields match (see FLOW_FIELDS). */
  match: Matcher[];
  /** The condition must hold this long before the alert fires... */
  forMs: number;
  /** ...unless the window already holds at least this many drops (0: `for` only). */
  minCount: number;
  /** The condition is evaluated over this trailing window. */
  windowMs: number;
  /** A firing alert resolves after this long without the condition. */
  resolveAfterMs: number;
  /** Extra labels on every alert of the rule (routing keys such as team). */
  labels: Record<string, string>;
  source: 'builtin' | 'file' | 'api';
}

export interface UnexpectedDropRule extends RuleBase {
  type: 'unexpected-drop';
  /** How far back the baseline reaches (default 7 days)... */
  baselineMs: number;
  /** ...ending this long ago, so the current episode and recent blips are not their own baseline. */
  baselineOffsetMs: number;
}

export type RateScope = 'namespace' | 'policy' | 'edge';

export interface RateRule extends RuleBase {
  type: 'rate';
  by: RateScope;
  /** Fires when drops per minute over the window exceed this. */
  perMinute: number;
}

export type AlertRule = UnexpectedDropRule | RateRule;

export const RULE_DEFAULTS = {
  severity: 'warning' as Severity,
  unexpectedDrop: { forMs: 5 * 60_000, windowMs: 2 * 60_000, resolveAfterMs: 5 * 60_000, minCount: 0 },
  rate: { forMs: 5 * 60_000, windowMs: 5 * 60_000, resolveAfterMs: 5 * 60_000, minCount: 0 },
  baselineMs: 7 * 86_400_000,
  baselineOffsetMs: 60 * 60_000,
};

/**
 * Roll-up fields a `match` matcher may name, in FlowRecord terms. Pods, IPs and nodes are not in
 * the per-minute roll-ups, so they cannot be matched (a rule naming them is rejected).
 */
export const FLOW_FIELDS = [
  'cluster',
  'source',
  'verdict',
  'direction',
  'dropReason',
  'protocol',
  'dstPort',
  'attributionLevel',
  'policy',
  'src.kind',
  'src.namespace',
  'src.workload',
  'dst.kind',
  'dst.namespace',
  'dst.workload',
] as const;

export function isFlowField(name: string): boolean {
  return (FLOW_FIELDS as readonly string[]).includes(name) || /^(src|dst)\.labels\.[A-Za-z0-9_./-]+$/.test(name);
}

/** The built-in rule, on unless the rules file disables it (`id: unexpected-drop, enabled: false`). */
export function builtinUnexpectedDropRule(): UnexpectedDropRule {
  return {
    id: 'unexpected-drop',
    name: 'UnexpectedDrop',
    type: 'unexpected-drop',
    severity: RULE_DEFAULTS.severity,
    enabled: true,
    match: [],
    ...RULE_DEFAULTS.unexpectedDrop,
    baselineMs: RULE_DEFAULTS.baselineMs,
    baselineOffsetMs: RULE_DEFAULTS.baselineOffsetMs,
    labels: {},
    source: 'builtin',
  };
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function durationField(o: Obj, key: string, where: string, def: number, allowZero = true): number {
  const v = o[key];
  if (v === undefined) return def;
  const ms = typeof v === 'string' ? parseDuration(v) : v === 0 ? 0 : undefined;
  if (ms === undefined || (!allowZero && ms <= 0))
    throw new AlertRuleError(`${where}.${key}: must be a duration such as 30s, 5m or 4h`);
  return ms;
}

function checkKeys(o: Obj, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) throw new AlertRuleError(`${where}.${k}: unknown field; allowed: ${allowed.join(', ')}`);
}

export function matchersField(v: unknown, where: string, check?: (name: string) => boolean): Matcher[] {
  let ms: Matcher[];
  try {
    ms = parseMatchers(v, where);
  } catch (e) {
    if (e instanceof MatcherError) throw new AlertRuleError(e.message);
    throw e;
  }
  if (check)
    for (const m of ms)
      if (!check(m.name))
        throw new AlertRuleError(
          `${where}: ${m.name} is not a roll-up field; use one of ${FLOW_FIELDS.join(', ')}, src.labels.<key>, dst.labels.<key>`,
        );
  return ms;
}

function labelsField(v: unknown, where: string): Record<string, string> {
  if (v === undefined) return {};
  if (!isObj(v)) throw new AlertRuleError(`${where}: must be a mapping of label: value`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new AlertRuleError(`${where}.${k}: not a valid label name`);
    if (typeof x !== 'string' && typeof x !== 'number') throw new AlertRuleError(`${where}.${k}: must be a string`);
    out[k] = String(x);
  }
  return out;
}

const COMMON_KEYS = [
  'id',
  'name',
  'type',
  'severity',
  'enabled',
  'match',
  'for',
  'min_count',
  'window',
  'resolve_after',
  'labels',
];

/** One rule from its YAML/JSON form (snake_case keys as in the rules file). */
export function parseRule(input: unknown, where: string, source: AlertRule['source']): AlertRule {
  if (!isObj(input)) throw new AlertRuleError(`${where}: must be a mapping`);
  const type = input.type ?? (input.id === 'unexpected-drop' ? 'unexpected-drop' : undefined);
  if (type !== 'unexpected-drop' && type !== 'rate')
    throw new AlertRuleError(`${where}.type: must be unexpected-drop or rate`);
  const id = input.id;
  if (typeof id !== 'string' || !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(id))
    throw new AlertRuleError(
      `${where}.id: must be a lowercase name of letters, digits and dashes (e.g. payments-drop-rate)`,
    );
  const severity = input.severity ?? RULE_DEFAULTS.severity;
  if (!SEVERITIES.includes(severity as Severity))
    throw new AlertRuleError(`${where}.severity: must be one of ${SEVERITIES.join(', ')}`);
  if (input.enabled !== undefined && typeof input.enabled !== 'boolean')
    throw new AlertRuleError(`${where}.enabled: must be true or false`);
  const minCount = input.min_count ?? 0;
  if (typeof minCount !== 'number' || !Number.isInteger(minCount) || minCount < 0)
    throw new AlertRuleError(`${where}.min_count: must be a whole number >= 0`);
  const d = type === 'rate' ? RULE_DEFAULTS.rate : RULE_DEFAULTS.unexpectedDrop;
  const name = input.name ?? (type === 'rate' ? 'DropRateHigh' : 'UnexpectedDrop');
  if (typeof name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw new AlertRuleError(`${where}.name: must be an alert name such as PaymentsDropRate`);
  const base = {
    id,
    name,
    severity: severity as Severity,
    enabled: input.enabled !== false,
    match: matchersField(input.match, `${where}.match`, isFlowField),
    forMs: durationField(input, 'for', where, d.forMs),
    minCount,
    windowMs: durationField(input, 'window', where, d.windowMs, false),
    resolveAfterMs: durationField(input, 'resolve_after', where, d.resolveAfterMs),
    labels: labelsField(input.labels, `${where}.labels`),
    source,
  };
  if (type === 'unexpected-drop') {
    checkKeys(input, [...COMMON_KEYS, 'baseline', 'baseline_offset'], where);
    return {
      ...base,
      type,
      baselineMs: durationField(input, 'baseline', where, RULE_DEFAULTS.baselineMs, false),
      baselineOffsetMs: durationField(input, 'baseline_offset', where, RULE_DEFAULTS.baselineOffsetMs),
    };
  }
  checkKeys(input, [...COMMON_KEYS, 'by', 'threshold'], where);
  if (input.by !== 'namespace' && input.by !== 'policy' && input.by !== 'edge')
    throw new AlertRuleError(`${where}.by: must be namespace, policy or edge`);
  const threshold = input.threshold;
  if (typeof threshold !== 'number' || !(threshold >= 0))
    throw new AlertRuleError(`${where}.threshold: must be a number of drops per minute (>= 0)`);
  return { ...base, type, by: input.by, perMinute: threshold };
}

/** The rule back in its file/API form (durations in ms as `<n>ms` strings would be unreadable: seconds). */
export function ruleToJson(r: AlertRule): Record<string, unknown> {
  const secs = (ms: number) => `${ms / 1000}s`;
  const out: Record<string, unknown> = {
    id: r.id,
    name: r.name,
    type: r.type,
    severity: r.severity,
    enabled: r.enabled,
    match: r.match.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`),
    for: secs(r.forMs),
    min_count: r.minCount,
    window: secs(r.windowMs),
    resolve_after: secs(r.resolveAfterMs),
    labels: r.labels,
    source: r.source,
  };
  if (r.type === 'rate') Object.assign(out, { by: r.by, threshold: r.perMinute });
  else Object.assign(out, { baseline: secs(r.baselineMs), baseline_offset: secs(r.baselineOffsetMs) });
  return out;
}

/**
 * The effective rule set: the built-in rule, overridden by a file or API rule with its id; file
 * rules, then API rules (an API rule may not reuse a file rule's id: the file is the owner).
 */
export function effectiveRules(fileRules: readonly AlertRule[], apiRules: readonly AlertRule[]): AlertRule[] {
  const byId = new Map<string, AlertRule>([['unexpected-drop', builtinUnexpectedDropRule()]]);
  for (const r of apiRules) byId.set(r.id, r);
  for (const r of fileRules) byId.set(r.id, r);
  return [...byId.values()];
}
