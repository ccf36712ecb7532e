import { describe, expect, it } from '@jest/globals';
import { advanceAlerts, type AlertRecord } from '../../src/alerts/alert-lifecycle.js';
import { builtinUnexpectedDropRule, parseRule, type AlertRule } from '../../src/alerts/alert-rules.js';
import { parseAlertingConfig } from '../../src/alerts/alerting-config.js';
import { parseMatcher, matches } from '../../src/alerts/matchers.js';
import { planGroups, type GroupState, type Notification } from '../../src/alerts/notification-groups.js';
import { matchRoutes } from '../../src/alerts/route-tree.js';
import { rateCandidates, unexpectedDropCandidates, type WindowRow } from '../../src/alerts/rule-conditions.js';
import type { Silence } from '../../src/alerts/silences.js';
import { slackMessage } from '../../src/alerts/slack-message.js';

const S = 1000;
const M = 60 * S;
const T0 = Date.parse('2026-03-01T10:00:00Z');

/** A controllable clock and the evaluation loop around the pure steps, as the service runs it. */
class Harness {
  now = T0;
  rows: WindowRow[] = [];
  active: AlertRecord[] = [];
  resolved: AlertRecord[] = [];
  groups: GroupState[] = [];
  silences: Silence[] = [];
  sent: Notification[] = [];
  private nextId = 1;
  readonly rules: Map<string, AlertRule>;

  constructor(
    rule: AlertRule,
    private readonly yaml = '',
  ) {
    this.rules = new Map([[rule.id, rule]]);
  }

  config() {
    return parseAlertingConfig(this.yaml, {
      groupWaitMs: 30 * S,
      groupIntervalMs: 5 * M,
      repeatIntervalMs: 4 * 60 * M,
    });
  }

  drop(src: string, dst: string, at: number, count = 1, policy = 'shop/default-deny'): void {
    this.rows.push(row(src, dst, at, count, policy));
  }

  /** One evaluation at the current time (every 15 s in the service). */
  tick(): Notification[] {
    const rule = [...this.rules.values()][0];
    const active = new Set(this.active.filter((a) => a.edge).map((a) => `${a.ruleId}|${JSON.stringify(key(a))}`));
    const candidates =
      rule.type === 'rate'
        ? rateCandidates(rule, this.rows, this.now)
        : unexpectedDropCandidates(rule, this.rows, this.now, new Set(), this.config().expectedDrops, active);
    const step = advanceAlerts(this.active, candidates, this.rules, this.now);
    for (const a of step.alerts) if (a.id === undefined) a.id = this.nextId++;
    this.active = step.alerts.filter((a) => a.status !== 'resolved');
    // As the service does: resolved alerts stay visible while a group still lists them as announced.
    const announced = new Set(this.groups.flatMap((g) => g.lastFiring));
    const earlier = this.resolved.filter((a) => announced.has(a.id!) && !step.alerts.includes(a));
    this.resolved.push(...step.alerts.filter((a) => a.status === 'resolved'));
    const plan = planGroups(this.groups, [...step.alerts, ...earlier], this.config().route, this.silences, this.now);
    this.groups = plan.groups;
    this.sent.push(...plan.notifications);
    return plan.notifications;
  }

  /** Advances the clock in 15 s evaluation steps, returning what was notified. */
  run(ms: number): Notification[] {
    const out: Notification[] = [];
    for (const end = this.now + ms; this.now < end;) {
      this.now += 15 * S;
      out.push(...this.tick());
    }
    return out;
  }
}

function key(a: AlertRecord): unknown {
  const e = a.edge!;
  return [
    e.cluster,
    e.srcKind,
    e.srcNamespace,
    e.srcWorkload,
    e.dstKind,
    e.dstNamespace,
    e.dstWorkload,
    e.dstPort,
    e.protocol,
  ];
}

function row(src: string, dst: string, at: number, count: number, policy: string): WindowRow {
  const [sns, sw] = src.split('/');
  const [dns, dw] = dst.split('/');
  return {
    cluster: 'prod',
    source: 'calico',
    srcKind: 'pod',
    srcNamespace: sns,
    srcWorkload: sw,
    srcLabels: { app: sw },
    dstKind: 'pod',
    dstNamespace: dns,
    dstWorkload: dw,
    dstLabels: { app: dw },
    dstPort: 5432,
    protocol: 'TCP',
    verdict: 'denied',
    direction: 'ingress',
    dropReason: 'POLICY_DENY',
    attributionLevel: 'reported',
    policies: [policy],
    count,
    firstSeen: at,
    lastSeen: at,
  };
}

const fast = (over: Record<string, unknown> = {}) =>
  parseRule(
    { id: 'unexpected-drop', type: 'unexpected-drop', for: '1m', window: '2m', resolve_after: '5m', ...over },
    'r',
    'file',
  );

