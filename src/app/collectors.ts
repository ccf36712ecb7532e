import type { Registry } from 'prom-client';
import type { FlowBus } from '../bus/flow-bus.js';
import { CalicoFileCollector } from '../collector/calico/calico-file.collector.js';
import { GoldmaneCollector } from '../collector/calico/goldmane.collector.js';
import type { CheckpointReader, Collector } from '../collector/collector.js';
import { HubbleRelayCollector } from '../collector/hubble/hubble-relay.collector.js';
import type { Logger } from '../common/logger.js';
import type { AppConfig } from '../config/config.js';

// Apart from wiring.ts so that `import`, which opens a bus and an attributor but no collector,
// does not load the gRPC clients.
/** The collectors the configuration enables (HUBBLE_ADDR, CALICO_FLOWLOG_PATH, GOLDMANE_ADDR). */
export function createCollectors(
  config: AppConfig,
  bus: FlowBus,
  checkpoints: CheckpointReader,
  registry: Registry,
  log: Logger,
): Collector[] {
  const out: Collector[] = [];
  if (config.hubble)
    out.push(
      new HubbleRelayCollector({
        addr: config.hubble.addr,
        tls: config.hubble.tls,
        filters: config.hubble.filter,
        bus,
        checkpoints,
        registry,
        logger: log.child({ component: 'hubble' }),
        defaultCluster: config.clusterName,
      }),
    );
  if (config.calico)
    out.push(
      new CalicoFileCollector({
        path: config.calico.flowLogPath,
        bus,
        checkpoints,
        registry,
        logger: log.child({ component: 'calico-file' }),
        cluster: config.clusterName,
      }),
    );
  if (config.goldmane)
    out.push(
      new GoldmaneCollector({
        addr: config.goldmane.addr,
        tls: config.goldmane.tls,
        bus,
        checkpoints,
        registry,
        logger: log.child({ component: 'goldmane' }),
        cluster: config.clusterName,
      }),
    );
  return out;
}
