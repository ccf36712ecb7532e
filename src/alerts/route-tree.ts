/**
 * The routing tree, as in Alertmanager: an alert walks down from the root; the first matching
 * child takes it (unless that child says `continue: true`), and the deepest match decides the
 * receiver, `group_by` and timings (children inherit what they do not set).
 */
import { parseDuration } from '../config/duration.js';
import { AlertRuleError, matchersField } from './alert-rules.js';
import { matchesAll, formatMatcher, type Labels, type Matcher } from './matchers.js';

export interface Timings {
  groupWaitMs: number;
  groupIntervalMs: number;
  repeatIntervalMs: number;
}

export interface Route extends Timings {
  receiver: string;
  /** Label names; ['...'] groups by every label (one alert per group). */
  groupBy: string[];
  matchers: Matcher[];
  continue: boolean;
  routes: Route[];
}

/** Where one alert goes: a receiver and the group it joins there. */
export interface RouteMatch extends Timings {
  receiver: string;
  groupBy: string[];
  /** The matched route's position in the tree, e.g. `{}/{team="payments"}`: part of the group key. */
  path: string;
}

export function matchRoutes(root: Route, labels: Labels): RouteMatch[] {
  const out: RouteMatch[] = [];
  const walk = (r: Route, path: string): boolean => {
    if (!matchesAll(r.matchers, labels)) return false;
    let matchedChild = false;
    for (const c of r.routes) {
      if (walk(c, `${path}/{${c.matchers.map(formatMatcher).join(',')}}`)) {
        matchedChild = true;
        if (!c.continue) break;
      }
    }
    if (!matchedChild)
      out.push({
        receiver: r.receiver,
        groupBy: r.groupBy,
        path,
        groupWaitMs: r.groupWaitMs,
        groupIntervalMs: r.groupIntervalMs,
        repeatIntervalMs: r.repeatIntervalMs,
      });
    return true;
  };
  walk(root, '{}');
  return out;
}

/** The labels an alert's group is keyed on. */
export function groupLabels(groupBy: readonly string[], labels: Labels): Labels {
  if (groupBy.includes('...')) return { ...labels };
  const out: Labels = {};
  for (const k of groupBy) if (labels[k] !== undefined) out[k] = labels[k];
  return out;
}

export function groupKey(m: RouteMatch, labels: Labels): string {
  const g = groupLabels(m.groupBy, labels);
  const body = Object.keys(g)
    .sort()
    .map((k) => `${k}=${JSON.stringify(g[k])}`)
    .join(',');
  return `${m.path}:${m.receiver}:{${body}}`;
}

type Obj = Record<string, unknown>;

function timing(o: Obj, key: string, where: string, inherited: number): number {
  const v = o[key];
  if (v === undefined) return inherited;
  const ms = typeof v === 'string' ? parseDuration(v) : undefined;
  if (ms === undefined || ms <= 0)
    throw new AlertRuleError(`${where}.${key}: must be a duration such as 30s, 5m or 4h`);
  return ms;
}

const ROUTE_KEYS = [
  'receiver',
  'group_by',
  'group_wait',
  'group_interval',
  'repeat_interval',
  'matchers',
  'continue',
  'routes',
];

/** A route from its YAML form; children inherit receiver, group_by and timings from `parent`. */
export function parseRoute(
  input: unknown,
  where: string,
  parent: Omit<Route, 'matchers' | 'continue' | 'routes'>,
): Route {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new AlertRuleError(`${where}: must be a mapping`);
  const o = input as Obj;
  for (const k of Object.keys(o))
    if (!ROUTE_KEYS.includes(k))
      throw new AlertRuleError(`${where}.${k}: unknown field; allowed: ${ROUTE_KEYS.join(', ')}`);
  const receiver = o.receiver ?? parent.receiver;
  if (typeof receiver !== 'string' || receiver === '')
    throw new AlertRuleError(`${where}.receiver: must name a receiver`);
  const groupBy = o.group_by ?? parent.groupBy;
  if (!Array.isArray(groupBy) || !groupBy.every((x) => typeof x === 'string'))
    throw new AlertRuleError(`${where}.group_by: must be a list of label names`);
  if (o.continue !== undefined && typeof o.continue !== 'boolean')
    throw new AlertRuleError(`${where}.continue: must be true or false`);
  const self = {
    receiver,
    groupBy: groupBy as string[],
    groupWaitMs: timing(o, 'group_wait', where, parent.groupWaitMs),
    groupIntervalMs: timing(o, 'group_interval', where, parent.groupIntervalMs),
    repeatIntervalMs: timing(o, 'repeat_interval', where, parent.repeatIntervalMs),
  };
  const children = o.routes ?? [];
  if (!Array.isArray(children)) throw new AlertRuleError(`${where}.routes: must be a list of routes`);
  return {
    ...self,
    matchers: matchersField(o.matchers, `${where}.matchers`),
    continue: o.continue === true,
    routes: children.map((c, i) => parseRoute(c, `${where}.routes[${i}]`, self)),
  };
}

export function routeReceivers(r: Route): string[] {
  return [r.receiver, ...r.routes.flatMap(routeReceivers)];
}
