import type { DataSource } from 'typeorm';
import type { Logger } from '../common/logger.js';

export const PARTITIONED_TABLES = [
  'edge_rollups',
  'drop_events',
  'edge_rollups_5m',
  'edge_rollups_15m',
  'edge_rollups_hourly',
  'edge_rollups_4h',
  'edge_rollups_daily',
  'rollup_totals_hourly',
] as const;
export type PartitionedTable = (typeof PARTITIONED_TABLES)[number];

const DAY = 86_400_000;

/**
 * Roll-up rows are updated in place many times a minute; free space on each page lets PostgreSQL
 * make those HOT updates (no index writes). Drop events are insert-only.
 */
const STORAGE: Record<PartitionedTable, string> = {
  edge_rollups: ' WITH (fillfactor = 50)',
  drop_events: '',
  // 5-minute, 15-minute, hour, 4-hour and day rows are written once when their unit closes; only late
  // minutes update them.
  edge_rollups_5m: '',
  edge_rollups_15m: '',
  edge_rollups_hourly: '',
  edge_rollups_4h: '',
  edge_rollups_daily: '',
  rollup_totals_hourly: '',
};

function dayName(day: number): string {
  return new Date(day * DAY).toISOString().slice(0, 10).replaceAll('-', '');
}

/**
 * Daily range partitions for the time-partitioned tables: created on demand for every day a batch
 * touches (imports carry old timestamps), dropped whole by retention (cheap, no bloat).
 * Creation runs in its own short statement, outside the data transaction, because it locks the
 * parent table; concurrent creators race harmlessly on IF NOT EXISTS.
 */
export class PartitionManager {
  private readonly known = new Set<string>();

  constructor(
    private readonly ds: DataSource,
    private readonly log: Logger,
  ) {}

  /** Forgets which partitions exist (after another process may have dropped some). */
  forget(): void {
    this.known.clear();
  }

  /**
   * `days` are UTC day numbers (ms since epoch / 86,400,000). `on`: a connection the caller holds
   * (outside a transaction), so a caller holding one does not wait for a second from the pool.
   */
  async ensure(days: Iterable<number>, on?: { query(sql: string): Promise<unknown> }): Promise<void> {
    for (const day of days) {
      for (const table of PARTITIONED_TABLES) {
        const name = `${table}_p${dayName(day)}`;
        if (this.known.has(name)) continue;
        const from = new Date(day * DAY).toISOString();
        const to = new Date((day + 1) * DAY).toISOString();
        try {
          // Identifiers are built from a fixed table list and a date: no user input reaches them.
          await (on ?? this.ds).query(
            `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF ${table} FOR VALUES FROM ('${from}') TO ('${to}')${STORAGE[table]}`,
          );
        } catch (e) {
          // Another aggregator created it between our check and our create.
          if (!/already exists/.test(String(e))) throw e;
        }
        this.known.add(name);
      }
    }
  }

  /** Drops partitions whose whole day is older than the retention (0 = keep forever); returns the dropped names. */
  async dropExpired(now: number, retentionDays: Record<PartitionedTable, number>): Promise<string[]> {
    const dropped: string[] = [];
    for (const table of PARTITIONED_TABLES) {
      const rows = (await this.ds.query(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = $1`,
        [table],
      )) as Array<{ name: string }>;
      if (retentionDays[table] <= 0) continue;
      const cutoffDay = Math.floor(now / DAY) - retentionDays[table];
      for (const { name } of rows) {
        const m = /_p(\d{4})(\d{2})(\d{2})$/.exec(name);
        if (!m) continue;
        const day = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / DAY;
        if (day < cutoffDay) {
          await this.ds.query(`DROP TABLE IF EXISTS ${name}`);
          this.known.delete(name);
          dropped.push(name);
        }
      }
    }
    if (dropped.length > 0) this.log.info('retention dropped partitions', { partitions: dropped });
    return dropped;
  }
}
