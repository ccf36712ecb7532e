/**
 * Keeps at most `perRow` drop events per roll-up row, that is per edge key and minute
 * (DROP_EVENTS_PER_EDGE_MINUTE). A default-deny rollout, or one client retrying against a
 * denied port, drops the same connection thousands of times a minute; the roll-up row counts
 * every one of them, and a few events per minute show which pods and addresses they came from.
 * Storing every event would grow `drop_events` (about 1.5 KB a row) with the flood.
 *
 * Counts live in two generations of at most `maxKeys / 2` rows each: when the newer one is full
 * it becomes the older one and the oldest counts are forgotten. A row found in the older one moves
 * to the newer one, so the rows of a flood, seen again and again, stay counted however many
 * others pass. Memory is so bounded at any cardinality (about 300 bytes a row, the key included);
 * a row not seen while more than `maxKeys / 2` others were counted starts counting again, so it may
 * keep a few more events.
 */
export class DropEventSampler {
  private current = new Map<string, number>();
  private previous = new Map<string, number>();
  private readonly half: number;

  /** `perRow` ≥ 1: events kept per roll-up row. */
  constructor(
    readonly perRow: number,
    maxKeys = 20_000,
  ) {
    if (!Number.isInteger(perRow) || perRow < 1)
      throw new Error(`events per roll-up row must be an integer ≥ 1, got ${perRow}`);
    this.half = Math.max(1, Math.floor(maxKeys / 2));
  }

  /** Whether one more drop event of roll-up row `key` (the roll-up key: minute and edge) is kept. */
  take(key: string): boolean {
    const seen = this.current.get(key);
    if (seen !== undefined) {
      if (seen >= this.perRow) return false;
      this.current.set(key, seen + 1);
      return true;
    }
    const n = this.previous.get(key) ?? 0;
    const kept = n < this.perRow;
    this.current.set(key, kept ? n + 1 : n);
    if (this.current.size >= this.half) {
      this.previous = this.current;
      this.current = new Map();
    }
    return kept;
  }

  /** Forgets every count: after a failed write, so the retried flows keep their events. */
  reset(): void {
    this.current = new Map();
    this.previous = new Map();
  }

  /** Rows counted now (at most `maxKeys`). */
  get size(): number {
    return this.current.size + this.previous.size;
  }
}
