/**
 * Exactly-once from Kafka into the store: the bus resumes from positions stored with the data
 * (PostgreSQL in the service; an in-memory store with the same atomicity here), whatever Kafka's
 * own committed offsets say.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { KafkaFlowBus, kafkaStream, type KafkaFlowBusOptions } from '../../src/bus/kafka-flow.bus.js';
import { EarlierWriteFailedError, StaleGenerationError, type ConsumedBatch } from '../../src/bus/flow-bus.js';
import type { Logger } from '../../src/common/logger.js';
import type { FlowRecord } from '../../src/flow/flow-record.js';
import { startKafkaMockCluster, type KafkaMockCluster } from '../support/kafka-mock-cluster.js';
import { FAST_GROUP, flow, unique, waitFor } from './kafka-test-utils.js';

let cluster: KafkaMockCluster;
const buses: KafkaFlowBus[] = [];

beforeAll(async () => {
  cluster = await startKafkaMockCluster({ brokers: 1 });
});

afterAll(async () => {
  await Promise.all(buses.map((b) => b.close()));
  await cluster?.stop();
});

/** Records and positions committed together, like the aggregator's transaction. */
class Store {
  readonly ids: string[] = [];
  readonly positions = new Map<string, string>();
  loads = 0;
  constructor(private readonly loadDelayMs = 0) {}

  commit = async (b: ConsumedBatch): Promise<void> => {
    for (const r of b.records) this.ids.push((r as FlowRecord).id);
    for (const c of b.checkpoints) this.positions.set(c.stream, c.position);
  };

  load = async (streams: string[]): Promise<Map<string, string>> => {
    this.loads++;
    if (this.loadDelayMs > 0) await new Promise((r) => setTimeout(r, this.loadDelayMs));
    const out = new Map<string, string>();
    for (const s of streams) {
      const p = this.positions.get(s);
      if (p !== undefined) out.set(s, p);
    }
    return out;
  };

  /** Offsets covered by the stored positions: equal to the topic's message count once drained. */
  stored(): number {
    let n = 0;
    for (const p of this.positions.values()) n += Number(p);
    return n;
  }

  expectExactly(n: number): void {
    expect(this.ids).toHaveLength(n);
    expect(new Set(this.ids)).toEqual(new Set(Array.from({ length: n }, (_, i) => `flow-${i}`)));
  }
}

function bus(topic: string, extra: Partial<KafkaFlowBusOptions> = {}): KafkaFlowBus {
  const b = new KafkaFlowBus({
    brokers: [cluster.bootstrap],
    topic,
    dlqTopic: `${topic}.dlq`,
    ...FAST_GROUP,
    retryBackoffMs: 100,
    ...extra,
  });
  buses.push(b);
  return b;
}

const range = (from: number, to: number): FlowRecord[] => Array.from({ length: to - from }, (_, i) => flow(from + i));

/** Publishes through a short-lived producer bus. */
async function produce(topic: string, records: FlowRecord[]): Promise<void> {
  const p = bus(topic);
  await p.publish({ records });
  await p.close();
}

/**
 * Runs one consumer until the stored positions cover the topic's `n` messages (nothing is left to
 * deliver), then stops it (a clean shutdown); callers assert on the store after that.
 */
async function consumeUntil(
  topic: string,
  groupId: string,
  store: Store,
  n: number,
  extra: Partial<KafkaFlowBusOptions> = {},
): Promise<void> {
  const c = bus(topic, extra);
  await c.consume(store.commit, { groupId, loadCheckpoints: store.load, maxBatch: 25 });
  await waitFor(`positions covering ${n} offsets`, () => store.stored() >= n);
  await c.close();
}

async function createTopic(partitions: number): Promise<string> {
  const topic = unique('flows');
  await cluster.createTopic(topic, partitions);
  await cluster.createTopic(`${topic}.dlq`, 1);
  return topic;
}

