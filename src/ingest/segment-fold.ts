import type { DeadLetter } from '../bus/flow-bus.js';
import { reportedOnlyAttributor } from '../aggregator/attribution.port.js';
import { BatchRollup } from '../aggregator/edge-rollup.js';
import type { PrefoldedSegment } from '../aggregator/prefolded-segment.js';
import { foldRecord, MAX_FUTURE_MS, type FoldTarget } from '../aggregator/record-fold.js';
import type { FlowRecord } from '../flow/flow-record.js';
import { dropEventLine, labelsField, rollupHead } from '../storage/copy-text.js';
import type { DropEventSampler } from '../aggregator/drop-event-sampler.js';
import { RecordDays } from './retention-tally.js';

/**
 * Does in a worker thread what the aggregator would do with a segment's records (validation,
 * counts, roll-up, drop events as COPY text), so the main thread only merges the result
 * (BatchRollup.merge) and writes. Records are folded as they come out of the mapper, so they die
 * young. Drops are attributed here only with `attributeHere` (no policy inventory: attribution is
 * then a function of the flow alone); otherwise the main thread's attributor, which holds the
 * inventory, attributes them in file order, as it would without workers.
 */
export class SegmentFolder {
  private readonly target: FoldTarget;
  private readonly unattributed: FlowRecord[] = [];
  private readonly events = new EventBytes();
  private readonly days = new RecordDays();
  private readonly latest: number;
  private readonly attribute?: (f: FlowRecord) => ReturnType<typeof reportedOnlyAttributor.attribute>;
  private records = 0;

  /**
   * `sampler`: the thread's DropEventSampler, kept across its segments, so a flood of one edge
   * is not formatted and passed on only for the merging thread to leave it out.
   */
  constructor(
    private readonly origin: string,
    now: number,
    attributeHere: boolean,
    sampler?: DropEventSampler,
  ) {
    this.target = {
      // Each kept drop event becomes its COPY line, in bytes, at once: held as objects (or
      // strings) until the segment ended, events survived young-generation collections here and
      // again on the merging thread; bytes are off the heap and are handed over, not copied.
      rollup: new BatchRollup(sampler, (e, key) => this.events.add(`${dropEventLine(e)}\n`, key)),
      recordsBySource: new Map(),
      processed: new Map(),
      drops: new Map(),
      byVerdict: {},
      dead: [] as DeadLetter[],
    };
    this.latest = now + MAX_FUTURE_MS;
    if (attributeHere) this.attribute = (f) => reportedOnlyAttributor.attribute(f);
  }

  add(raw: unknown): void {
    this.records++;
    this.days.add(raw);
    foldRecord(raw, this.target, this.origin, this.latest, this.attribute, this.unattributed);
  }

  finish(): PrefoldedSegment {
    const { rollup } = this.target;
    const n = rollup.rollups.size;
    const keys = new Array<string>(n);
    const heads = new Array<string>(n);
    const labels: string[] = [];
    const labelIndex = new Map<string, number>();
    const indexOf = (l: Record<string, string> | null): number => {
      if (l === null) return -1;
      const field = labelsField(l);
      let at = labelIndex.get(field);
      if (at === undefined) {
        at = labels.push(field) - 1;
        labelIndex.set(field, at);
      }
      return at;
    };
    const srcLabels = new Int32Array(n);
    const dstLabels = new Int32Array(n);
    const numbers = new Float64Array(n * 5);
    // Each event's row as an index into `keys`, which the merging thread's sampler counts by.
    const rowIndex = this.events.count > 0 ? new Map<string, number>() : undefined;
    let i = 0;
    for (const [key, r] of rollup.rollups) {
      rowIndex?.set(key, i);
      keys[i] = key;
      heads[i] = rollupHead(r);
      srcLabels[i] = indexOf(r.src_labels);
      dstLabels[i] = indexOf(r.dst_labels);
      const o = i * 5;
      numbers[o] = r.count;
      numbers[o + 1] = r.packets;
      numbers[o + 2] = r.bytes;
      numbers[o + 3] = r.first_seen;
      numbers[o + 4] = r.last_seen;
      i++;
    }
    return {
      records: this.records,
      rows: { keys, heads, labels, srcLabels, dstLabels, numbers },
      ...this.events.finish(rowIndex),
      eventsSampledOut: rollup.eventsSampledOut,
      unattributed: this.unattributed,
      days: [...rollup.days],
      flows: rollup.flows,
      drops: rollup.drops,
      byVerdict: this.target.byVerdict,
      recordsBySource: this.target.recordsBySource,
      processed: this.target.processed,
      dropLabels: this.target.drops,
      invalid: this.target.dead,
      byDay: this.days.toArray(),
    };
  }
}

/** A segment's drop events as COPY lines in one growing byte buffer, with each line's end and roll-up key. */
class EventBytes {
  private bytes = new Uint8Array(0);
  private used = 0;
  private readonly ends: number[] = [];
  private readonly keys: string[] = [];

  get count(): number {
    return this.ends.length;
  }

  add(line: string, key: string): void {
    // A UTF-8 byte per UTF-16 unit for ASCII, at most three otherwise.
    if (this.used + line.length * 3 > this.bytes.length) {
      const next = new Uint8Array(Math.max(this.used + line.length * 3, this.bytes.length * 2, 1 << 16));
      next.set(this.bytes.subarray(0, this.used));
      this.bytes = next;
    }
    this.used += encoder.encodeInto(line, this.bytes.subarray(this.used)).written;
    this.ends.push(this.used);
    this.keys.push(key);
  }

  /** The events for a PrefoldedSegment; `rowIndex`: each roll-up key's index in the segment's rows. */
  finish(rowIndex: Map<string, number> | undefined): Pick<PrefoldedSegment, 'events' | 'eventEnds' | 'eventRows'> {
    const rows = new Int32Array(this.keys.length);
    for (let i = 0; i < rows.length; i++) rows[i] = rowIndex?.get(this.keys[i]) ?? -1;
    return { events: this.bytes.subarray(0, this.used), eventEnds: Int32Array.from(this.ends), eventRows: rows };
  }
}

const encoder = new TextEncoder();
