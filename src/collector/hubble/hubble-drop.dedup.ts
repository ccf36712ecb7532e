/**
 * Collapses the two events Cilium emits for one policy drop: a policy-verdict event
 * (event_type 5, verdict DROPPED) and a drop event (event_type 1, sub_type 133/181/189), same
 * node, same 5-tuple, timestamps microseconds apart. The exact rule is in docs/HUBBLE.md
 * ("Duplicate collapse"); in short:
 *
 * - candidates: records with verdict `denied` and eventType `policy-verdict` or `drop`;
 * - key: cluster, node, protocol, source ip:port, destination ip:port, ICMP type/code;
 * - a policy-verdict record is emitted at once and remembered for `windowMs` of flow time;
 *   a drop record matching a remembered one (same key, |dt| <= windowMs) is swallowed;
 * - a drop record with no partner yet is held up to `windowMs` (flow time, or wall time for an
 *   idle live stream, see expireIdle); a policy-verdict arriving in time absorbs it (fields it lacks are filled
 *   from the drop) and is emitted; otherwise the drop is emitted alone when it expires;
 * - pairing is one-to-one and FIFO per key, so retransmissions are never merged with each other;
 * - memory is bounded: at most `maxEntries` remembered/held records, oldest evicted first (an
 *   evicted held drop is emitted, never lost).
 */
import type { Clock } from '../../common/clock.js';
import { systemClock } from '../../common/clock.js';
import type { HubbleFlowEndpoint, HubbleFlowRecord } from './hubble-flow.mapper.js';

export interface DropDedupOptions {
  /** Pairing window in ms of flow time (default 500). */
  windowMs?: number;
  /** Most records remembered or held at once (default 10 000). */
  maxEntries?: number;
  /** Wall clock for expiring held drops on an idle live stream. */
  clock?: Clock;
  /** Told about every swallowed drop event (the collector remembers its id for resume). */
  onCollapse?: (dropped: HubbleFlowRecord, kept: HubbleFlowRecord) => void;
}

export interface DropDedupStats {
  /** Pairs collapsed into one record. */
  collapsed: number;
  /** Entries evicted because maxEntries was reached (a later partner then goes through). */
  evicted: number;
}

type Role = 'verdict' | 'drop';

interface Entry {
  key: string;
  timeMs: number;
  wallMs: number;
  role: Role;
  record: HubbleFlowRecord;
  done: boolean;
}

export type DedupOutcome = 'passed' | 'emitted' | 'held' | 'collapsed';

function roleOf(r: HubbleFlowRecord): Role | undefined {
  if (r.verdict !== 'denied') return undefined;
  if (r.eventType === 'policy-verdict') return 'verdict';
  if (r.eventType === 'drop') return 'drop';
  return undefined;
}

function keyOf(r: HubbleFlowRecord): string {
  return `${r.cluster}|${r.node ?? ''}|${r.protocol}|${r.src.ip ?? ''}|${r.srcPort ?? ''}|${r.dst.ip ?? ''}|${r.dstPort ?? ''}|${r.icmpType ?? ''}|${r.icmpCode ?? ''}`;
}

const ENDPOINT_FILL = [
  'namespace',
  'pod',
  'workload',
  'labels',
  'ip',
  'names',
  'identity',
  'service',
  'namespaceLabels',
  'entities',
  'serviceAccount',
] as const;

function fillEndpoint(base: HubbleFlowEndpoint, extra: HubbleFlowEndpoint): void {
  if (base.kind === 'unknown' && extra.kind !== 'unknown') base.kind = extra.kind;
  for (const k of ENDPOINT_FILL) {
    if (base[k] === undefined && extra[k] !== undefined) (base as unknown as Record<string, unknown>)[k] = extra[k];
  }
}

/** Fills what the policy-verdict record lacks from its drop-event twin (runs on pairs only). */
export function mergeDropInto(base: HubbleFlowRecord, drop: HubbleFlowRecord): void {
  base.dropReason ??= drop.dropReason;
  base.isReply ??= drop.isReply;
  if (base.direction === 'unknown' && drop.direction !== 'unknown') {
    base.direction = drop.direction;
    base.reporter = drop.reporter;
  }
  if (base.policies.length === 0 && drop.policies.length > 0) base.policies = drop.policies;
  fillEndpoint(base.src, drop.src);
  fillEndpoint(base.dst, drop.dst);
}

export class DropDeduplicator {
  readonly stats: DropDedupStats = { collapsed: 0, evicted: 0 };
  private readonly windowMs: number;
  private readonly maxEntries: number;
  private readonly clock: Clock;
  private readonly onCollapse?: (dropped: HubbleFlowRecord, kept: HubbleFlowRecord) => void;
  private readonly byKey = new Map<string, Entry[]>();
  /** Arrival order; `head` avoids O(n) shifts. */
  private queue: Entry[] = [];
  private head = 0;
  private live = 0;
  private latestMs = -Infinity;

  constructor(options: DropDedupOptions = {}) {
    this.windowMs = options.windowMs ?? 500;
    this.maxEntries = Math.max(1, options.maxEntries ?? 10_000);
    this.clock = options.clock ?? systemClock;
    this.onCollapse = options.onCollapse;
  }