describe('KafkaFlowBus resume from stored positions', () => {
  it('a restarted consumer resumes exactly where the store stands: no loss, no duplicates', async () => {
    const topic = await createTopic(3);
    const groupId = unique('g');
    const store = new Store();
    await produce(topic, range(0, 150));
    await consumeUntil(topic, groupId, store, 150);
    store.expectExactly(150);

    await produce(topic, range(150, 300));
    await consumeUntil(topic, groupId, store, 300);
    store.expectExactly(300);
    expect([...store.positions.values()].reduce((s, p) => s + Number(p), 0)).toBe(300);
  });

  it('skips records the store already holds when Kafka committed offsets lag behind (crash after the DB commit)', async () => {
    const topic = await createTopic(3);
    const groupId = unique('g');
    const store = new Store();
    // Phase 1: normal operation, Kafka offsets committed (as a hint).
    await produce(topic, range(0, 60));
    await consumeUntil(topic, groupId, store, 60);
    // Phase 2: the store advances but Kafka never hears about it (every "crash" hit between the two commits).
    await produce(topic, range(60, 150));
    await consumeUntil(topic, groupId, store, 150, { commitOffsetsToKafka: false });
    store.expectExactly(150);

    // Phase 3: a new consumer; Kafka would redeliver 60..149. Positions load slowly, so fetches from
    // Kafka's committed offsets are in flight before the seek: the bus must drop them.
    await produce(topic, range(150, 200));
    const slowStore = Object.assign(new Store(400), { ids: store.ids }) as Store;
    for (const [k, v] of store.positions) slowStore.positions.set(k, v);
    await consumeUntil(topic, groupId, slowStore, 200);
    slowStore.expectExactly(200);
  });

  it('resumes from stored positions for a group that never committed to Kafka at all', async () => {
    const topic = await createTopic(2);
    const store = new Store();
    await produce(topic, range(0, 80));
    await consumeUntil(topic, unique('g'), store, 80, { commitOffsetsToKafka: false });
    await produce(topic, range(80, 100));
    // A fresh group id: Kafka knows nothing, fromBeginning would replay all 100.
    await consumeUntil(topic, unique('g'), store, 100);
    store.expectExactly(100);
  });

  it('redelivers a batch whose handler failed, and never skips one', async () => {
    const topic = await createTopic(2);
    const store = new Store();
    await produce(topic, range(0, 100));
    let calls = 0;
    let failures = 0;
    const c = bus(topic);
    await c.consume(
      async (b) => {
        calls++;
        if (calls % 3 === 2) {
          failures++;
          throw new Error('database unavailable');
        }
        await store.commit(b);
      },
      { groupId: unique('g'), loadCheckpoints: store.load, maxBatch: 10 },
    );
    await waitFor('positions covering 100 offsets', () => store.stored() >= 100);
    await c.close();
    expect(failures).toBeGreaterThan(2);
    store.expectExactly(100);
  });

  it('keeps exactly-once across a rebalance: a second member joins mid-stream', async () => {
    const topic = await createTopic(4);
    const groupId = unique('g');
    const store = new Store();
    await produce(topic, range(0, 300));
    const slowCommit = async (b: ConsumedBatch): Promise<void> => {
      await new Promise((r) => setTimeout(r, 15));
      await store.commit(b);
    };
    const a = bus(topic);
    await a.consume(slowCommit, { groupId, loadCheckpoints: store.load, maxBatch: 10 });
    await waitFor('a started storing', () => store.ids.length >= 20);
    const b = bus(topic);
    await b.consume(slowCommit, { groupId, loadCheckpoints: store.load, maxBatch: 10 });
    await produce(topic, range(300, 600));
    // A join waits for the busy member to rejoin (at most rebalanceTimeout, then it is evicted and rejoins).
    await waitFor(
      'a balanced group of two',
      () => a.assignedPartitions().length > 0 && b.assignedPartitions().length > 0,
      60_000,
    );
    await waitFor('positions covering 600 offsets', () => store.stored() >= 600, 45_000);
    await Promise.all([a.close(), b.close()]);
    store.expectExactly(600);
  }, 150_000);

  it('tells a batch retried because of another partition apart from its own lost claim (log level, fenced count)', async () => {
    const topic = await createTopic(1);
    const store = new Store();
    await produce(topic, range(0, 30));
    const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
    const logger = (): Logger => ({
      debug: () => undefined,
      info: (msg, fields) => lines.push({ level: 'info', msg, fields }),
      warn: (msg, fields) => lines.push({ level: 'warn', msg, fields }),
      error: (msg, fields) => lines.push({ level: 'error', msg, fields }),
      child: () => logger(),
    });
    const registry = new Registry();
    const own = kafkaStream(topic, 0);
    const other = kafkaStream(topic, 5);
    // What the aggregator throws: a shared write refused for another partition's stale claim, a
    // batch behind a failed write, this partition's own stale claim, then a plain failure.
    const failures: Error[] = [
      new StaleGenerationError([other]),
      new EarlierWriteFailedError(),
      new StaleGenerationError([own]),
      new Error('database unavailable'),
    ];
    const c = bus(topic, { logger: logger(), registry });
    await c.consume(
      async (b) => {
        const e = failures.shift();
        if (e) throw e;
        await store.commit(b);
      },
      { groupId: unique('g'), loadCheckpoints: store.load, maxBatch: 10 },
    );
    await waitFor('positions covering 30 offsets', () => store.stored() >= 30);
    await c.close();
    store.expectExactly(30);

    const about = (level: string, text: string) => lines.filter((l) => l.level === level && l.msg.includes(text));
    expect(about('info', 'another member owns now')).toHaveLength(1);
    expect(about('info', 'another member owns now')[0].fields).toMatchObject({ partition: 0, fenced: [other] });
    expect(about('info', 'a write ordered before it failed')).toHaveLength(1);
    expect(about('warn', 'stale generation')).toHaveLength(1);
    // Of the bus's own lines (not the Kafka client's), only the plain failure is an error.
    const errors = lines.filter((l) => l.level === 'error' && !l.msg.startsWith('kafkajs:'));
    expect(errors).toHaveLength(1);
    expect(errors[0].fields).toMatchObject({ error: expect.stringContaining('database unavailable') });
    const fenced = await registry.getSingleMetric('dropscope_kafka_batches_fenced_total')?.get();
    expect(fenced?.values.reduce((n, v) => n + v.value, 0)).toBe(1);
  }, 60_000);
});
