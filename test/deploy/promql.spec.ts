/**
 * Every PromQL expression of the dashboards is parsed by a real Prometheus (promtool, Debian's
 * prometheus package: `promtool check rules` parses each rule's expression), every metric it
 * names is one Dropscope registers, and the scrape configurations pass `promtool check config`.
 */
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { DEPLOY } from './grafana-dashboards.js';
import { dashboardExprs } from './grafana-promql.js';

const SRC = join(import.meta.dirname, '..', '..', 'src');

function promtool(args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`promtool is not installed (${r.error.message}); install Debian's prometheus package`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

function withTempDir<T>(f: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'dropscope-promql-'));
  try {
    return f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function registeredMetrics(dir: string, into = new Set<string>()): Set<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) registeredMetrics(p, into);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts'))
      for (const m of readFileSync(p, 'utf8').matchAll(/'(dropscope_[a-z0-9_]+)'/g)) into.add(m[1]);
  }
  return into;
}

describe('PromQL of the dashboards and the scrape configurations', () => {
  const exprs = dashboardExprs();

  it('finds the expressions of both dashboards', () => {
    expect(exprs.length).toBeGreaterThan(20);
    for (const e of exprs) expect({ where: e.where, leftover: /\$\w+/.exec(e.expr)?.[0] }).toEqual({ where: e.where });
  });

  it('every dashboard expression parses in `promtool check rules`', () => {
    const rules = {
      groups: [
        {
          name: 'dashboards',
          rules: exprs.map((e, i) => ({ record: `dropscope:dashboard_expr_${i}`, expr: e.expr })),
        },
      ],
    };
    const r = withTempDir((dir) => {
      const file = join(dir, 'dashboards.rules.yml');
      writeFileSync(file, stringifyYaml(rules));
      return promtool(['check', 'rules', file]);
    });
    expect(r).toEqual({ status: 0, output: expect.stringContaining(`SUCCESS: ${exprs.length} rules found`) });
  });

  it('promtool rejects a broken expression (the check is real)', () => {
    const r = withTempDir((dir) => {
      const file = join(dir, 'broken.rules.yml');
      writeFileSync(
        file,
        stringifyYaml({ groups: [{ name: 'g', rules: [{ record: 'x:y', expr: 'sum by (a (up)' }] }] }),
      );
      return promtool(['check', 'rules', file]);
    });
    expect(r.status).not.toBe(0);
  });

  it('every metric the dashboards and rules name is registered by Dropscope', () => {
    const known = registeredMetrics(SRC);
    const rulesText = readFileSync(join(DEPLOY, 'prometheus', 'rules', 'dropscope.rules.yml'), 'utf8');
    const named = [...exprs.map((e) => e.expr), rulesText].flatMap((t) =>
      [...t.matchAll(/\b(dropscope_[a-z0-9_]+)/g)].map((m) => m[1].replace(/_(bucket|sum|count)$/, '')),
    );
    const unknown = [...new Set(named)].filter((m) => !known.has(m) && !m.startsWith('dropscope_dashboard'));
    expect(unknown).toEqual([]);
  });

  it('the compose scrape configuration passes `promtool check config`', () => {
    const r = promtool(['check', 'config', join(DEPLOY, 'prometheus', 'prometheus.yml')]);
    expect(r).toEqual({ status: 0, output: expect.stringContaining('SUCCESS') });
  });

  it('the Kubernetes scrape configuration passes `promtool check config`', () => {
    // Debian's promtool is built without Kubernetes service discovery: the pod discovery is
    // checked by hand and swapped for a static target, so promtool checks the relabelling.
    const config = parseYaml(readFileSync(join(DEPLOY, 'prometheus', 'prometheus-kubernetes.yml'), 'utf8')) as {
      scrape_configs: Array<Record<string, unknown>>;
    };
    const job = config.scrape_configs.find((j) => j.job_name === 'dropscope')!;
    expect(job.kubernetes_sd_configs).toEqual([{ role: 'pod', namespaces: { names: ['dropscope'] } }]);
    delete job.kubernetes_sd_configs;
    job.static_configs = [{ targets: ['dropscope-api:8080'] }];
    const r = withTempDir((dir) => {
      const file = join(dir, 'prometheus.yml');
      writeFileSync(file, stringifyYaml(config));
      return promtool(['check', 'config', file]);
    });
    expect(r).toEqual({ status: 0, output: expect.stringContaining('SUCCESS') });
  });
});
