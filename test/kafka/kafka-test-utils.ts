/** Shared pieces of the Kafka bus tests (not a spec file). */
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import type { FlowRecord } from '../../src/flow/flow-record.js';

/**
 * Fast group timings for the mock cluster. rebalanceTimeout bounds how long a join waits for a
 * member that is slow to rejoin (kafkajs' default is a minute), so a stuck rebalance resolves fast.
 */
export const FAST_GROUP = {
  sessionTimeout: 6000,
  heartbeatInterval: 500,
  rebalanceTimeout: 12_000,
  maxWaitTimeInMs: 200,
} as const;

let seq = 0;
/** A unique name per test, so tests sharing one mock cluster never see each other's data. */
export function unique(prefix: string): string {
  seq += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${seq}`;
}

/** A valid-looking FlowRecord; `i` spreads records over many edges (keys) and partitions. */
export function flow(i: number, cluster = 'test'): FlowRecord {
  return {
    schema: 1,
    id: `flow-${i}`,
    source: 'hubble',
    cluster,
    time: new Date(Date.UTC(2025, 0, 1, 0, 0, i % 60)).toISOString(),
    verdict: i % 3 === 0 ? 'denied' : 'allowed',
    direction: 'ingress',
    src: { kind: 'pod', namespace: `ns-${i % 7}`, workload: { kind: 'Deployment', name: `client-${i % 13}` } },
    dst: { kind: 'pod', namespace: 'shop', workload: { kind: 'Deployment', name: `api-${i % 5}` } },
    protocol: 'TCP',
    dstPort: 8000 + (i % 11),
    count: 1,
    policies: [],
  };
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function rawKafka(bootstrap: string): Kafka {
  return new Kafka({ brokers: [bootstrap], clientId: 'test-raw', logLevel: logLevel.NOTHING });
}

export interface RawMessage {
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

function toRaw(partition: number, m: KafkaMessage): RawMessage {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    if (v !== undefined) headers[k] = Array.isArray(v) ? String(v[0]) : String(v);
  }
  return {
    partition,
    offset: m.offset,
    key: m.key === null ? null : m.key.toString('utf8'),
    value: m.value === null ? null : m.value.toString('utf8'),
    headers,
  };
}

/** Reads `count` messages of a topic from the beginning with a plain kafkajs consumer (own group). */
export async function readTopic(
  bootstrap: string,
  topic: string,
  count: number,
  timeoutMs = 30_000,
): Promise<RawMessage[]> {
  const consumer = rawKafka(bootstrap).consumer({ groupId: unique('reader'), ...FAST_GROUP });
  const out: RawMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        out.push(toRaw(partition, message));
      },
    });
    await waitFor(`${count} messages on ${topic}`, () => out.length >= count, timeoutMs);
  } finally {
    await consumer.disconnect();
  }
  return out;
}