  /** Records currently held or remembered. */
  get size(): number {
    return this.live;
  }

  /** Feeds one record; appends what is ready to go out (possibly none, possibly older held ones) to `out`. */
  push(record: HubbleFlowRecord, timeMs: number, out: HubbleFlowRecord[]): DedupOutcome {
    if (timeMs > this.latestMs) this.latestMs = timeMs;
    if (this.live > 0) this.expire(out, this.latestMs - this.windowMs);
    const role = roleOf(record);
    if (role === undefined) {
      out.push(record);
      return 'passed';
    }
    const key = keyOf(record);
    const list = this.byKey.get(key);
    if (list) {
      for (let i = 0; i < list.length; i++) {
        const e = list[i];
        if (e.role === role || Math.abs(e.timeMs - timeMs) > this.windowMs) continue;
        list.splice(i, 1);
        if (list.length === 0) this.byKey.delete(key);
        e.done = true;
        this.live--;
        this.stats.collapsed++;
        if (role === 'verdict') {
          // e is a held drop: the verdict carries direction and policies, the drop what it adds
          mergeDropInto(record, e.record);
          out.push(record);
          this.onCollapse?.(e.record, record);
        } else {
          // the verdict twin went out already, this drop is its duplicate
          this.onCollapse?.(record, e.record);
        }
        return 'collapsed';
      }
    }
    const entry: Entry = { key, timeMs, wallMs: this.clock.now(), role, record, done: false };
    if (list) list.push(entry);
    else this.byKey.set(key, [entry]);
    this.queue.push(entry);
    this.live++;
    if (this.live > this.maxEntries) this.evictOldest(out);
    if (role === 'verdict') {
      out.push(record);
      return 'emitted';
    }
    return 'held';
  }

  /**
   * Emits held drops that waited `windowMs` of wall time (an idle live stream); call on a timer.
   * Remembered verdicts stay until flow time moves on: after a reconnect the server may re-send
   * the drop twin of a verdict already published.
   */
  expireIdle(out: HubbleFlowRecord[]): void {
    if (this.live === 0) return;
    const cutoff = this.clock.now() - this.windowMs;
    let any = false;
    for (let i = this.head; i < this.queue.length; i++) {
      const e = this.queue[i];
      if (!e.done && e.role === 'drop' && e.wallMs < cutoff) {
        this.remove(e);
        out.push(e.record);
        any = true;
      }
    }
    if (any) this.compact(true);
  }

  /** Emits every held drop and forgets everything (end of input, orderly stop). */
  flush(out: HubbleFlowRecord[] = []): HubbleFlowRecord[] {
    for (let i = this.head; i < this.queue.length; i++) {
      const e = this.queue[i];
      if (!e.done && e.role === 'drop') out.push(e.record);
    }
    this.reset();
    return out;
  }

  /**
   * Forgets held drops without emitting them; remembered verdicts stay. For a reconnect: the
   * server re-sends everything from the checkpoint, which never passes a held drop.
   */
  discardHeld(): number {
    let n = 0;
    for (let i = this.head; i < this.queue.length; i++) {
      const e = this.queue[i];
      if (!e.done && e.role === 'drop') {
        this.remove(e);
        n++;
      }
    }
    this.compact(true);
    return n;
  }

  /** The oldest drop still held, if any (a checkpoint must not pass it). */
  oldestHeld(): HubbleFlowRecord | undefined {
    for (let i = this.head; i < this.queue.length; i++) {
      const e = this.queue[i];
      if (!e.done && e.role === 'drop') return e.record;
    }
    return undefined;
  }

  private reset(): void {
    this.byKey.clear();
    this.queue = [];
    this.head = 0;
    this.live = 0;
  }

  private remove(e: Entry): void {
    e.done = true;
    this.live--;
    const list = this.byKey.get(e.key);
    if (!list) return;
    const i = list.indexOf(e);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byKey.delete(e.key);
  }

  private expire(out: HubbleFlowRecord[], beforeFlowMs: number): void {
    while (this.head < this.queue.length) {
      const e = this.queue[this.head];
      if (!e.done) {
        if (e.timeMs >= beforeFlowMs) break;
        this.remove(e);
        if (e.role === 'drop') out.push(e.record);
      }
      this.head++;
    }
    this.compact(false);
  }

  private evictOldest(out: HubbleFlowRecord[]): void {
    while (this.head < this.queue.length && this.live > this.maxEntries) {
      const e = this.queue[this.head++];
      if (e.done) continue;
      this.remove(e);
      this.stats.evicted++;
      if (e.role === 'drop') out.push(e.record);
    }
    this.compact(false);
  }

  private compact(force: boolean): void {
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (force || (this.head > 1024 && this.head * 2 > this.queue.length)) {
      const kept: Entry[] = [];
      for (let i = this.head; i < this.queue.length; i++) if (!this.queue[i].done) kept.push(this.queue[i]);
      this.queue = kept;
      this.head = 0;
    }
  }
}
