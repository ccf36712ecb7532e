/**
 * Which of a set of IP blocks (a CIDR minus its `except` CIDRs) contain an address, found by a
 * binary search instead of by trying every block. The first and the one-past-last address of
 * every CIDR and except CIDR cut each family's address space into intervals; no block's answer
 * changes inside an interval (a block changes only where one of its CIDRs starts or ends), so the
 * answer is worked out once per interval, at its first address, and shared by every address in it.
 * There are at most twice as many intervals as CIDRs, plus one.
 */
import { ipBlockMatches, type IpBlockMatcher, type IpFamily, type ParsedIp } from './cidr.js';

/** The intervals of one family: `starts` ascending, interval k is [starts[k], starts[k+1]). */
interface FamilyIntervals<N> {
  starts: N[];
  /** The blocks containing interval k, as `i,j,` (ascending indexes); undefined until asked. */
  signatures: (string | undefined)[];
}

/** Index of the last start at or before `x` (starts[0] is the family's first address). */
function intervalOf<N extends number | bigint>(starts: readonly N[], x: N): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export class IpBlockIndex {
  private readonly blocks: IpBlockMatcher[] = [];
  private v4: FamilyIntervals<number> | undefined;
  private v6: FamilyIntervals<bigint> | undefined;

  /** Adds a block; its number (signatures list blocks by these numbers) is the count before. */
  add(block: IpBlockMatcher): number {
    this.blocks.push(block);
    this.v4 = undefined;
    this.v6 = undefined;
    return this.blocks.length - 1;
  }

  get size(): number {
    return this.blocks.length;
  }

  /** The numbers of the blocks that contain `ip`, ascending, each followed by a comma: `0,3,`. */
  signature(ip: ParsedIp): string {
    if (this.blocks.length === 0) return '';
    if (ip.family === 4) {
      const f = (this.v4 ??= this.intervals(4, (v) => Number(v)));
      const k = intervalOf(f.starts, Number(ip.value));
      return (f.signatures[k] ??= this.signatureAt({ family: 4, value: BigInt(f.starts[k]) }));
    }
    const f = (this.v6 ??= this.intervals(6, (v) => v));
    const k = intervalOf(f.starts, ip.value);
    return (f.signatures[k] ??= this.signatureAt({ family: 6, value: f.starts[k] }));
  }

  /** The blocks containing one address, tried one by one (once per interval). */
  private signatureAt(ip: ParsedIp): string {
    let sig = '';
    for (let i = 0; i < this.blocks.length; i++) if (ipBlockMatches(this.blocks[i], ip)) sig += `${i},`;
    return sig;
  }

  private intervals<N extends number | bigint>(family: IpFamily, toN: (v: bigint) => N): FamilyIntervals<N> {
    const bits = family === 4 ? 32 : 128;
    const end = 1n << BigInt(bits);
    const edges = new Set<bigint>([0n]);
    for (const b of this.blocks)
      for (const c of [b.cidr, ...b.except]) {
        if (c.family !== family) continue;
        edges.add(c.network);
        const after = c.network + (1n << BigInt(bits - c.prefix));
        if (after < end) edges.add(after);
      }
    const sorted = [...edges].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return { starts: sorted.map(toN), signatures: new Array<string | undefined>(sorted.length).fill(undefined) };
  }
}