/** A steady stream of drops every 10 s from `from` for `ms`. */
function steady(h: Harness, src: string, dst: string, from: number, ms: number): void {
  for (let t = from; t < from + ms; t += 10 * S) h.drop(src, dst, t);
}

describe('matchers', () => {
  it('follow Alertmanager: anchored regexes, missing labels are empty', () => {
    expect(matches(parseMatcher('namespace=~"pay.*"'), { namespace: 'payments' })).toBe(true);
    expect(matches(parseMatcher('namespace=~"pay"'), { namespace: 'payments' })).toBe(false);
    expect(matches(parseMatcher('team!="x"'), {})).toBe(true);
    expect(matches(parseMatcher('team=""'), {})).toBe(true);
    expect(() => parseMatcher('team=~"("')).toThrow(/invalid regex/);
  });
});

describe('rule defaults', () => {
  it('the built-in unexpected-drop rule: for 5m, window 2m, resolve after 5m, baseline 7d ending 1h ago', () => {
    const r = builtinUnexpectedDropRule();
    expect(r).toMatchObject({ forMs: 300_000, windowMs: 120_000, resolveAfterMs: 300_000, minCount: 0 });
    expect(r.type === 'unexpected-drop' && [r.baselineMs, r.baselineOffsetMs]).toEqual([604_800_000, 3_600_000]);
  });

  it('rejects match fields the roll-ups do not carry', () => {
    expect(() =>
      parseRule({ id: 'x', type: 'rate', by: 'namespace', threshold: 1, match: ['src.pod="a"'] }, 'r', 'api'),
    ).toThrow(/src.pod is not a roll-up field/);
  });
});

describe('for, blips, min_count and resolve (controllable clock)', () => {
  it('a pod-start blip (drops for 5 s) never fires; a sustained drop fires after `for`', () => {
    const h = new Harness(builtinUnexpectedDropRule());
    for (let t = T0; t < T0 + 5 * S; t += S) h.drop('shop/web', 'shop/db', t, 3);
    h.run(10 * M);
    expect(h.sent).toEqual([]);
    expect(h.active).toEqual([]);

    const start = h.now;
    steady(h, 'shop/api', 'shop/db', start, 30 * M);
    h.run(4 * M + 45 * S);
    expect(h.active.map((a) => a.status)).toEqual(['pending']);
    h.run(15 * S); // 5 min after the first drop
    expect(h.active.map((a) => a.status)).toEqual(['firing']);
    expect(h.active[0].firedAt).toBe(start + 5 * M);
  });

  it('min_count fires before `for` once the window holds that many drops', () => {
    const h = new Harness(fast({ for: '10m', min_count: 100 }));
    h.drop('shop/web', 'shop/db', T0 + 5 * S, 99);
    h.run(15 * S);
    expect(h.active[0].status).toBe('pending');
    h.drop('shop/web', 'shop/db', h.now, 1);
    h.run(15 * S);
    expect(h.active[0].status).toBe('firing');
  });

  it('resolves after the quiet period and announces the resolution once', () => {
    const h = new Harness(fast());
    steady(h, 'shop/web', 'shop/db', T0, 3 * M);
    const early = h.run(3 * M);
    // Fires at T0+1m; group_wait 30 s: one notification at T0+1m30s.
    expect(early.map((n) => [n.at - T0, n.firing.length, n.resolved.length])).toEqual([[90 * S, 1, 0]]);
    // Last drop at T0+2m50s; resolved 5 min later (T0+7m50s → evaluation at T0+8m); group_interval 5 m
    // from T0+1m30s puts the flushes at T0+6m30s (nothing new) and T0+11m30s (the resolution).
    const later = h.run(12 * M);
    expect(later.map((n) => [n.at - T0, n.firing.length, n.resolved.length])).toEqual([[11 * M + 30 * S, 0, 1]]);
    expect(h.resolved[0].resolvedAt).toBe(T0 + 8 * M);
    expect(h.groups).toEqual([]);
  });
});

