import { createHash } from 'node:crypto';
import { edgeId } from './edge-id.js';
import { endpointKey } from '../flow/aggregation-key.js';
import type { FlowEndpoint, FlowRecord } from '../flow/flow-record.js';
import { isDrop } from '../flow/flow-record.js';
import type { Attribution } from './attribution.port.js';
import { policyRef } from './attribution.port.js';
import type { PrefoldedSegment } from './prefolded-segment.js';
import type { DropEventSampler } from './drop-event-sampler.js';
import { parseFlowTime } from '../flow/flow-time.js';

/** One roll-up row. Keys are the column names (the writer COPies them in this table's order). */
export interface RollupRow {
  bucket: string;
  edge_key: string;
  /** The edge list's id of the row's ten list fields (edge-id.ts). */
  edge_id: string;
  cluster: string;
  src_kind: string;
  src_namespace: string;
  src_workload: string;
  src_labels: Record<string, string> | null;
  dst_kind: string;
  dst_namespace: string;
  dst_workload: string;
  dst_labels: Record<string, string> | null;
  dst_port: number;
  protocol: string;
  verdict: string;
  direction: string;
  drop_reason: string;
  attribution_level: string;
  /** Every policy the attribution names (`ns/name`), in attribution order, each once. */
  policies: string[];
  source: string;
  count: number;
  packets: number;
  bytes: number;
  /** epoch ms */
  first_seen: number;
  /** epoch ms */
  last_seen: number;
}

/**
 * A roll-up row whose identifying fields are already COPY text (folded in an import worker
 * thread, see PrefoldedSegment): `head` is the row's line up to `source`, the labels are COPY
 * fields (null: none). Counters merge as RollupRow's do.
 */
export interface FormattedRollupRow {
  bucket: string;
  head: string;
  srcLabels: string | null;
  dstLabels: string | null;
  count: number;
  packets: number;
  bytes: number;
  first_seen: number;
  last_seen: number;
}

/** One drop event row; keys are the column names (see RollupRow). */
export interface DropEventRow {
  flow_id: string;
  time: string;
  end_time: string | null;
  source: string;
  cluster: string;
  node: string | null;
  verdict: string;
  drop_reason: string;
  direction: string;
  src_kind: string;
  src_namespace: string;
  src_pod: string;
  src_workload: string;
  src_ip: string | null;
  dst_kind: string;
  dst_namespace: string;
  dst_pod: string;
  dst_workload: string;
  dst_ip: string | null;
  dst_port: number;
  protocol: string;
  count: number;
  attribution_level: string;
  policies: string[];
  attribution: Attribution | null;
  record: FlowRecord;
}

/** `kind/name` of a workload, the aggregated name, or '' (namespaces are separate columns). */
export function workloadName(e: FlowEndpoint): string {
  if (e.workload) return `${e.workload.kind}/${e.workload.name}`;
  if (e.nameAggr) return e.nameAggr;
  if (e.kind === 'pod') return e.pod ? `pod/${e.pod}` : '';
  return e.ip ?? '';
}

/**
 * The policies a drop is credited to: every distinct policy its attribution names (reported
 * entries, or the isolating policies then the deny rules), so a drop isolated by two policies
 * counts for both.
 */
export function creditedPolicies(attribution: Attribution | undefined): string[] {
  if (!attribution || attribution.policies.length === 0) return [];
  const refs = new Set<string>();
  for (const p of attribution.policies) refs.add(policyRef(p));
  return [...refs];
}

const MINUTE = 60_000;

/**
 * Longest edge key stored as is. The key is in the roll-ups' primary key, and a B-tree entry holds
 * at most 2,704 bytes: input fields may be 4 KB each, so longer keys (600 UTF-16 units are at most
 * 1,800 UTF-8 bytes) are stored as their SHA-256, or one such record would fail every retry.
 */
const MAX_PLAIN_EDGE_KEY = 600;

