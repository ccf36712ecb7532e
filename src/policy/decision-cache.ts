/**
 * The evaluator's decision cache, keyed by three small non-negative integers (source identity,
 * destination identity, port and protocol) in open-addressing tables of typed arrays: no key
 * string, no Map per source, no allocation per entry, so a cold decision's miss and insert cost a
 * hash and a few array reads, and the garbage collector has only the values array to scan.
 *
 * Bounded with the approximate LRU of lru-cache.ts: two generations of at most max/2 entries; a
 * hit in the old one moves to the young one; when the young one is full it becomes the old one
 * and the old one is emptied to be the next young one. A key lives in one generation only.
 */

/** Keys must be integers in [0, MAX_KEY]. */
export const MAX_KEY = 0x7ffffffe;

/** Int32 per slot: a+1 (0 marks an empty slot), b, c, and the value's position in `values`. */
const SLOT = 4;

/**
 * One generation: linear probing, load factor at most 1/2, backward-shift deletion. Values are
 * kept apart in the order they were inserted, their position stored with the key: an insert
 * touches the key's slot and the end of that array (where the previous insert wrote), not a
 * second random place, and growing the table moves keys only.
 */
class Table<V> {
  keys: Int32Array;
  /** Values by insertion; a removed entry's position is emptied, not reused (until `clear`). */
  values: (V | undefined)[];
  mask: number;
  size = 0;

  constructor(capacity: number, values: (V | undefined)[] = []) {
    this.keys = new Int32Array(capacity * SLOT);
    this.values = values;
    this.mask = capacity - 1;
  }

  /** The slot of the key, or -1 - (the empty slot where it would go). */
  find(a: number, b: number, c: number): number {
    const keys = this.keys;
    const mask = this.mask;
    const tag = a + 1;
    for (let i = hash(a, b, c) & mask; ; i = (i + 1) & mask) {
      const k = i * SLOT;
      const t = keys[k];
      if (t === 0) return -1 - i;
      if (t === tag && keys[k + 1] === b && keys[k + 2] === c) return i;
    }
  }

  /** The value in slot `i` (a slot `find` returned). */
  valueAt(i: number): V {
    return this.values[this.keys[i * SLOT + 3]] as V;
  }

  setValueAt(i: number, value: V): void {
    this.values[this.keys[i * SLOT + 3]] = value;
  }

  /** Inserts a key known to be absent (the caller grows the table first). */
  insert(a: number, b: number, c: number, value: V): void {
    const at = this.values.length;
    this.values.push(value);
    this.place(a, b, c, at);
    this.size++;
  }

  /** Inserts an absent key in the empty slot `find` gave for it, with no change to the table since. */
  insertAt(slot: number, a: number, b: number, c: number, value: V): void {
    const at = this.values.length;
    this.values.push(value);
    const k = slot * SLOT;
    const keys = this.keys;
    keys[k] = a + 1;
    keys[k + 1] = b;
    keys[k + 2] = c;
    keys[k + 3] = at;
    this.size++;
  }

  /** Puts a key whose value is at `at` in its slot. */
  private place(a: number, b: number, c: number, at: number): void {
    const keys = this.keys;
    const mask = this.mask;
    let i = hash(a, b, c) & mask;
    while (keys[i * SLOT] !== 0) i = (i + 1) & mask;
    const k = i * SLOT;
    keys[k] = a + 1;
    keys[k + 1] = b;
    keys[k + 2] = c;
    keys[k + 3] = at;
  }

  /** Empties slot `i`, moving later entries of its probe run back so lookups stay correct. */
  removeAt(slot: number): void {
    const keys = this.keys;
    const mask = this.mask;
    this.values[keys[slot * SLOT + 3]] = undefined;
    let i = slot;
    for (let j = (i + 1) & mask; keys[j * SLOT] !== 0; j = (j + 1) & mask) {
      const home = hash(keys[j * SLOT] - 1, keys[j * SLOT + 1], keys[j * SLOT + 2]) & mask;
      // Entry j may move to i when its home is not in the cyclic range (i, j].
      if (i <= j ? home > i && home <= j : home > i || home <= j) continue;
      keys.copyWithin(i * SLOT, j * SLOT, j * SLOT + SLOT);
      i = j;
    }
    keys[i * SLOT] = 0;
    this.size--;
  }

