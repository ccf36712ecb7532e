import type { DataSource } from 'typeorm';
import type { PartitionManager } from './partition.manager.js';
import type { RetentionDays, RetentionStore } from './ports.js';
import { DAY_MS } from './rollup-closer.js';

/**
 * Retention in PostgreSQL: whole daily partitions of roll-ups and drop events are dropped (cheap,
 * no bloat); dead letters, a small unpartitioned table, are deleted by age.
 */
export class PostgresRetentionStore implements RetentionStore {
  constructor(
    private readonly ds: DataSource,
    private readonly partitions: PartitionManager,
  ) {}

  async deleteExpired(now: number, days: RetentionDays, signal?: AbortSignal): Promise<string[]> {
    const dropped = await this.partitions.dropExpired(now, {
      edge_rollups: days.rollupDays,
      // Read only for the ends of a window, like the minutes they replace: kept as long as they are.
      edge_rollups_5m: days.rollupDays,
      edge_rollups_15m: days.rollupDays,
      edge_rollups_hourly: hourlyDays(days),
      edge_rollups_4h: hourlyDays(days),
      edge_rollups_daily: hourlyDays(days),
      // The hour rows' sums: kept exactly as long as they are.
      rollup_totals_hourly: hourlyDays(days),
      drop_events: days.eventDays,
    });
    // Generations of hours older than every roll-up they describe (edge-unit-cache.ts).
    const coarseDays = hourlyDays(days);
    if (coarseDays > 0 && !signal?.aborted)
      await this.ds.query(`DELETE FROM rollup_generations WHERE hour < $1::timestamptz`, [
        new Date((Math.floor(now / DAY_MS) - coarseDays) * DAY_MS).toISOString(),
      ]);
    if (days.deadLetterDays > 0 && !signal?.aborted)
      await this.ds.query(`DELETE FROM dead_letters WHERE received_at < $1::timestamptz - make_interval(days => $2)`, [
        new Date(now).toISOString(),
        days.deadLetterDays,
      ]);
    return dropped;
  }
}

/**
 * The hourly, 4-hour and daily roll-ups' retention in effect: at least the minutes' (a reader takes a closed
 * hour or day from its table only, so its rows must outlive the minutes they replace); 0 keeps forever.
 */
export function hourlyDays(days: RetentionDays): number {
  if (days.rollupDays === 0 || days.hourlyRollupDays === 0) return 0;
  return Math.max(days.rollupDays, days.hourlyRollupDays);
}
