/**
 * A real Prometheus (Debian's prometheus package) scrapes the running service every second with
 * the labels of deploy/prometheus/prometheus.yml (job "dropscope", a role label) and loads the
 * alert rules of deploy/prometheus/rules. Every PromQL expression of the dashboards, interpolated
 * as Grafana sends it, runs without error on the live data; the core panels have series; every
 * rule group is evaluated without error.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { RunningService } from '../../src/app/service.js';
import { silentLogger } from '../../src/common/logger.js';
import { startApi } from '../api/api-support.js';
import { createTestDatabase } from '../support/test-database.js';
import { until } from '../support/wait.js';
import { DEPLOY } from './grafana-dashboards.js';
import { dashboardExprs } from './grafana-promql.js';
import { startPrometheus, type PrometheusServer } from './prometheus-server.js';

const RULES_DIR = join(DEPLOY, 'prometheus', 'rules');
const CALICO_EXAMPLE = join(DEPLOY, '..', 'examples', 'flows', 'calico-flows.log');

/**
 * The expressions that must return series here, and why: the service runs the Calico file
 * collector, the aggregator and the alerts role; the flow log holds one malformed line (the
 * collector's dead letter) and one record dated three days ahead (the aggregator's dead letter). The Hubble, Goldmane
 * and Kafka panels stay empty: none of those sources runs in this test.
 */
const MUST_HAVE_SERIES: Record<string, string> = {
  'dropscope-pipeline-health / Collector up / A': 'the Calico file collector sets dropscope_collector_up',
  'dropscope-pipeline-health / Ingest rate per source (collectors) / C': 'the Calico collector publishes records',
  'dropscope-pipeline-health / Records received per source (aggregators) / A': 'the aggregator received them',
  'dropscope-pipeline-health / Flows stored by source and verdict / A': 'the aggregator stored them',
  'dropscope-pipeline-health / Dead letters / A': 'the aggregator dead-lettered the record dated days ahead',
  'dropscope-pipeline-health / Dead letters / B': 'the Calico collector counted the malformed line',
  'dropscope-pipeline-health / Batch write latency / A': 'the aggregator wrote batches',
  'dropscope-pipeline-health / Notifications by outcome / B': 'the alerts role exports its outbox gauge',
  'dropscope-denied-flows / Drops by reason and direction, all clusters (Prometheus) / A':
    'the example flow log has denied flows',
};

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

interface QueryAnswer {
  status: string;
  error?: string;
  data?: { resultType: string; result: Sample[] };
}

interface RuleGroup {
  name: string;
  lastEvaluation: string;
  rules: Array<{ name: string; health: string; lastError?: string }>;
}

/** Prometheus' zero time: a group or rule not evaluated yet. */
const NEVER = '0001-01-01T00:00:00Z';

