/**
 * The evaluator's decision cache, keyed by two numbers (the source identity, and the destination
 * identity with port and protocol) instead of a string: no key string is built or hashed per
 * lookup. Bounded with the approximate LRU of lru-cache.ts: two generations; a hit in the old one
 * moves to the young one; when the young one is full it becomes the old one.
 */
export class PairCache<V> {
  private young = new Map<number, Map<number, V>>();
  private old = new Map<number, Map<number, V>>();
  private youngSize = 0;
  private oldSize = 0;
  private readonly half: number;
  hits = 0;
  misses = 0;

  constructor(readonly max: number) {
    this.half = Math.max(1, Math.floor(max / 2));
  }

  get(a: number, b: number): V | undefined {
    const y = this.young.get(a)?.get(b);
    if (y !== undefined) {
      this.hits++;
      return y;
    }
    const om = this.old.get(a);
    const o = om?.get(b);
    if (om && o !== undefined) {
      this.hits++;
      om.delete(b);
      this.oldSize--;
      this.set(a, b, o);
      return o;
    }
    this.misses++;
    return undefined;
  }

  set(a: number, b: number, value: V): void {
    let m = this.young.get(a);
    if (m?.has(b)) {
      m.set(b, value);
      return;
    }
    const om = this.old.get(a);
    if (om?.delete(b)) this.oldSize--;
    if (this.youngSize >= this.half) {
      this.old = this.young;
      this.oldSize = this.youngSize;
      this.young = new Map();
      this.youngSize = 0;
      m = undefined;
    }
    if (!m) this.young.set(a, (m = new Map()));
    m.set(b, value);
    this.youngSize++;
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
    this.youngSize = 0;
    this.oldSize = 0;
  }

  get size(): number {
    return this.youngSize + this.oldSize;
  }
}
