import type { ICustomPartitioner, PartitionerArgs } from 'kafkajs';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/**
 * The Java client's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`) of a key's UTF-8
 * bytes, in 32-bit integer arithmetic: what kafkajs' DefaultPartitioner computes with a 64-bit
 * number object per step (~5.5 µs a 64-byte key against ~0.3 µs here).
 */
export function murmur2(key: string | Buffer): number {
  if (typeof key === 'string') {
    let ascii = true;
    for (let i = 0; i < key.length; i++)
      if (key.charCodeAt(i) > 0x7f) {
        ascii = false;
        break;
      }
    if (ascii) return murmur2Bytes(key.length, (i) => key.charCodeAt(i));
  }
  const data = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  return murmur2Bytes(data.length, (i) => data[i]);
}

function murmur2Bytes(length: number, byte: (i: number) => number): number {
  let h = SEED ^ length;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = byte(i4) | (byte(i4 + 1) << 8) | (byte(i4 + 2) << 16) | (byte(i4 + 3) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & ~3;
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= byte(tail + 2) << 16;
    if (rest >= 2) h ^= byte(tail + 1) << 8;
    h ^= byte(tail);
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * kafkajs' DefaultPartitioner (the Java client's: a message's own partition, else murmur2 of its
 * key modulo the topic's partitions, else round robin over the available ones), with the murmur2
 * above: every key lands on the partition it did before.
 */
export const keyHashPartitioner: ICustomPartitioner = () => {
  const counters = new Map<string, number>();
  return ({ topic, partitionMetadata, message }: PartitionerArgs): number => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    const n = partitionMetadata.length;
    if (message.key !== null && message.key !== undefined) return (murmur2(message.key) & 0x7fffffff) % n;
    const next = ((counters.get(topic) ?? Math.floor(Math.random() * 0x7fffffff)) + 1) & 0x7fffffff;
    counters.set(topic, next);
    const available = partitionMetadata.filter((p) => p.leader >= 0);
    return available.length > 0 ? available[next % available.length].partitionId : next % n;
  };
};
