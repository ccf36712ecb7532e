import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { openImportPipeline } from '../../src/app/composition.js';
import { KafkaFlowBus } from '../../src/bus/kafka-flow.bus.js';
import { silentLogger } from '../../src/common/logger.js';
import { loadConfig } from '../../src/config/config.js';
import { generateHubbleLines } from '../../src/synthetic/hubble-flow.generator.js';
import { runImport } from '../../src/ingest/import-runner.js';
import { collect, EVERY_EVENT, spawnCli, waitForOutput } from '../support/cli.js';
import { startKafkaMockCluster } from '../support/kafka-mock-cluster.js';
import { createTestDatabase, queryRows } from '../support/test-database.js';
import { until } from '../support/wait.js';
import { FAST_GROUP, flow, unique } from '../kafka/kafka-test-utils.js';

/** Everything the aggregator stored, in a comparable form. */
async function snapshot(url: string) {
  const rollups = await queryRows<{ bucket: Date; edge_key: string; count: string; packets: string }>(
    url,
    `SELECT bucket, edge_key, count, packets FROM edge_rollups ORDER BY bucket, edge_key`,
  );
  const events = await queryRows<{ n: string; distinct_ids: string; flows: string }>(
    url,
    `SELECT count(*) AS n, count(DISTINCT flow_id) AS distinct_ids, coalesce(sum(count), 0) AS flows FROM drop_events`,
  );
  return { rollups: rollups.map((r) => `${r.bucket.toISOString()} ${r.edge_key} ${r.count}`), events: events[0] };
}

async function totalFlows(url: string): Promise<number> {
  const [r] = await queryRows<{ n: string | null }>(url, `SELECT sum(count) AS n FROM edge_rollups`).catch(() => [
    { n: null },
  ]);
  return Number(r?.n ?? 0);
}

