import type { LineMapper, LineResult } from '../collector.js';
import type { FlowRecord } from '../../flow/flow-record.js';
import { DropDeduplicator, type DropDedupOptions } from './hubble-drop.dedup.js';
import { mapGetFlowsResponse, type HubbleFlowRecord, type HubbleMapperOptions } from './hubble-flow.mapper.js';

export interface HubbleLineMapperOptions extends HubbleMapperOptions {
  /** Policy-drop de-duplication (docs/HUBBLE.md); `false` keeps both events of a pair. */
  dedup?: DropDedupOptions | false;
}

export interface HubbleLineStats {
  flows: number;
  lostEvents: number;
  /** Sum of num_events_lost over lost_events lines. */
  eventsLost: number;
  nodeStatus: number;
  duplicates: number;
}

/**
 * `hubble observe -o json` (jsonpb) lines -> FlowRecords, through the policy-drop de-duplicator.
 * lost_events / node_status lines are skipped with that name; blank lines are skipped as `blank`;
 * anything else that is not a flow throws an Error saying what is wrong (the caller adds the line
 * number). Records held by the de-duplicator come out of later `map` calls or `flush`; a drop
 * line folded into its policy-verdict twin returns no record and is counted in `collapsed`.
 */
export class HubbleLineMapper implements LineMapper {
  readonly stats: HubbleLineStats = { flows: 0, lostEvents: 0, eventsLost: 0, nodeStatus: 0, duplicates: 0 };
  private readonly dedup?: DropDeduplicator;
  private readonly out: HubbleFlowRecord[] = [];

  constructor(private readonly options: HubbleLineMapperOptions = {}) {
    if (options.dedup !== false) this.dedup = new DropDeduplicator(options.dedup ?? {});
  }

  map(line: string): LineResult {
    let start = 0;
    let end = line.length;
    while (start < end && line.charCodeAt(start) <= 32) start++;
    while (end > start && line.charCodeAt(end - 1) <= 32) end--;
    if (start === end) return { kind: 'skipped', what: 'blank' };
    const text = start === 0 && end === line.length ? line : line.slice(start, end);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new Error(`not valid JSON (${e instanceof Error ? e.message : String(e)}): ${text.slice(0, 80)}`, {
        cause: e,
      });
    }
    const res = mapGetFlowsResponse(value, this.options);
    if (res.kind === 'lost_events') {
      this.stats.lostEvents++;
      this.stats.eventsLost += res.numEventsLost;
      return { kind: 'skipped', what: 'lost_events' };
    }
    if (res.kind === 'node_status') {
      this.stats.nodeStatus++;
      return { kind: 'skipped', what: 'node_status' };
    }
    this.stats.flows++;
    if (!this.dedup) return { kind: 'flows', records: [res.record] };
    const out = this.out;
    out.length = 0;
    const outcome = this.dedup.push(res.record, res.timeMs, out);
    if (outcome === 'collapsed') this.stats.duplicates++;
    // A collapsed line is still a flow line (counted in `collapsed`), not a skipped one: which
    // twin of a pair comes out depends on their order, and either way the pair is one record.
    return { kind: 'flows', records: out.slice() };
  }

  get collapsed(): number {
    return this.stats.duplicates;
  }

  flush(): FlowRecord[] {
    return this.dedup ? this.dedup.flush() : [];
  }
}
