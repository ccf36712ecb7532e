import type { Registry } from 'prom-client';
import type { Aggregator } from '../aggregator/aggregator.js';
import type { FlowBus } from '../bus/flow-bus.js';
import type { Collector } from '../collector/collector.js';
import type { Logger } from '../common/logger.js';
import type { AppConfig } from '../config/config.js';
import type { PolicyInventorySource } from '../policy/policy-inventory.js';
import type { Database } from '../storage/database.js';
import type { WriteRepositories } from '../storage/repositories.js';

/**
 * Everything the running service holds, built outside Nest (src/app/service.ts) so the domain and
 * the CLI can use it without the HTTP layer; Nest controllers receive it as one provider.
 */
export interface Runtime {
  config: AppConfig;
  log: Logger;
  registry: Registry;
  db: Database;
  bus: FlowBus;
  repositories: WriteRepositories;
  aggregator?: Aggregator;
  /** The policy inventory (POLICY_MANIFESTS); absent when none is configured. */
  policies?: PolicyInventorySource;
  collectors: Collector[];
  readiness(): Promise<Record<string, string>>;
}

export const RUNTIME = Symbol('RUNTIME');
