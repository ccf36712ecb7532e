import { endpointKey } from '../flow/aggregation-key.js';
import type { FlowEndpoint, FlowRecord } from '../flow/flow-record.js';
import { isDrop } from '../flow/flow-record.js';
import type { Attribution } from './attribution.port.js';
import { policyRef } from './attribution.port.js';

export interface RollupRow {
  bucket: string;
  edgeKey: string;
  cluster: string;
  srcKind: string;
  srcNamespace: string;
  srcWorkload: string;
  srcLabels: string | null;
  dstKind: string;
  dstNamespace: string;
  dstWorkload: string;
  dstLabels: string | null;
  dstPort: number;
  protocol: string;
  verdict: string;
  direction: string;
  dropReason: string;
  attributionLevel: string;
  policy: string;
  source: string;
  count: number;
  packets: number;
  bytes: number;
  firstSeen: number;
  lastSeen: number;
}

export interface DropEventRow {
  flowId: string;
  time: string;
  endTime: string | null;
  source: string;
  cluster: string;
  node: string | null;
  verdict: string;
  dropReason: string;
  direction: string;
  srcKind: string;
  srcNamespace: string;
  srcPod: string;
  srcWorkload: string;
  srcIp: string | null;
  dstKind: string;
  dstNamespace: string;
  dstPod: string;
  dstWorkload: string;
  dstIp: string | null;
  dstPort: number;
  protocol: string;
  count: number;
  attributionLevel: string;
  policy: string;
  attribution: string;
  record: string;
}

/** `kind/name` of a workload, the aggregated name, or '' (namespaces are separate columns). */
export function workloadName(e: FlowEndpoint): string {
  if (e.workload) return `${e.workload.kind}/${e.workload.name}`;
  if (e.nameAggr) return e.nameAggr;
  if (e.kind === 'pod') return e.pod ? `pod/${e.pod}` : '';
  return e.ip ?? '';
}

const MINUTE = 60_000;

/**
 * Folds a batch of flows into per-minute edge roll-ups (one row per minute and edge key) and
 * drop events. Pure: the repository writes the result in one transaction with the checkpoints.
 */
export class BatchRollup {
  readonly rollups = new Map<string, RollupRow>();
  readonly events: DropEventRow[] = [];
  /** Distinct UTC days touched, for partition creation. */
  readonly days = new Set<number>();
  flows = 0;
  drops = 0;
  private readonly bucketCache = new Map<number, string>();

  add(f: FlowRecord, attribution: Attribution | undefined): void {
    const t = Date.parse(f.time);
    const minute = Math.floor(t / MINUTE) * MINUTE;
    let bucket = this.bucketCache.get(minute);
    if (bucket === undefined) {
      bucket = new Date(minute).toISOString();
      this.bucketCache.set(minute, bucket);
      this.days.add(Math.floor(minute / 86_400_000));
    }
    const level = attribution?.level ?? '';
    const policy = attribution && attribution.policies.length > 0 ? policyRef(attribution.policies[0]) : '';
    const dropReason = f.dropReason ?? '';
    const port = f.dstPort ?? f.icmpType ?? 0;
    const srcKey = endpointKey(f.src);
    const dstKey = endpointKey(f.dst);
    const key = `${bucket}|${f.cluster}|${srcKey}|${dstKey}|${port}|${f.protocol}|${f.verdict}|${f.direction}|${dropReason}|${level}|${policy}`;
    this.flows += f.count;
    let row = this.rollups.get(key);
    if (row === undefined) {
      row = {
        bucket,
        edgeKey: key.slice(bucket.length + 1),
        cluster: f.cluster,
        srcKind: f.src.kind,
        srcNamespace: f.src.namespace ?? '',
        srcWorkload: workloadName(f.src),
        srcLabels: f.src.labels ? JSON.stringify(f.src.labels) : null,
        dstKind: f.dst.kind,
        dstNamespace: f.dst.namespace ?? '',
        dstWorkload: workloadName(f.dst),
        dstLabels: f.dst.labels ? JSON.stringify(f.dst.labels) : null,
        dstPort: port,
        protocol: f.protocol,
        verdict: f.verdict,
        direction: f.direction,
        dropReason,
        attributionLevel: level,
        policy,
        source: f.source,
        count: 0,
        packets: 0,
        bytes: 0,
        firstSeen: t,
        lastSeen: t,
      };
      this.rollups.set(key, row);
    }
    row.count += f.count;
    row.packets += f.packets ?? 0;
    row.bytes += f.bytes ?? 0;
    const end = f.endTime ? Date.parse(f.endTime) : t;
    if (t < row.firstSeen) row.firstSeen = t;
    if (end > row.lastSeen) row.lastSeen = end;

    if (isDrop(f.verdict)) {
      this.drops += f.count;
      this.events.push({
        flowId: f.id,
        time: f.time,
        endTime: f.endTime ?? null,
        source: f.source,
        cluster: f.cluster,
        node: f.node ?? null,
        verdict: f.verdict,
        dropReason,
        direction: f.direction,
        srcKind: f.src.kind,
        srcNamespace: f.src.namespace ?? '',
        srcPod: f.src.pod ?? '',
        srcWorkload: row.srcWorkload,
        srcIp: f.src.ip ?? null,
        dstKind: f.dst.kind,
        dstNamespace: f.dst.namespace ?? '',
        dstPod: f.dst.pod ?? '',
        dstWorkload: row.dstWorkload,
        dstIp: f.dst.ip ?? null,
        dstPort: port,
        protocol: f.protocol,
        count: f.count,
        attributionLevel: level,
        policy,
        attribution: JSON.stringify(attribution ?? null),
        record: JSON.stringify(f),
      });
    }
  }
}
