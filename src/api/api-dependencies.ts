/**
 * What the API module needs from the composition root, and nothing more: the read repositories,
 * the policy inventory, the token settings, a logger and whether the `api` role is on.
 */
import type { Runtime } from '../app/runtime.js';
import { loadAlertingConfig } from '../app/alerting.js';
import type { Logger } from '../common/logger.js';
import { AlertStateRepository } from '../storage/alert-state.repository.js';
import type { AlertsApiDeps } from './alerts.controller.js';
import type { PolicyInventory } from '../policy/policy-inventory.js';
import { PostgresDropEventReader } from '../storage/drop-event.reader.js';
import { PostgresEdgeReader } from '../storage/edge.reader.js';
import { registerEdgeListCacheMetrics } from '../storage/edge-list-cache.metrics.js';
import { EdgeUnitCache, tableRetention } from '../storage/edge-unit-cache.js';
import type { DropEventReader, EdgeReader, RollupStatsReader } from '../storage/readers.js';
import { PostgresRollupStatsReader } from '../storage/rollup-stats.reader.js';

/** The bearer-token settings the guard enforces. */
export interface AuthSettings {
  disabled: boolean;
  readTokens: readonly string[];
  adminTokens: readonly string[];
  /** /metrics without a token. */
  metricsOpen: boolean;
}

/** The current policy inventory; undefined when none is configured. */
export interface PolicyInventoryProvider {
  current(): PolicyInventory | undefined;
}

export interface ApiDependencies {
  drops: DropEventReader;
  edges: EdgeReader;
  stats: RollupStatsReader;
  policies: PolicyInventoryProvider;
  auth: AuthSettings;
  /** Alert state and rules (read from the database: the alerts role may run elsewhere). */
  alerts: AlertsApiDeps;
  log: Logger;
  /** The `api` role: without it only the guard and the exception filter are registered. */
  serveApi: boolean;
}

/** Builds the API's dependencies from the service runtime (PostgreSQL readers over its DataSource). */
export function apiDependenciesFrom(runtime: Runtime): ApiDependencies {
  const ds = runtime.db.dataSource;
  return {
    drops: new PostgresDropEventReader(ds),
    edges: edgeReader(runtime),
    stats: new PostgresRollupStatsReader(ds),
    policies: { current: () => runtime.policies?.current() },
    auth: runtime.config.auth,
    alerts: alertsApi(runtime),
    log: runtime.log.child({ component: 'api' }),
    serveApi: runtime.config.roles.has('api'),
  };
}

/** The edge reader, with its cache of units unless EDGE_LIST_CACHE_MB is 0. */
function edgeReader(runtime: Runtime): PostgresEdgeReader {
  const { edgeListCacheBytes, retention } = runtime.config;
  if (edgeListCacheBytes === 0) return new PostgresEdgeReader(runtime.db.dataSource);
  const units = new EdgeUnitCache({ maxBytes: edgeListCacheBytes, retention: tableRetention(retention) });
  registerEdgeListCacheMetrics(runtime.registry, units);
  return new PostgresEdgeReader(runtime.db.dataSource, {
    units,
    log: runtime.log.child({ component: 'edge-list-cache' }),
  });
}

function alertsApi(runtime: Runtime): AlertsApiDeps {
  const alerting = loadAlertingConfig(runtime.config);
  return { repo: new AlertStateRepository(runtime.db.dataSource), config: () => alerting };
}
