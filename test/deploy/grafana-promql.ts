/**
 * The PromQL Grafana sends for the Prometheus panels of the provisioned dashboards, variables
 * interpolated (shared by the promtool check and the live-Prometheus test).
 */
import { allPanels, loadDashboards, PROMETHEUS_TYPE, targetType } from './grafana-dashboards.js';

/** Grafana's global variables as Prometheus would receive them after interpolation ($__range: the dashboards' 6 h). */
export const GRAFANA_GLOBALS: Record<string, string> = { __rate_interval: '1m', __interval: '15s', __range: '6h' };

export interface DashboardExpr {
  /** `dashboard uid / panel title / refId` */
  where: string;
  expr: string;
}

export function dashboardExprs(): DashboardExpr[] {
  return loadDashboards().flatMap(({ dashboard }) => {
    // A custom variable stands for its first option; a query variable for its allValue.
    const values: Record<string, string> = { ...GRAFANA_GLOBALS };
    for (const v of dashboard.templating.list) values[v.name] = v.allValue ?? v.query?.split(',')[0] ?? '';
    return allPanels(dashboard).flatMap((panel) =>
      (panel.targets ?? [])
        .filter((t) => targetType(panel, t) === PROMETHEUS_TYPE)
        .map((t) => ({
          where: `${dashboard.uid} / ${panel.title} / ${t.refId}`,
          expr: t.expr!.replace(/\$(\w+)/g, (whole, name: string) => values[name] ?? whole),
        })),
    );
  });
}
