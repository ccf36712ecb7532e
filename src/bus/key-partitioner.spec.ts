import { describe, expect, it } from '@jest/globals';
import { createRequire } from 'node:module';
import type { PartitionerArgs } from 'kafkajs';
import { keyHashPartitioner, murmur2 } from './key-partitioner.js';

/** Twelve partitions, all with a leader (as kafkajs passes a topic's metadata). */
const TWELVE = Array.from({ length: 12 }, (_, partitionId) => ({ partitionId, leader: 1 }));

function args(message: PartitionerArgs['message'], partitionMetadata = TWELVE): PartitionerArgs {
  return { topic: 'flows', partitionMetadata, message } as PartitionerArgs;
}

describe('murmur2', () => {
  // The Java client's own test vectors (Kafka's UtilsTest.testMurmur2).
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ])('hashes %j as the Java client does', (key, hash) => {
    expect(murmur2(key)).toBe(hash);
    expect(murmur2(Buffer.from(key))).toBe(hash);
  });

  it('hashes a key by its UTF-8 bytes', () => {
    // "ü" is two bytes in UTF-8 and one in Latin-1: the string hashes as its UTF-8 bytes.
    const key = 'zürich/web';
    expect(murmur2(key)).toBe(murmur2(Buffer.from(key, 'utf8')));
    expect(murmur2(key)).not.toBe(murmur2(Buffer.from(key, 'latin1')));
  });

  it('agrees with the murmur2 kafkajs partitioned by before, for keys of every length and script', () => {
    // kafkajs' own implementation (64-bit number objects), the partitioner this one replaced.
    const kafkajsMurmur2 = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2.js') as (
      k: string,
    ) => number;
    const keys: string[] = [];
    for (let n = 0; n < 70; n++) keys.push('k'.repeat(n), `prod|shop/Deployment/web-${n}|db/StatefulSet/pg|5432|TCP`);
    keys.push('zürich|東京/pod/x|ß/🙂|53|UDP', '\u0000\u007f\u0080\uffff');
    for (const k of keys) expect([k, murmur2(k)]).toEqual([k, kafkajsMurmur2(k)]);
  });
});

describe('keyHashPartitioner', () => {
  it("puts a keyed message on murmur2's positive part modulo the partitions", () => {
    const partition = keyHashPartitioner();
    // foobar: -790332482 & 0x7fffffff = 1357151166, which is 6 modulo 12 (worked by hand).
    expect(partition(args({ key: 'foobar', value: 'x' }))).toBe(6);
    // 21: -973932308 & 0x7fffffff = 1173551340 = 12 x 97795945.
    expect(partition(args({ key: '21', value: 'x' }))).toBe(0);
    expect(partition(args({ key: Buffer.from('21'), value: 'x' }))).toBe(0);
  });

  it("keeps a message's own partition", () => {
    expect(keyHashPartitioner()(args({ key: 'foobar', value: 'x', partition: 3 }))).toBe(3);
  });

  it('spreads unkeyed messages round robin over the partitions that have a leader', () => {
    const partition = keyHashPartitioner();
    const metadata = [
      { partitionId: 0, leader: 1 },
      { partitionId: 1, leader: -1 },
      { partitionId: 2, leader: 2 },
    ];
    const seen = Array.from({ length: 6 }, () => partition(args({ key: null, value: 'x' }, metadata)));
    expect(new Set(seen)).toEqual(new Set([0, 2]));
    for (let i = 1; i < seen.length; i++) expect(seen[i]).not.toBe(seen[i - 1]);
  });
});