describe('the dashboards and alert rules on a real Prometheus scraping the service', () => {
  const exprs = dashboardExprs();
  let db: { url: string; drop(): Promise<void> };
  let svc: RunningService | undefined;
  let prom: PrometheusServer | undefined;
  let dir: string | undefined;
  let flowLog: string;
  const example = readFileSync(CALICO_EXAMPLE, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');

  async function promGet<T>(path: string): Promise<T> {
    return (await (await fetch(`${prom!.url}${path}`)).json()) as T;
  }

  const query = (expr: string): Promise<QueryAnswer> =>
    promGet<QueryAnswer>(`/api/v1/query?query=${encodeURIComponent(expr)}`);

  const exprAt = (where: string): string => {
    const e = exprs.find((x) => x.where === where);
    if (!e) throw new Error(`no dashboard expression ${where}`);
    return e.expr;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'dropscope-prom-scrape-'));
    flowLog = join(dir, 'flows.log');
    // Half the example before the start, a line that is not a flow record, and one the aggregator
    // refuses: dated more than a day in the future.
    const ahead = Math.floor(Date.now() / 1000) + 3 * 86_400;
    const future = { ...(JSON.parse(example[0]) as object), start_time: ahead, end_time: ahead + 300 };
    writeFileSync(
      flowLog,
      [...example.slice(0, 20), '{"start_time": "not a time"}', JSON.stringify(future)].join('\n') + '\n',
    );
    svc = await startApi(
      {
        DATABASE_URL: db.url,
        DROPSCOPE_ROLES: 'collector,aggregator,api,alerts',
        CALICO_FLOWLOG_PATH: flowLog,
      },
      silentLogger,
    );
    prom = await startPrometheus({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [join(RULES_DIR, '*.yml')],
      scrape_configs: [
        {
          // The labels of deploy/prometheus/prometheus.yml: job "dropscope" and the target's role
          // (here one process runs every role, as DROPSCOPE_ROLES=all does).
          job_name: 'dropscope',
          metrics_path: '/metrics',
          scrape_interval: '1s',
          scrape_timeout: '1s',
          static_configs: [{ targets: [`127.0.0.1:${svc.port}`], labels: { role: 'all' } }],
        },
      ],
    });
    await until(
      'the service target to be up in Prometheus',
      async () => {
        const t = await promGet<{ data: { activeTargets: Array<{ health: string }> } }>('/api/v1/targets');
        return t.data.activeTargets.length === 1 && t.data.activeTargets[0].health === 'up';
      },
      15_000,
      200,
    ).catch((e: Error) => {
      throw new Error(`${e.message}; Prometheus logged:\n${prom!.output()}`);
    });
    // The rest after the first scrapes, so that the rates over the last minute are above zero.
    appendFileSync(flowLog, example.slice(20).join('\n') + '\n');
  }, 40_000);

  afterAll(async () => {
    await prom?.stop();
    await svc?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('every Prometheus expression of the dashboards runs without error', async () => {
    expect(exprs.length).toBeGreaterThan(20);
    const failed: Array<{ where: string; expr: string; error: string | undefined }> = [];
    for (const e of exprs) {
      const a = await query(e.expr);
      if (a.status !== 'success' || a.data?.resultType !== 'vector')
        failed.push({ where: e.where, expr: e.expr, error: a.error ?? a.data?.resultType });
    }
    expect(failed).toEqual([]);
  });

  it('the target carries job "dropscope" and its role, as the dashboards and rules select', async () => {
    const a = await query(exprAt('dropscope-pipeline-health / Targets up / A'));
    expect(a.data?.result.map((s) => s.value[1])).toEqual(['1']);
    const up = await query('up');
    expect(up.data?.result.map((s) => ({ job: s.metric.job, role: s.metric.role }))).toEqual([
      { job: 'dropscope', role: 'all' },
    ]);
  });

  it('the core panels have series once the flows are scraped, and the stored-flows rate is above zero', async () => {
    const empty = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const where of Object.keys(MUST_HAVE_SERIES))
        if (((await query(exprAt(where))).data?.result ?? []).length === 0) out.push(where);
      return out;
    };
    await until('every core panel to have series', async () => (await empty()).length === 0, 20_000, 500).catch(
      async () => {
        // Name the panels still empty and why they should not be.
        const left = await empty();
        expect(left.map((w) => ({ where: w, because: MUST_HAVE_SERIES[w] }))).toEqual([]);
      },
    );
    const stored = await query(exprAt('dropscope-pipeline-health / Flows stored / s / A'));
    expect(stored.data?.result).toHaveLength(1);
    expect(Number(stored.data!.result[0].value[1])).toBeGreaterThan(0);
  }, 30_000);

  it('every rule group of deploy/prometheus/rules loads and evaluates without error', async () => {
    const expected = readdirSync(RULES_DIR)
      .filter((f) => f.endsWith('.yml'))
      .flatMap(
        (f) =>
          (parseYaml(readFileSync(join(RULES_DIR, f), 'utf8')) as { groups: Array<{ name: string; rules: unknown[] }> })
            .groups,
      )
      .map((g) => ({ name: g.name, rules: g.rules.length }))
      .sort((a, b) => a.name.localeCompare(b.name));
    const groups = async (): Promise<RuleGroup[]> =>
      (await promGet<{ data: { groups: RuleGroup[] } }>('/api/v1/rules')).data.groups;
    await until(
      'every rule group to be evaluated',
      async () => {
        const g = await groups();
        return g.length === expected.length && g.every((x) => x.lastEvaluation !== NEVER);
      },
      15_000,
      250,
    );
    const loaded = await groups();
    expect(
      loaded.map((g) => ({ name: g.name, rules: g.rules.length })).sort((a, b) => a.name.localeCompare(b.name)),
    ).toEqual(expected);
    const broken = loaded.flatMap((g) =>
      g.rules.filter((r) => r.health === 'err').map((r) => ({ group: g.name, rule: r.name, error: r.lastError })),
    );
    expect(broken).toEqual([]);
    for (const g of loaded) for (const r of g.rules) expect(['ok', 'unknown']).toContain(r.health);
  });
});
