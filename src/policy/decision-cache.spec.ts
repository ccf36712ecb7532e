import { describe, expect, it } from '@jest/globals';
import { DecisionCache } from './decision-cache.js';

describe('DecisionCache', () => {
  it('tells keys apart by each of their three numbers', () => {
    const c = new DecisionCache<string>(100);
    c.set(1, 2, 3, 'a');
    c.set(2, 1, 3, 'b');
    c.set(1, 3, 2, 'c');
    c.set(0, 0, 0, 'zero');
    expect(c.get(1, 2, 3)).toBe('a');
    expect(c.get(2, 1, 3)).toBe('b');
    expect(c.get(1, 3, 2)).toBe('c');
    expect(c.get(0, 0, 0)).toBe('zero');
    expect(c.get(3, 2, 1)).toBeUndefined();
    expect(c.size).toBe(4);
    expect(c.hits).toBe(4);
    expect(c.misses).toBe(1);
  });

  it('replaces the value of a key it holds', () => {
    const c = new DecisionCache<string>(100);
    c.set(5, 6, 7, 'old');
    c.set(5, 6, 7, 'new');
    expect(c.get(5, 6, 7)).toBe('new');
    expect(c.size).toBe(1);
  });

  it('keeps at most max entries, dropping the least recently used generation', () => {
    // Generations of 2: a, b fill the young one; c makes them old; a hit moves a back.
    const c = new DecisionCache<string>(4);
    c.set(1, 0, 0, 'a');
    c.set(2, 0, 0, 'b');
    c.set(3, 0, 0, 'c');
    expect(c.get(1, 0, 0)).toBe('a'); // young: c, a; old: b
    c.set(4, 0, 0, 'd'); // young full: old becomes c, a; young: d
    expect(c.size).toBe(3);
    expect(c.get(2, 0, 0)).toBeUndefined();
    expect(c.get(3, 0, 0)).toBe('c');
    expect(c.get(1, 0, 0)).toBe('a');
    expect(c.get(4, 0, 0)).toBe('d');
    expect(c.size).toBeLessThanOrEqual(4);
  });

  it('finds every key after entries are moved out of the old generation', () => {
    // Generations of 4,000: keys 0..3999 fill the young one, key 4000 makes them old; hits
    // then move old entries to the young one, removing them from the middle of probe runs.
    const c = new DecisionCache<number>(8000);
    const key = (i: number): [number, number, number] => [i % 7, i, i % 3];
    for (let i = 0; i <= 4000; i++) c.set(...key(i), i);
    for (let i = 0; i < 3000; i += 2) expect(c.get(...key(i))).toBe(i);
    for (let i = 1; i < 3000; i += 2) expect(c.get(...key(i))).toBe(i);
    for (let i = 3000; i < 3999; i++) expect(c.get(...key(i))).toBe(i);
    expect(c.size).toBe(4001);
    for (let i = 0; i < 3999; i++) expect(c.get(...key(i))).toBe(i);
    c.clear();
    expect(c.size).toBe(0);
    expect(c.get(0, 0, 0)).toBeUndefined();
  });

  it('stores after a miss without a second lookup, through growth and generation swaps', () => {
    // Generations of 300: the young table grows from 256 slots, then swaps twice.
    const c = new DecisionCache<string>(600);
    for (let i = 0; i < 700; i++) {
      expect(c.get(i, i + 1, 7)).toBeUndefined();
      c.addMissing(i, i + 1, 7, `v${i}`);
    }
    // 0..299 filled the first generation, 300..599 the second (the first became old), and
    // 600 swapped again: 0..299 dropped, 300..599 old, 600..699 young.
    expect(c.size).toBe(400);
    expect(c.get(299, 300, 7)).toBeUndefined();
    expect(c.get(300, 301, 7)).toBe('v300');
    expect(c.get(599, 600, 7)).toBe('v599');
    expect(c.get(600, 601, 7)).toBe('v600');
    expect(c.get(699, 700, 7)).toBe('v699');
    expect(c.size).toBe(400);
  });

  it('stores a missed key in the slot its miss found only while nothing changed since', () => {
    // Keys that collide in a small table: all in one probe run of the first generation.
    const c = new DecisionCache<string>(1000);
    const keys: [number, number, number][] = [];
    for (let i = 0; i < 40; i++) keys.push([i % 3, i, 5]);
    // Two misses, then both stored, the first first (its miss is no longer the last): both findable.
    expect(c.get(...keys[0])).toBeUndefined();
    expect(c.get(...keys[1])).toBeUndefined();
    c.addMissing(...keys[0], 'k0');
    c.addMissing(...keys[1], 'k1');
    // A miss, then a replaced value and another insert before the store.
    expect(c.get(...keys[2])).toBeUndefined();
    c.set(...keys[1], 'k1 again');
    c.set(...keys[3], 'k3');
    c.addMissing(...keys[2], 'k2');
    // The rest the usual way: miss, store.
    for (let i = 4; i < 40; i++) {
      expect(c.get(...keys[i])).toBeUndefined();
      c.addMissing(...keys[i], `k${i}`);
    }
    expect(c.size).toBe(40);
    expect(c.get(...keys[0])).toBe('k0');
    expect(c.get(...keys[1])).toBe('k1 again');
    expect(c.get(...keys[2])).toBe('k2');
    expect(c.get(...keys[3])).toBe('k3');
    for (let i = 4; i < 40; i++) expect(c.get(...keys[i])).toBe(`k${i}`);
    expect(c.get(0, 40, 5)).toBeUndefined();
    // After clear, a stale miss must not write into the new tables.
    expect(c.get(7, 7, 7)).toBeUndefined();
    c.clear();
    c.addMissing(7, 7, 7, 'after clear');
    expect(c.get(7, 7, 7)).toBe('after clear');
    expect(c.size).toBe(1);
  });
});
