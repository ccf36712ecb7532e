import { Counter, Gauge, register as defaultRegistry, type Registry } from 'prom-client';
import { metric } from '../../metrics/metrics.registry.js';

/** The Hubble collector's Prometheus metrics (names in docs/HUBBLE.md). Bounded label values only. */
export interface HubbleMetrics {
  lostEvents: Counter<'source'>;
  nodeStatus: Counter<'state'>;
  reconnects: Counter<'collector'>;
  gaps: Counter<'reason'>;
  flowsReceived: Counter<string>;
  flowsSkipped: Counter<'reason'>;
  connected: Gauge<string>;
  lastFlowTime: Gauge<string>;
}

function counter<T extends string>(registry: Registry, name: string, help: string, labelNames: T[]): Counter<T> {
  const m = metric(registry, name, () => new Counter<T>({ name, help, labelNames, registers: [registry] }));
  if (!(m instanceof Counter)) throw new Error(`metric ${name} is already registered with another type`);
  return m as Counter<T>;
}

function gauge(registry: Registry, name: string, help: string): Gauge<string> {
  const m = metric(registry, name, () => new Gauge({ name, help, registers: [registry] }));
  if (!(m instanceof Gauge)) throw new Error(`metric ${name} is already registered with another type`);
  return m;
}

/** Creates the metrics in `registry`, or reuses them when another collector already did. */
export function hubbleMetrics(registry: Registry = defaultRegistry): HubbleMetrics {
  return {
    lostEvents: counter(
      registry,
      'dropscope_hubble_lost_events_total',
      'Events Hubble reported lost (lost_events), by where they were lost.',
      ['source'],
    ),
    nodeStatus: counter(
      registry,
      'dropscope_hubble_node_status_total',
      'Node status changes reported by Hubble Relay, by new state.',
      ['state'],
    ),
    reconnects: counter(
      registry,
      'dropscope_collector_reconnects_total',
      'Times a collector reconnected to its source.',
      ['collector'],
    ),
    gaps: counter(
      registry,
      'dropscope_hubble_gaps_total',
      'Known gaps in the Hubble flow stream (lost events, unavailable nodes, stale flows skipped).',
      ['reason'],
    ),
    flowsReceived: counter(registry, 'dropscope_hubble_flows_received_total', 'Flows received from Hubble Relay.', []),
    flowsSkipped: counter(
      registry,
      'dropscope_hubble_flows_skipped_total',
      'Flows received but not published, by reason (duplicate, resent, stale, invalid).',
      ['reason'],
    ),
    connected: gauge(registry, 'dropscope_hubble_connected', '1 while a GetFlows stream to Hubble Relay is open.'),
    lastFlowTime: gauge(
      registry,
      'dropscope_hubble_last_flow_timestamp_seconds',
      'Flow time of the last flow published to the bus.',
    ),
  };
}
