/** Reading the provisioned Grafana dashboards (deploy/grafana/dashboards/*.json) in tests. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEPLOY = join(import.meta.dirname, '..', '..', 'deploy');
export const DASHBOARD_DIR = join(DEPLOY, 'grafana', 'dashboards');

export interface Target {
  refId: string;
  datasource?: { type: string; uid: string };
  format?: string;
  rawSql?: string;
  expr?: string;
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
  panels?: Panel[];
}

export interface TemplateVariable {
  name: string;
  type: string;
  query?: string;
  datasource?: { type: string; uid: string };
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: TemplateVariable[] };
}

export function loadDashboards(): Array<{ file: string; dashboard: Dashboard }> {
  return readdirSync(DASHBOARD_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, dashboard: JSON.parse(readFileSync(join(DASHBOARD_DIR, file), 'utf8')) as Dashboard }));
}

/** Every panel, rows' nested panels included. */
export function allPanels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

export const POSTGRES_TYPE = 'grafana-postgresql-datasource';
export const PROMETHEUS_TYPE = 'prometheus';

/** The datasource type a target runs on (its own, else its panel's). */
export function targetType(panel: Panel, target: Target): string | undefined {
  return (target.datasource ?? panel.datasource)?.type;
}