function storedEdgeKey(key: string): string {
  return key.length <= MAX_PLAIN_EDGE_KEY ? key : `sha256:${createHash('sha256').update(key).digest('base64url')}`;
}

/**
 * Folds a batch of flows into per-minute edge roll-ups (one row per minute and edge key) and
 * drop events. Pure: the repository writes the result in one transaction with the checkpoints.
 */
export class BatchRollup {
  readonly rollups = new Map<string, RollupRow>();
  readonly events: DropEventRow[] = [];
  /** Distinct UTC days touched, for partition creation. */
  readonly days = new Set<number>();
  /** Rows folded elsewhere (import worker threads), by the same key as `rollups`. */
  readonly formatted = new Map<string, FormattedRollupRow>();
  /** Drop events folded elsewhere, as COPY text bytes (runs of whole lines). */
  readonly eventChunks: Uint8Array[] = [];
  /** Drop events in `eventChunks`. */
  eventChunkEvents = 0;
  /** Drop events the sampler left out (their flows are in the roll-up rows). */
  eventsSampledOut = 0;
  flows = 0;
  drops = 0;
  private readonly bucketCache = new Map<number, string>();

  /**
   * `sampler`: keeps at most so many drop events per roll-up row (none: every event).
   * `eventSink`: takes each kept drop event (with its roll-up key) instead of `events`, so a caller
   * that serializes events can do it at once and let the event and its record die young.
   */
  constructor(
    private readonly sampler?: DropEventSampler,
    private readonly eventSink?: (e: DropEventRow, key: string) => void,
  ) {}

  /** Roll-up rows and drop events held, whatever their form (the carried flush's budget). */
  get entries(): number {
    return this.rollups.size + this.formatted.size + this.events.length + this.eventChunkEvents;
  }

