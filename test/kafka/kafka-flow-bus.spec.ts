/**
 * KafkaFlowBus against a real Kafka-protocol broker: librdkafka's mock cluster (see
 * test/support/kafka-mock-cluster.ts and ../shared/reference/kafka-in-ci.md).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { KafkaFlowBus, kafkaStream, messageKey, type KafkaFlowBusOptions } from '../../src/bus/kafka-flow.bus.js';
import { truncateRaw, type ConsumedBatch, type DeadLetter, type StreamCheckpoint } from '../../src/bus/flow-bus.js';
import { aggregationKey } from '../../src/flow/aggregation-key.js';
import type { FlowRecord } from '../../src/flow/flow-record.js';
import { startKafkaMockCluster, type KafkaMockCluster } from '../support/kafka-mock-cluster.js';
import { restartingConsumer, unexpectedFatalErrors } from '../support/restarting-consumer.js';
import { FAST_GROUP, flow, rawKafka, readTopic, unique, waitFor } from './kafka-test-utils.js';

let cluster: KafkaMockCluster;
const buses: KafkaFlowBus[] = [];

beforeAll(async () => {
  cluster = await startKafkaMockCluster({ brokers: 1 });
});

afterAll(async () => {
  await Promise.all(buses.map((b) => b.close()));
  await cluster?.stop();
});

async function topics(partitions = 4): Promise<{ topic: string; dlqTopic: string }> {
  const topic = unique('flows');
  const dlqTopic = unique('dlq');
  await cluster.createTopic(topic, partitions);
  await cluster.createTopic(dlqTopic, 1);
  return { topic, dlqTopic };
}

function bus(extra: Partial<KafkaFlowBusOptions> & { topic: string; dlqTopic: string }): KafkaFlowBus {
  const b = new KafkaFlowBus({
    brokers: [cluster.bootstrap],
    clientId: 'test',
    ...FAST_GROUP,
    retryBackoffMs: 100,
    ...extra,
  });
  buses.push(b);
  return b;
}

const noCheckpoints = async (): Promise<Map<string, string>> => new Map();

describe('KafkaFlowBus', () => {
  it('publishes one message per record with the aggregation key and schema header, and consumes them back', async () => {
    const t = await topics(4);
    const registry = new Registry();
    const producer = bus({ ...t, registry });
    const records = Array.from({ length: 120 }, (_, i) => flow(i));
    await producer.publish({ records: records.slice(0, 60) });
    await producer.publish({ records: records.slice(60) });

    const raw = await readTopic(cluster.bootstrap, t.topic, 120);
    expect(raw).toHaveLength(120);
    for (const m of raw) {
      const value = JSON.parse(m.value ?? 'null') as FlowRecord;
      expect(m.key).toBe(aggregationKey(value));
      expect(m.headers.schema).toBe('1');
    }
    // One edge (key) lives in exactly one partition.
    const partitionOfKey = new Map<string, Set<number>>();
    for (const m of raw)
      partitionOfKey.set(m.key ?? '', (partitionOfKey.get(m.key ?? '') ?? new Set()).add(m.partition));
    for (const parts of partitionOfKey.values()) expect(parts.size).toBe(1);
    expect(new Set(raw.map((m) => m.partition)).size).toBeGreaterThan(1);

    const consumer = bus({ ...t, registry });
    const got: unknown[] = [];
    const batches: ConsumedBatch[] = [];
    await consumer.consume(
      async (b) => {
        batches.push(b);
        got.push(...b.records);
      },
      { groupId: unique('g'), loadCheckpoints: noCheckpoints, maxBatch: 7 },
    );
    await waitFor('120 consumed records', () => got.length >= 120);
    expect([...got].sort((a, b) => (a as FlowRecord).id.localeCompare((b as FlowRecord).id))).toEqual(
      [...records].sort((a, b) => a.id.localeCompare(b.id)),
    );
    for (const b of batches) {
      expect(b.records.length).toBeLessThanOrEqual(7);
      expect(b.checkpoints).toHaveLength(1);
      expect(b.checkpoints[0].stream).toMatch(new RegExp(`^kafka:${t.topic}:[0-3]$`));
    }
    // The last checkpoint per partition is that partition's message count (next offset).
    const last = new Map<string, string>();
    for (const b of batches) for (const c of b.checkpoints) last.set(c.stream, c.position);
    for (let p = 0; p < 4; p++) {
      const n = raw.filter((m) => m.partition === p).length;
      if (n > 0) expect(last.get(kafkaStream(t.topic, p))).toBe(String(n));
    }
    const metrics = await registry.getMetricsAsJSON();
    const produced = metrics.find((m) => m.name === 'dropscope_kafka_messages_produced_total');
    expect(produced?.values.find((v) => v.labels.topic === t.topic)?.value).toBe(120);
    const lag = metrics.find((m) => m.name === 'dropscope_kafka_consumer_lag');
    expect(lag?.values.every((v) => v.value === 0)).toBe(true);
    expect(lag?.values.every((v) => Object.keys(v.labels).join() === 'partition')).toBe(true);
    await consumer.close();
  });

  it('keys records that are not flows with a stable fallback, and resolves publish after the broker acks', async () => {
    const t = await topics(2);
    const published: StreamCheckpoint[][] = [];
    const producer = bus({
      ...t,
      compression: 'none',
      onPublished: async (c) => {
        published.push(c);
      },
    });
    const checkpoints = [{ stream: 'calico-file:/var/log/x.log', position: '4096' }];
    await producer.publish({ records: [{ hello: 'world' }, 42], checkpoints });
    expect(published).toEqual([checkpoints]);
    const raw = await readTopic(cluster.bootstrap, t.topic, 2);
    const keys = raw.map((m) => m.key);
    expect(keys).toContain(messageKey({ hello: 'world' }, '{"hello":"world"}'));
    expect(keys.every((k) => k?.startsWith('unkeyed:'))).toBe(true);
  });

  it('sends unparseable messages to the dead-letter topic with reason and origin, and still advances the checkpoint', async () => {
    const t = await topics(1);
    const producer = rawKafka(cluster.bootstrap).producer();
    await producer.connect();
    await producer.send({
      topic: t.topic,
      messages: [
        { value: JSON.stringify(flow(1)), headers: { schema: '1' } },
        { value: '{"not": json' },
        { value: JSON.stringify(flow(2)) },
        { value: JSON.stringify(flow(3)), headers: { schema: '2' } },
        { value: null },
        { value: JSON.stringify(flow(4)) },
      ],
    });
    await producer.disconnect();

    const consumer = bus(t);
    const got: unknown[] = [];
    const letters: DeadLetter[] = [];
    let position = '';
    await consumer.consume(
      async (b) => {
        got.push(...b.records);
        // deadLetters: added to ConsumedBatch by the aggregator work; typed loosely so this runs either way.
        letters.push(...((b as ConsumedBatch & { deadLetters?: DeadLetter[] }).deadLetters ?? []));
        position = b.checkpoints[0].position;
      },
      { groupId: unique('g'), loadCheckpoints: noCheckpoints },
    );
    await waitFor('checkpoint past all 6 messages', () => position === '6');
    expect(got.map((r) => (r as FlowRecord).id)).toEqual(['flow-1', 'flow-2', 'flow-4']);
    expect(letters.map((l) => l.origin)).toEqual([1, 3, 4].map((o) => `kafka:${t.topic}:0:${o}`));

    const dlq = await readTopic(cluster.bootstrap, t.dlqTopic, 3);
    const values = dlq.map(
      (m) => JSON.parse(m.value ?? '{}') as { raw: string; reason: string; origin: string; time: string },
    );
    expect(values.map((v) => v.origin)).toEqual([1, 3, 4].map((o) => `kafka:${t.topic}:0:${o}`));
    expect(values[0].raw).toBe('{"not": json');
    expect(values[0].reason).toMatch(/invalid JSON/);
    expect(values[1].reason).toMatch(/unsupported schema version 2/);
    expect(values[2].reason).toMatch(/empty message value/);
    expect(Number.isNaN(Date.parse(values[0].time))).toBe(false);
    expect(dlq.every((m) => m.headers.schema === '1')).toBe(true);
  });

  it('publishes dead letters with the raw input truncated', async () => {
    const t = await topics(1);
    const producer = bus(t);
    const huge = 'x'.repeat(100_000);
    await producer.publishDeadLetters([
      { raw: huge, reason: 'too big', origin: 'calico-file:/x:7' },
      { raw: 'bad', reason: 'bad line', origin: 'calico-file:/x:8' },
    ]);
    const dlq = await readTopic(cluster.bootstrap, t.dlqTopic, 2);
    const values = dlq.map((m) => JSON.parse(m.value ?? '{}') as { raw: string; reason: string; origin: string });
    expect(values[0]).toMatchObject({ raw: truncateRaw(huge), reason: 'too big', origin: 'calico-file:/x:7' });
    expect(values[1]).toMatchObject({ raw: 'bad', reason: 'bad line', origin: 'calico-file:/x:8' });
  });

  it("sends a batch's dead letters once when the batch is published again after a failure", async () => {
    const t = await topics(1);
    let failures = 1;
    const producer = bus({
      ...t,
      onPublished: async () => {
        if (failures-- > 0) throw new Error('checkpoint store unavailable');
      },
    });
    const batch = {
      records: [flow(1)],
      checkpoints: [{ stream: 'calico-file:/x', position: '1:10:abc' }],
      deadLetters: [{ raw: 'bad', reason: 'bad line', origin: 'calico-file:/x:3' }],
    };
    await expect(producer.publish(batch)).rejects.toThrow('checkpoint store unavailable');
    await producer.publish(batch); // the publisher's retry, with the same batch
    await producer.publishDeadLetters([{ raw: 'later', reason: 'marker', origin: 'calico-file:/x:9' }]);
    const dlq = await readTopic(cluster.bootstrap, t.dlqTopic, 2);
    const origins = dlq.map((m) => (JSON.parse(m.value ?? '{}') as { origin: string }).origin);
    expect(origins.slice(0, 2)).toEqual(['calico-file:/x:3', 'calico-file:/x:9']);
  });

  it('shares partitions between two members of a consumer group: both receive, no duplicates, nothing lost', async () => {
    const t = await topics(4);
    const groupId = unique('g');
    const gotA: string[] = [];
    const gotB: string[] = [];
    // Next offset per partition, as delivered: covers the topic's messages once drained.
    const positions = new Map<string, number>();
    const receive = (got: string[]) => async (batch: ConsumedBatch) => {
      got.push(...batch.records.map((r) => (r as FlowRecord).id));
      for (const c of batch.checkpoints)
        positions.set(c.stream, Math.max(positions.get(c.stream) ?? 0, Number(c.position)));
    };
    // Two members joining together can meet the mock broker's late-SyncGroup error: restart then.
    const member = (got: string[]) =>
      restartingConsumer((onFatalError) => bus({ ...t, onFatalError }), receive(got), {
        groupId,
        loadCheckpoints: noCheckpoints,
      });
    const ma = member(gotA);
    await ma.joined;
    const mb = member(gotB);
    await mb.joined;
    await waitFor(
      'a balanced group of two',
      () => {
        const pa = ma.bus.assignedPartitions();
        const pb = mb.bus.assignedPartitions();
        return pa.length > 0 && pb.length > 0 && new Set([...pa, ...pb]).size === 4 && pa.length + pb.length === 4;
      },
      60_000,
    );

    const producer = bus(t);
    const records = Array.from({ length: 400 }, (_, i) => flow(i));
    await producer.publish({ records });
    await waitFor(
      'positions covering the 400 offsets',
      () => [...positions.values()].reduce((n, p) => n + p, 0) >= 400,
    );
    await Promise.all([ma.close(), mb.close()]);
    expect([...unexpectedFatalErrors(ma), ...unexpectedFatalErrors(mb)]).toEqual([]);
    expect(gotA.length).toBeGreaterThan(0);
    expect(gotB.length).toBeGreaterThan(0);
    const all = [...gotA, ...gotB];
    expect(all).toHaveLength(400);
    expect(new Set(all)).toEqual(new Set(records.map((r) => r.id)));
  }, 150_000);
});
