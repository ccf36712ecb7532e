import type { FlowEndpoint, FlowRecord } from './flow-record.js';

/**
 * The name of one side of an edge, stable across pod restarts: the workload when known, then the
 * aggregated name, pod, or for non-pod endpoints the kind and IP. Used in roll-up keys and as the
 * Kafka message key, so one partition owns each edge.
 */
export function endpointKey(e: FlowEndpoint): string {
  if (e.workload) return `${e.namespace ?? ''}/${e.workload.kind}/${e.workload.name}`;
  if (e.nameAggr) return `${e.namespace ?? ''}/aggr/${e.nameAggr}`;
  if (e.pod) return `${e.namespace ?? ''}/pod/${e.pod}`;
  if (e.kind === 'pod' || e.kind === 'unknown') return `${e.namespace ?? ''}/${e.kind}/${e.ip ?? ''}`;
  return `${e.kind}/${e.ip ?? ''}`;
}

/** cluster|src|dst|port|protocol: the Kafka key of a flow (DESIGN.md "Bus"). */
export function aggregationKey(f: FlowRecord): string {
  return `${f.cluster}|${endpointKey(f.src)}|${endpointKey(f.dst)}|${f.dstPort ?? ''}|${f.protocol}`;
}
