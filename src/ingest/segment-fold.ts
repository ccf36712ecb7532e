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
      rollup: new BatchRollup(sampler),
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
    let i = 0;
    for (const [key, r] of rollup.rollups) {
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
      events: rollup.events.map((e) => `${dropEventLine(e)}\n`),
      eventKeys: rollup.eventKeys,
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
