import { afterAll, describe, expect, it } from '@jest/globals';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKafkaMockCluster, type KafkaMockCluster } from '../support/kafka-mock-cluster.js';
import { createTestDatabase } from '../support/test-database.js';
import { EVERY_EVENT } from '../support/cli.js';
import { until } from '../support/wait.js';
import { FAST_GROUP, unique } from '../kafka/kafka-test-utils.js';
import { flowLines, metricValue, startServe, storedTotals } from './fault-support.js';

/**
 * The Kafka broker bounced under ingest: `dropscope serve` (collector and aggregator roles, Kafka
 * bus) tails a Calico flow log while the mock cluster's only broker goes down (connections cut,
 * new ones refused; partitions and offsets kept) and comes back. The collector must hold its lines
 * and retry; the aggregator must resume; every line must be stored once. Each line holds 3 flows,
 * 1 packet and 7 bytes; even lines are denies.
 */
describe('fault: Kafka broker down and up again under ingest', () => {
  let kafka: KafkaMockCluster | undefined;
  const drops: Array<() => Promise<void>> = [];
  const dirs: string[] = [];
  afterAll(async () => {
    await kafka?.stop();
    for (const d of drops) await d();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('the collector retries, the aggregator resumes, nothing is lost or doubled', async () => {
    kafka = await startKafkaMockCluster();
    const topic = unique('flows');
    await kafka.createTopic(topic, 4);
    await kafka.createTopic(`${topic}.dlq`, 1);
    const db = await createTestDatabase();
    drops.push(() => db.drop());
    const dir = mkdtempSync(join(tmpdir(), 'ds-fault-kafka-'));
    dirs.push(dir);
    const log = join(dir, 'flows.log');
    const now = Math.floor(Date.now() / 1000);
    writeFileSync(log, flowLines(0, 20, now));

    const serve = await startServe({
      ...EVERY_EVENT,
      DATABASE_URL: db.url,
      CALICO_FLOWLOG_PATH: log,
      DROPSCOPE_ROLES: 'collector,aggregator',
      DROPSCOPE_DATA_DIR: dir,
      KAFKA_BROKERS: kafka.bootstrap,
      KAFKA_TOPIC: topic,
      KAFKA_DLQ_TOPIC: `${topic}.dlq`,
      KAFKA_GROUP_ID: unique('group'),
      KAFKA_CREATE_TOPICS: 'false',
      KAFKA_SESSION_TIMEOUT_MS: String(FAST_GROUP.sessionTimeout),
      KAFKA_HEARTBEAT_INTERVAL_MS: String(FAST_GROUP.heartbeatInterval),
    });
    try {
      await until('the first 20 lines stored', async () => (await storedTotals(db.url)).flows === 60, 30_000);

      await kafka.brokerDown(1);
      appendFileSync(log, flowLines(20, 20, now));
      await until(
        'a failed publish while the broker is down',
        async () => serve.output().includes('publishing flows failed'),
        30_000,
      );
      expect((await storedTotals(db.url)).flows).toBe(60);

      await kafka.brokerUp(1);
      await until('the outage lines stored', async () => (await storedTotals(db.url)).flows >= 120, 45_000);
      appendFileSync(log, flowLines(40, 10, now)); // still tailing after the bounce
      await until('the last lines stored', async () => (await storedTotals(db.url)).flows >= 150, 30_000);
      // Producer retries may have written a batch twice into Kafka; the flow-id window drops the copies.
      const duplicates = await metricValue(serve.port, 'dropscope_kafka_messages_consumed_total{outcome="duplicate"}');
      process.stdout.write(`[fault] broker bounce: ${duplicates} producer duplicates dropped\n`);
    } finally {
      serve.child.kill('SIGTERM');
    }
    expect((await serve.done).code).toBe(0);
    // After a clean stop the totals are final: 50 lines, 25 of them denies.
    expect(await storedTotals(db.url)).toEqual({ flows: 150, packets: 50, bytes: 350, events: 25, eventFlows: 75 });
  }, 120_000);
});