  /**
   * Folds in a segment folded elsewhere, as if its flows had been added here in its order: a
   * row new to this batch takes the segment's labels, counters add up, times widen.
   */
  merge(p: PrefoldedSegment): void {
    const { keys, heads, labels, srcLabels, dstLabels, numbers } = p.rows;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const n = i * 5;
      const row = this.formatted.get(key);
      if (row === undefined) {
        this.formatted.set(key, {
          bucket: key.slice(0, key.indexOf('|')),
          head: heads[i],
          srcLabels: srcLabels[i] < 0 ? null : labels[srcLabels[i]],
          dstLabels: dstLabels[i] < 0 ? null : labels[dstLabels[i]],
          count: numbers[n],
          packets: numbers[n + 1],
          bytes: numbers[n + 2],
          first_seen: numbers[n + 3],
          last_seen: numbers[n + 4],
        });
        continue;
      }
      if (row.srcLabels === null && srcLabels[i] >= 0) row.srcLabels = labels[srcLabels[i]];
      if (row.dstLabels === null && dstLabels[i] >= 0) row.dstLabels = labels[dstLabels[i]];
      row.count += numbers[n];
      row.packets += numbers[n + 1];
      row.bytes += numbers[n + 2];
      if (numbers[n + 3] < row.first_seen) row.first_seen = numbers[n + 3];
      if (numbers[n + 4] > row.last_seen) row.last_seen = numbers[n + 4];
    }
    this.mergeEvents(p, keys);
    this.eventsSampledOut += p.eventsSampledOut;
    for (const d of p.days) this.days.add(d);
    this.flows += p.flows;
    this.drops += p.drops;
  }

  /** A segment's drop events: all of them, or with a sampler the ones it keeps, as views of its bytes. */
  private mergeEvents(p: PrefoldedSegment, keys: readonly string[]): void {
    const { events, eventEnds, eventRows } = p;
    const sampler = this.sampler;
    if (sampler === undefined) {
      if (eventEnds.length > 0) this.eventChunks.push(events);
      this.eventChunkEvents += eventEnds.length;
      return;
    }
    // The segment's thread kept at most so many per row of its own; this keeps the bound overall.
    let run = -1;
    let start = 0;
    for (let i = 0; i < eventEnds.length; i++) {
      if (sampler.take(keys[eventRows[i]])) {
        if (run < 0) run = start;
        this.eventChunkEvents++;
      } else {
        this.eventsSampledOut++;
        if (run >= 0) this.eventChunks.push(events.subarray(run, start));
        run = -1;
      }
      start = eventEnds[i];
    }
    if (run >= 0) this.eventChunks.push(events.subarray(run, start));
  }

  add(f: FlowRecord, attribution: Attribution | undefined): void {
    const t = parseFlowTime(f.time);
    const minute = Math.floor(t / MINUTE) * MINUTE;
    let bucket = this.bucketCache.get(minute);
    if (bucket === undefined) {
      bucket = new Date(minute).toISOString();
      this.bucketCache.set(minute, bucket);
      this.days.add(Math.floor(minute / 86_400_000));
    }
    const level = attribution?.level ?? '';
    const policies = creditedPolicies(attribution);
    // Kubernetes object names cannot hold a comma, so the joined list is unambiguous; one policy
    // gives the same key as before policies became a list.
    const policy = policies.join(',');
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
        edge_key: storedEdgeKey(key.slice(bucket.length + 1)),
        edge_id: '',
        cluster: f.cluster,
        src_kind: f.src.kind,
        src_namespace: f.src.namespace ?? '',
        src_workload: workloadName(f.src),
        src_labels: f.src.labels ?? null,
        dst_kind: f.dst.kind,
        dst_namespace: f.dst.namespace ?? '',
        dst_workload: workloadName(f.dst),
        dst_labels: f.dst.labels ?? null,
        dst_port: port,
        protocol: f.protocol,
        verdict: f.verdict,
        direction: f.direction,
        drop_reason: dropReason,
        attribution_level: level,
        policies,
        source: f.source,
        count: 0,
        packets: 0,
        bytes: 0,
        first_seen: t,
        last_seen: t,
      };
      row.edge_id = edgeId(row);
      this.rollups.set(key, row);
    } else {
      // The first labels seen, whichever flush they fall in (the writer keeps stored ones).
      if (row.src_labels === null && f.src.labels) row.src_labels = f.src.labels;
      if (row.dst_labels === null && f.dst.labels) row.dst_labels = f.dst.labels;
    }
    row.count += f.count;
    row.packets += f.packets ?? 0;
    row.bytes += f.bytes ?? 0;
    const end = f.endTime ? parseFlowTime(f.endTime) : t;
    if (t < row.first_seen) row.first_seen = t;
    if (end > row.last_seen) row.last_seen = end;

    if (isDrop(f.verdict)) {
      this.drops += f.count;
      if (this.sampler !== undefined && !this.sampler.take(key)) {
        this.eventsSampledOut++;
        return;
      }
      const event: DropEventRow = {
        flow_id: f.id,
        time: f.time,
        end_time: f.endTime ?? null,
        source: f.source,
        cluster: f.cluster,
        node: f.node ?? null,
        verdict: f.verdict,
        drop_reason: dropReason,
        direction: f.direction,
        src_kind: f.src.kind,
        src_namespace: f.src.namespace ?? '',
        src_pod: f.src.pod ?? '',
        src_workload: row.src_workload,
        src_ip: f.src.ip ?? null,
        dst_kind: f.dst.kind,
        dst_namespace: f.dst.namespace ?? '',
        dst_pod: f.dst.pod ?? '',
        dst_workload: row.dst_workload,
        dst_ip: f.dst.ip ?? null,
        dst_port: port,
        protocol: f.protocol,
        count: f.count,
        attribution_level: level,
        policies,
        attribution: attribution ?? null,
        record: f,
      };
      if (this.eventSink !== undefined) this.eventSink(event, key);
      else this.events.push(event);
    }
  }
}