describe('exactly-once into PostgreSQL across an aggregator crash', () => {
  const dbs: Array<{ drop(): Promise<void> }> = [];
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dbs) await d.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('embedded mode: an import killed mid-stream and re-run stores exactly what an uninterrupted import stores', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ds-crash-'));
    dirs.push(dir);
    const file = join(dir, 'flows.jsonl');
    const lines: string[] = [];
    for (const l of generateHubbleLines({ count: 150_000, seed: 7, policyDropShare: 0.2, otherDropShare: 0.02 }))
      lines.push(l);
    writeFileSync(file, `${lines.join('\n')}\n`);

    // Ground truth: the same file imported without interruption.
    const truthDb = await createTestDatabase();
    dbs.push(truthDb);
    const pipeline = await openImportPipeline(
      loadConfig({ DATABASE_URL: truthDb.url, DROPSCOPE_DATA_DIR: dir, ...EVERY_EVENT }),
      silentLogger,
      new Registry(),
    );
    const truthSummary = await runImport({ pipeline, files: [file], source: 'hubble', cluster: 'default' });
    await pipeline.close();
    const truth = await snapshot(truthDb.url);
    expect(truthSummary.flows).toBeGreaterThan(100_000);
    expect(Number(truth.events.n)).toBeGreaterThan(10_000);

    const crashDb = await createTestDatabase();
    dbs.push(crashDb);
    const env = { DATABASE_URL: crashDb.url, LOG_LEVEL: 'warn', ...EVERY_EVENT };
    // The crashed and resumed imports map in worker threads; the ground truth above on one thread.
    const first = spawnCli(['import', '--source', 'hubble', '--no-progress', '--threads', '2', file], env);
    const firstDone = collect(first);
    // Kill it once some, but not all, of the file is stored.
    await until('a partial import', async () => (await totalFlows(crashDb.url)) > 10_000, 60_000);
    first.kill('SIGKILL');
    const killed = await firstDone;
    expect(killed.signal).toBe('SIGKILL');
    const partial = await totalFlows(crashDb.url);
    expect(partial).toBeLessThan(truthSummary.flows);

    const second = await collect(
      spawnCli(['import', '--source', 'hubble', '--no-progress', '--threads', '2', file], env),
    );
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/resumed at byte \d+/);
    const after = await snapshot(crashDb.url);
    expect(after.events).toEqual(truth.events);
    expect(after.events.n).toBe(after.events.distinct_ids); // no drop stored twice
    expect(after.rollups).toEqual(truth.rollups);

    // A third run of a finished file adds nothing.
    const third = await collect(
      spawnCli(['import', '--source', 'hubble', '--no-progress', '--threads', '2', file], env),
    );
    expect(third.code).toBe(0);
    expect(await snapshot(crashDb.url)).toEqual(truth);
  }, 240_000);

  describe('Kafka mode', () => {
    let kafka: Awaited<ReturnType<typeof startKafkaMockCluster>>;
    beforeAll(async () => {
      kafka = await startKafkaMockCluster();
    });
    afterAll(async () => {
      await kafka?.stop();
    });

    it('an aggregator killed mid-stream and restarted stores every flow exactly once', async () => {
      const topic = unique('flows');
      const dlq = unique('dlq');
      await kafka.createTopic(topic, 4);
      await kafka.createTopic(dlq, 1);
      const N = 30_000;
      const now = Date.now();
      const producer = new KafkaFlowBus({ brokers: [kafka.bootstrap], topic, dlqTopic: dlq, logger: silentLogger });
      for (let i = 0; i < N; i += 1000) {
        const records = [];
        // Recent times: old ones would fall to retention when the aggregator starts.
        for (let j = i; j < i + 1000; j++)
          records.push({ ...flow(j), time: new Date(now - (j % 600) * 1000).toISOString() });
        await producer.publish({ records });
      }
      await producer.close();
      const denied = Array.from({ length: N }, (_, i) => i).filter((i) => i % 3 === 0).length;

      const db = await createTestDatabase();
      dbs.push(db);
      const env = {
        ...EVERY_EVENT,
        DATABASE_URL: db.url,
        KAFKA_BROKERS: kafka.bootstrap,
        KAFKA_TOPIC: topic,
        KAFKA_DLQ_TOPIC: dlq,
        KAFKA_GROUP_ID: unique('group'),
        KAFKA_CREATE_TOPICS: 'false',
        KAFKA_SESSION_TIMEOUT_MS: String(FAST_GROUP.sessionTimeout),
        KAFKA_HEARTBEAT_INTERVAL_MS: String(FAST_GROUP.heartbeatInterval),
        DROPSCOPE_ROLES: 'aggregator',
        AGGREGATOR_MAX_BATCH: '250',
        PORT: '0',
        LOG_LEVEL: 'info',
      };
      const first = spawnCli(['serve'], env);
      const firstDone = collect(first);
      await waitForOutput(first, /"msg":"dropscope started"/, 60_000);
      await until('a partial run', async () => (await totalFlows(db.url)) > 2_000, 90_000);
      first.kill('SIGKILL');
      await firstDone;
      const partial = await totalFlows(db.url);
      expect(partial).toBeLessThan(N);

      const second = spawnCli(['serve'], env);
      const secondDone = collect(second);
      let out = '';
      second.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      second.stderr?.on('data', (d: Buffer) => (out += d.toString()));
      try {
        // The topic holds N messages: once the stored positions cover all N offsets, the consumer
        // has nothing left to deliver, and the totals (committed with the positions) are final.
        const storedOffsets = async () =>
          (await queryRows<{ position: string }>(db.url, `SELECT position FROM stream_checkpoints`)).reduce(
            (n, c) => n + Number(c.position),
            0,
          );
        await until('every offset of the topic stored', async () => (await storedOffsets()) >= N, 120_000).catch(
          async (e) => {
            throw new Error(
              `${(e as Error).message}: ${await storedOffsets()} of ${N}; aggregator log:\n${out.slice(-3000)}`,
            );
          },
        );
        expect(await totalFlows(db.url)).toBe(N);
        const [ev] = await queryRows<{ n: string; ids: string }>(
          db.url,
          `SELECT count(*) AS n, count(DISTINCT flow_id) AS ids FROM drop_events`,
        );
        expect(Number(ev.n)).toBe(denied);
        expect(Number(ev.ids)).toBe(denied);
        const cps = await queryRows<{ stream: string; position: string }>(
          db.url,
          `SELECT stream, position FROM stream_checkpoints ORDER BY stream`,
        );
        expect(cps.map((c) => c.stream)).toEqual([0, 1, 2, 3].map((p) => `kafka:${topic}:${p}`));
        expect(cps.reduce((n, c) => n + Number(c.position), 0)).toBe(N);
      } finally {
        second.kill('SIGTERM');
        expect((await secondDone).code).toBe(0);
      }
    }, 300_000);
  });
});
