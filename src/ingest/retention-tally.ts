import { isDrop, type Verdict } from '../flow/flow-record.js';
import { parseFlowTime } from '../flow/flow-time.js';

const DAY = 86_400_000;

export interface RetentionDays {
  /** RETENTION_DAYS: edge roll-ups (0 = forever). */
  rollupDays: number;
  /** DROP_EVENT_RETENTION_DAYS: drop events (0 = forever). */
  eventDays: number;
}

export interface OutsideRetention {
  /** Flows (record counts) in days that `serve`'s retention pass drops from the roll-ups. */
  flows: number;
  /** Drop events (one per dropped record) in days that pass drops. */
  dropEvents: number;
}

/**
 * Counts imported data that `serve`'s retention pass would delete: it drops whole daily
 * partitions older than `today - days` (PartitionManager.dropExpired), so a flow is doomed when
 * its UTC day is before that cutoff.
 */
export class RetentionTally {
  readonly outside: OutsideRetention = { flows: 0, dropEvents: 0 };
  private readonly rollupCutoff: number;
  private readonly eventCutoff: number;

  constructor(days: RetentionDays, now: number) {
    const today = Math.floor(now / DAY);
    this.rollupCutoff = days.rollupDays > 0 ? (today - days.rollupDays) * DAY : -Infinity;
    this.eventCutoff = days.eventDays > 0 ? (today - days.eventDays) * DAY : -Infinity;
  }

  /** Call with a stored batch's records (bus records are unvalidated: RecordDays checks them). */
  add(records: readonly unknown[]): void {
    if (this.rollupCutoff === -Infinity && this.eventCutoff === -Infinity) return;
    const days = new RecordDays();
    for (const raw of records) days.add(raw);
    this.addByDay(days.toArray());
  }

  /** The same from RecordDays' counts (the cutoffs are whole days, so a day is wholly in or out). */
  addByDay(byDay: readonly number[]): void {
    for (let i = 0; i < byDay.length; i += 3) {
      const start = byDay[i] * DAY;
      if (start < this.rollupCutoff) this.outside.flows += byDay[i + 1];
      if (start < this.eventCutoff) this.outside.dropEvents += byDay[i + 2];
    }
  }
}

/**
 * What RetentionTally.add needs of records, per UTC day: counted where the records are (an
 * import worker thread), added on the main thread with RetentionTally.addByDay.
 */
export class RecordDays {
  private readonly days = new Map<number, [number, number]>();

  add(raw: unknown): void {
    const r = raw as { time?: unknown; count?: unknown; verdict?: unknown } | null;
    if (typeof r?.time !== 'string') return;
    const day = Math.floor(parseFlowTime(r.time) / DAY);
    if (Number.isNaN(day)) return;
    let d = this.days.get(day);
    if (!d) this.days.set(day, (d = [0, 0]));
    if (typeof r.count === 'number') d[0] += r.count;
    if (typeof r.verdict === 'string' && isDrop(r.verdict as Verdict)) d[1]++;
  }

  /** [day, flows, drops, ...] */
  toArray(): number[] {
    const out: number[] = [];
    for (const [day, [flows, drops]] of this.days) out.push(day, flows, drops);
    return out;
  }
}

/** The summary's warning lines (none when nothing falls outside retention). */
export function retentionWarnings(outside: OutsideRetention, days: RetentionDays): string[] {
  const out: string[] = [];
  const { flows, dropEvents } = outside;
  const { rollupDays, eventDays } = days;
  const when = '`dropscope serve` deletes them at its next retention pass (when it starts, then hourly)';
  if (flows > 0)
    out.push(
      `warning: ${flows} imported flows are older than RETENTION_DAYS=${rollupDays} days; ${when}. ` +
        `To keep them, set RETENTION_DAYS=0 (keep forever) or a larger value.`,
    );
  if (dropEvents > 0)
    out.push(
      `warning: the drop events of ${dropEvents} imported drops are older than DROP_EVENT_RETENTION_DAYS=${eventDays} days; ${when}. ` +
        `To keep them, set DROP_EVENT_RETENTION_DAYS=0 (keep forever) or a larger value.`,
    );
  return out;
}