describe('grouping, group_interval and repeat_interval', () => {
  const rule = fast({ for: '0s' });

  it('alerts of one namespace join one group; a later alert waits for group_interval; repeats every 4h', () => {
    const h = new Harness(rule);
    steady(h, 'shop/web', 'shop/db', T0, 9 * 60 * M);
    steady(h, 'shop/api', 'shop/db', T0 + 10 * S, 9 * 60 * M);
    steady(h, 'bank/web', 'bank/db', T0 + 10 * M, 9 * 60 * M);
    const first = h.run(45 * S);
    // Both shop edges fire at the first evaluations and share one group (alertname, namespace).
    expect(first.map((n) => [n.at - T0, n.groupLabels, n.firing.length])).toEqual([
      [45 * S, { alertname: 'UnexpectedDrop', namespace: 'shop' }, 2],
    ]);
    const rest = h.run(5 * 60 * M);
    expect(rest.map((n) => [n.at - T0, n.groupLabels.namespace, n.firing.length])).toEqual([
      // bank: its first drop at T0+10m is seen by that evaluation; new group, group_wait 30 s.
      [10 * M + 30 * S, 'bank', 1],
      // shop repeats after repeat_interval, on a group_interval tick: T0+45s + 48 × 5m = T0+4h0m45s.
      [4 * 60 * M + 45 * S, 'shop', 2],
      [4 * 60 * M + 10 * M + 30 * S, 'bank', 1],
    ]);
  });

  it('an alert that resolves before group_wait is never announced', () => {
    const h = new Harness(fast({ for: '0s', resolve_after: '0s', window: '15s' }), 'route: {group_wait: 2m}');
    h.drop('shop/web', 'shop/db', T0 + 14 * S);
    h.run(10 * M);
    expect(h.resolved).toHaveLength(1);
    expect(h.sent).toEqual([]);
  });

  it('silences mute matching alerts until they expire; then the alert is news again', () => {
    const h = new Harness(rule);
    h.silences = [
      {
        id: 's1',
        matchers: [parseMatcher('dst_namespace="shop"')],
        startsAt: T0,
        endsAt: T0 + 20 * M,
        createdBy: 'ops',
        comment: 'migration',
      },
    ];
    steady(h, 'shop/web', 'shop/db', T0, 60 * M);
    expect(h.run(20 * M)).toEqual([]);
    const after = h.run(2 * M);
    expect(after.map((n) => [n.at - T0, n.firing.length])).toEqual([[20 * M + 30 * S, 1]]);
  });

  it('expected-drop matchers keep an edge from alerting at all', () => {
    const h = new Harness(rule, 'expected_drops: [{matchers: [\'src_namespace="scanner"\']}]');
    steady(h, 'scanner/probe', 'shop/db', T0, 10 * M);
    h.run(10 * M);
    expect(h.sent).toEqual([]);
  });

  it('rate rules fire per namespace above N drops per minute', () => {
    const h = new Harness(
      parseRule({ id: 'rate', type: 'rate', by: 'namespace', threshold: 10, window: '1m', for: '0s' }, 'r', 'file'),
    );
    h.drop('shop/web', 'shop/db', T0 + 5 * S, 10);
    h.drop('bank/web', 'bank/db', T0 + 5 * S, 11);
    h.run(15 * S);
    expect(h.active.map((a) => [a.labels.namespace, a.status])).toEqual([['bank', 'firing']]);
  });
});

describe('routing tree', () => {
  it('routes by namespace label to a team receiver; others to the default', () => {
    const cfg = parseAlertingConfig(
      `
route:
  receiver: default
  routes:
    - matchers: ['namespace_label_team="payments"']
      receiver: payments
      group_wait: 10s
receivers:
  - name: payments
    slack: {webhook_url_env: SLACK_PAYMENTS}
`,
      { groupWaitMs: 30 * S, groupIntervalMs: 5 * M, repeatIntervalMs: 4 * 60 * M },
    );
    expect(
      matchRoutes(cfg.route, { namespace_label_team: 'payments' }).map((m) => [m.receiver, m.groupWaitMs]),
    ).toEqual([['payments', 10 * S]]);
    expect(matchRoutes(cfg.route, { namespace_label_team: 'web' }).map((m) => m.receiver)).toEqual(['default']);
    expect(() =>
      parseAlertingConfig('receivers: [{name: x, slack: {url: "https://hooks.slack.com/x"}}]', {
        groupWaitMs: 1,
        groupIntervalMs: 1,
        repeatIntervalMs: 1,
      }),
    ).toThrow(/the URL itself does not belong/);
  });
});

describe('Slack message', () => {
  it('names the edge, the policy and its attribution level, and escapes user data', () => {
    const h = new Harness(fast({ for: '0s' }));
    h.drop('shop/web', 'shop/db<x>', T0, 7);
    h.run(45 * S);
    const msg = slackMessage(
      h.sent[0],
      new Map([[h.sent[0].firing[0].fingerprint, 'kind: NetworkPolicy']]),
      'https://ds.example',
    );
    const text = JSON.stringify(msg.blocks);
    expect(msg.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: 'FIRING: 1 alert · alertname=UnexpectedDrop namespace=shop' },
    });
    expect(text).toContain('shop/web → shop/db&lt;x&gt;:5432/TCP');
    expect(text).toContain('*Policy:* `shop/default-deny` (reported)');
    expect(text).toContain('*Drops:* 7 in the rule window');
    expect(text).toContain('*First seen:* 2026-03-01T10:00:00Z');
    expect(text).toContain('kind: NetworkPolicy');
    expect(text).toContain('https://ds.example/api/v1/alerts?fingerprint=');
  });
});
