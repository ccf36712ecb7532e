import { describe, expect, it } from '@jest/globals';
import { until } from '../support/wait.js';
import { kafkaFaultFixture, sample, storedFlows, storedOffsets, type Member } from './kafka-members.js';

/**
 * Producer-side duplicates: the same FlowRecord published twice (a retried send whose first ack
 * was lost, a collector replaying after a crash) lands in the same partition at a later offset.
 * The bus drops a message whose flow id sits in the previous KAFKA_DEDUP_WINDOW offsets of its
 * partition. Flows are flow-<i>, every third one (i % 3 === 0) denied.
 */
const fixture = kafkaFaultFixture();

/** A topic with a producer, and members that have joined the group when they are returned. */
async function setUp(partitions: number, dedupWindow?: number) {
  const f = await fixture(partitions, dedupWindow === undefined ? {} : { dedupWindow });
  return {
    ...f,
    member: async (name: string): Promise<Member> => {
      const m = await f.member(name);
      await m.joined;
      return m;
    },
  };
}

describe('fault: producer-side duplicates in Kafka', () => {
  it('counts a flow published twice once, also when the copy arrives after an aggregator restart', async () => {
    const { url, publish, member } = await setUp(3);
    await publish(0, 200);
    await publish(50, 50); // a retried send: flow-50..flow-99 again
    const a = await member('a');
    await until('A stored 250 offsets', async () => (await storedOffsets(url)) >= 250, 30_000);
    expect(await sample(a.registry, 'dropscope_kafka_messages_consumed_total', { outcome: 'duplicate' })).toBe(50);
    await a.close();

    // A collector replays flow-150..flow-199 after a crash, then goes on. The originals were stored
    // by A; B starts with an empty window and refills it from the offsets below its positions.
    await publish(150, 50);
    await publish(200, 100);
    const b = await member('b');
    await until('B stored 400 offsets', async () => (await storedOffsets(url)) >= 400, 30_000);
    expect(await sample(b.registry, 'dropscope_kafka_messages_consumed_total', { outcome: 'duplicate' })).toBe(50);
    // 300 distinct flows, 100 of them denied (0, 3, ..., 297).
    expect(await storedFlows(url)).toEqual({ flows: 300, events: 100, eventIds: 100 });
    expect(await storedOffsets(url)).toBe(400);
  }, 60_000);

  it('the window is bounded: a copy more than KAFKA_DEDUP_WINDOW offsets after its original counts again', async () => {
    // One partition, window 20. Offsets 0..99 hold flow-0..flow-99; offsets 100..109 copy
    // flow-0..flow-9 (100 offsets back: outside the window, stored again); offsets 110..114 copy
    // flow-95..flow-99 (15 back: dropped).
    const { url, publish, member } = await setUp(1, 20);
    await publish(0, 100);
    await publish(0, 10);
    await publish(95, 5);
    const a = await member('a');
    await until('115 offsets stored', async () => (await storedOffsets(url)) >= 115, 30_000);
    expect(await sample(a.registry, 'dropscope_kafka_messages_consumed_total', { outcome: 'duplicate' })).toBe(5);
    // 100 + 10 flows; drop events: 34 denied in 0..99 plus flow-0, 3, 6, 9 again = 38, of 34 ids.
    expect(await storedFlows(url)).toEqual({ flows: 110, events: 38, eventIds: 34 });
  }, 60_000);
});
