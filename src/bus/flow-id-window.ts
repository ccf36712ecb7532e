/**
 * Producer-side duplicates in one Kafka partition, found by flow id. A collector that retries a
 * publish, or replays records after a crash, writes the same FlowRecord (same `id`, same key, so
 * the same partition) again at a later offset. The message at offset `o` is a duplicate when a
 * message with the same id sits at an offset in [o - size, o).
 *
 * That rule depends only on the log, never on who reads it or when: a member that takes a
 * partition over (or restarts) refills the window by re-reading the `size` offsets below its
 * stored position, and then decides exactly as the previous owner would have. Memory is bounded:
 * at most `size` ids per partition.
 */
export class FlowIdWindow {
  /** id → the latest offset it was seen at (kept only while that offset is in the window). */
  private readonly latest = new Map<string, number>();
  /** (offset, id) in offset order, from `head` on; the prefix before `head` is evicted. */
  private readonly order: Array<readonly [number, string]> = [];
  private head = 0;

  constructor(readonly size: number) {}

  /** Ids in the window. */
  get length(): number {
    return this.latest.size;
  }

  /** Whether `id` was seen at an offset in [offset - size, offset). */
  seenBefore(id: string, offset: number): boolean {
    const at = this.latest.get(id);
    return at !== undefined && at < offset && at >= offset - this.size;
  }

  /** Records `id` at `offset`; an offset not above the last one added is ignored (a re-read). */
  add(id: string, offset: number): void {
    if (this.order.length > 0 && offset <= this.order[this.order.length - 1][0]) return;
    this.latest.set(id, offset);
    this.order.push([offset, id]);
  }

  /** Forgets every offset below `from`. */
  evictBelow(from: number): void {
    while (this.head < this.order.length && this.order[this.head][0] < from) {
      const [offset, id] = this.order[this.head++];
      if (this.latest.get(id) === offset) this.latest.delete(id);
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }
}

/**
 * The duplicates of one chunk of consecutive messages, decided against the window without changing
 * it; `commit()` adds the chunk once its batch is stored (a failed batch is delivered again).
 */
export class FlowIdChunk {
  private readonly seen = new Map<string, number>();
  private readonly added: Array<readonly [number, string]> = [];

  constructor(private readonly window: FlowIdWindow) {}

  /** True when `id` at `offset` duplicates an earlier message (in the window or this chunk). */
  isDuplicate(id: string, offset: number): boolean {
    const inChunk = this.seen.get(id);
    const dup = (inChunk !== undefined && inChunk >= offset - this.window.size) || this.window.seenBefore(id, offset);
    this.seen.set(id, offset);
    this.added.push([offset, id]);
    return dup;
  }

  /** Adds the chunk to the window and forgets offsets that fell out of it (`next` = last offset + 1). */
  commit(next: number): void {
    for (const [offset, id] of this.added) this.window.add(id, offset);
    this.window.evictBelow(next - this.window.size);
  }
}
