import { describe, expect, it } from '@jest/globals';
import { FlowIdChunk, FlowIdWindow } from './flow-id-window.js';

/** Runs ids (one per offset from `first`) through chunks of `chunk`, committing each; returns the offsets judged duplicates. */
function duplicates(window: FlowIdWindow, ids: string[], first: number, chunk: number): number[] {
  const out: number[] = [];
  for (let start = 0; start < ids.length; start += chunk) {
    const c = new FlowIdChunk(window);
    const end = Math.min(ids.length, start + chunk);
    for (let i = start; i < end; i++) if (c.isDuplicate(ids[i], first + i)) out.push(first + i);
    c.commit(first + end);
  }
  return out;
}

describe('FlowIdWindow', () => {
  it('a repeated id within `size` offsets is a duplicate; one further back is not', () => {
    // size 3: offset 3 repeats offset 0 (3 back: in [0, 3)); offset 7 repeats offset 3 (4 back: out).
    const ids = ['a', 'b', 'c', 'a', 'd', 'e', 'f', 'a'];
    expect(duplicates(new FlowIdWindow(3), ids, 0, 100)).toEqual([3]);
    expect(duplicates(new FlowIdWindow(3), ids, 0, 1)).toEqual([3]);
    expect(duplicates(new FlowIdWindow(3), ids, 0, 2)).toEqual([3]);
  });

  it('decides the same whatever the chunking, and a refilled window decides as the continuous one', () => {
    const ids = ['x', 'y', 'x', 'z', 'y', 'w', 'x', 'x', 'v', 'w'];
    // size 4: 102 (x@100), 104 (y@101), 106 (x@102), 107 (x@106), 109 (w@105) are duplicates.
    const expected = [102, 104, 106, 107, 109];
    for (const chunk of [1, 2, 3, 10]) expect(duplicates(new FlowIdWindow(4), ids, 100, chunk)).toEqual(expected);
    // A member taking over at offset 106 refills from the 4 offsets below it (102..105), as the bus does.
    const refilled = new FlowIdWindow(4);
    for (let o = 102; o < 106; o++) refilled.add(ids[o - 100], o);
    expect(duplicates(refilled, ids.slice(6), 106, 2)).toEqual([106, 107, 109]);
  });

  it('keeps at most `size` ids, and ignores a re-read of offsets it already holds', () => {
    const w = new FlowIdWindow(5);
    const ids = Array.from({ length: 5000 }, (_, i) => `id-${i}`);
    expect(duplicates(w, ids, 0, 7)).toEqual([]);
    expect(w.length).toBe(5);
    w.add('id-0', 10); // below the last offset added (4999): a re-read, ignored
    expect(w.seenBefore('id-0', 11)).toBe(false);
  });
});