  clear(): void {
    if (this.values.length === 0) return;
    this.keys.fill(0);
    this.values = [];
    this.size = 0;
  }

  /**
   * A table four times as large (fewer rehashes while a cold cache fills), but no larger than
   * `limit` slots, with the same entries (and the same values array).
   */
  grown(limit: number): Table<V> {
    const t = new Table<V>(Math.max(this.mask + 1, Math.min((this.mask + 1) * 4, limit)), this.values);
    const keys = this.keys;
    for (let i = 0; i <= this.mask; i++) {
      const k = i * SLOT;
      const tag = keys[k];
      if (tag !== 0) t.place(tag - 1, keys[k + 1], keys[k + 2], keys[k + 3]);
    }
    t.size = this.size;
    return t;
  }
}

function hash(a: number, b: number, c: number): number {
  let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77) ^ Math.imul(c, 0xc2b2ae3d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 13);
}

const MIN_CAPACITY = 256;

export class DecisionCache<V> {
  private young: Table<V>;
  private old: Table<V>;
  /** Entries per generation. */
  private readonly half: number;
  /** Slots a generation needs at most (a power of two, load factor at most 1/2). */
  private readonly maxCapacity: number;
  hits = 0;
  misses = 0;
  /** The last key `get` missed, and the young table's empty slot for it (undefined after any change). */
  private missTable: Table<V> | undefined = undefined;
  private missSlot = 0;
  private missA = 0;
  private missB = 0;
  private missC = 0;

  constructor(readonly max: number) {
    this.half = Math.max(1, Math.floor(max / 2));
    let cap = MIN_CAPACITY;
    while (cap < this.half * 2) cap *= 2;
    this.maxCapacity = cap;
    this.young = new Table(MIN_CAPACITY);
    this.old = new Table(MIN_CAPACITY);
  }

  get(a: number, b: number, c: number): V | undefined {
    const y = this.young;
    let i = y.find(a, b, c);
    if (i >= 0) {
      this.hits++;
      return y.valueAt(i);
    }
    const emptySlot = -1 - i;
    const o = this.old;
    if (o.size > 0) {
      i = o.find(a, b, c);
      if (i >= 0) {
        this.hits++;
        const v = o.valueAt(i);
        o.removeAt(i);
        this.add(a, b, c, v);
        return v;
      }
    }
    this.misses++;
    this.missTable = y;
    this.missSlot = emptySlot;
    this.missA = a;
    this.missB = b;
    this.missC = c;
    return undefined;
  }

  /** Stores a value for a key (replacing the value it has, in whichever generation). */
  set(a: number, b: number, c: number, value: V): void {
    let i = this.young.find(a, b, c);
    if (i >= 0) {
      this.young.setValueAt(i, value);
      return;
    }
    if (this.old.size > 0) {
      i = this.old.find(a, b, c);
      if (i >= 0) this.old.removeAt(i);
    }
    this.add(a, b, c, value);
  }

  /**
   * Stores a value for a key that `get` has just missed, with no other change to the cache
   * since: saves looking the key up again in both generations.
   */
  addMissing(a: number, b: number, c: number, value: V): void {
    const y = this.young;
    // Straight into the slot the miss found, unless the young generation must turn old or grow.
    if (
      this.missTable === y &&
      this.missA === a &&
      this.missB === b &&
      this.missC === c &&
      y.size < this.half &&
      (y.size + 1) * 2 <= y.mask + 1
    ) {
      this.missTable = undefined;
      y.insertAt(this.missSlot, a, b, c, value);
      return;
    }
    this.add(a, b, c, value);
  }

  /** Inserts a key absent from both generations. */
  private add(a: number, b: number, c: number, value: V): void {
    this.missTable = undefined;
    if (this.young.size >= this.half) {
      const emptied = this.old;
      emptied.clear();
      this.old = this.young;
      this.young = emptied;
    }
    // Load factor at most 1/2; a table never grows beyond what `half` entries need.
    if ((this.young.size + 1) * 2 > this.young.mask + 1) this.young = this.young.grown(this.maxCapacity);
    this.young.insert(a, b, c, value);
  }

  clear(): void {
    this.missTable = undefined;
    this.young = new Table(MIN_CAPACITY);
    this.old = new Table(MIN_CAPACITY);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }
}
