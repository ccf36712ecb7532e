/**
 * A bounded cache with approximate LRU eviction in O(1): two generations of Maps. Hits in the old
 * generation move to the young one; when the young generation is full it becomes the old one and
 * the old one is dropped. A key lives in one generation only, so `size` counts distinct keys and
 * never exceeds max.
 */
export class LruCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly half: number;
  hits = 0;
  misses = 0;

  constructor(readonly max: number) {
    this.half = Math.max(1, Math.floor(max / 2));
  }

  get(key: K): V | undefined {
    const y = this.young.get(key);
    if (y !== undefined) {
      this.hits++;
      return y;
    }
    const o = this.old.get(key);
    if (o !== undefined) {
      this.hits++;
      this.old.delete(key);
      this.set(key, o);
      return o;
    }
    this.misses++;
    return undefined;
  }

  set(key: K, value: V): void {
    if (this.young.has(key)) {
      this.young.set(key, value);
      return;
    }
    this.old.delete(key);
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
  }

  get size(): number {
    return this.young.size + this.old.size;
  }
}
