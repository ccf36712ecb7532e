/**
 * Aggregator members for the Kafka fault tests (not a spec file): each is a real KafkaFlowBus in a
 * consumer group, the real Aggregator and the real PostgreSQL roll-up writer and checkpoint store
 * (claims and fencing included), wired as the service wires them. A member's writes can be held
 * in flight (a stalled database write, as seen by that member only).
 */
import { afterAll, afterEach, beforeAll } from '@jest/globals';
import { Registry } from 'prom-client';
import { Aggregator } from '../../src/aggregator/aggregator.js';
import { AggregatorMetrics } from '../../src/aggregator/aggregator.metrics.js';
import { reportedOnlyAttributor } from '../../src/aggregator/attribution.port.js';
import type { BatchRollup } from '../../src/aggregator/edge-rollup.js';
import type { PreparedWrite, RollupWriter } from '../../src/aggregator/rollup-writer.port.js';
import type { DeadLetter, StreamCheckpoint } from '../../src/bus/flow-bus.js';
import { KafkaFlowBus, type KafkaFlowBusOptions } from '../../src/bus/kafka-flow.bus.js';
import { silentLogger } from '../../src/common/logger.js';
import type { FlowRecord } from '../../src/flow/flow-record.js';
import { openDatabase, type Database } from '../../src/storage/database.js';
import { postgresWriteRepositories } from '../../src/storage/repositories.js';
import { startKafkaMockCluster, type KafkaMockCluster } from '../support/kafka-mock-cluster.js';
import { restartingConsumer } from '../support/restarting-consumer.js';
import { createTestDatabase, queryRows } from '../support/test-database.js';
import { FAST_GROUP, flow, unique } from '../kafka/kafka-test-utils.js';

/** A batch write held before its transaction starts, until released. */
export interface HeldWrite {
  checkpoints: StreamCheckpoint[];
  release(): void;
  /** Settles when the held write has settled (fulfilled: stored; rejected: refused or failed). */
  settled: Promise<'stored' | Error>;
}

/** Passes writes through; once armed, holds the next write that carries flows. */
class HoldingWriter implements RollupWriter {
  armed = false;
  held?: HeldWrite;
  constructor(private readonly inner: RollupWriter) {}

  prepare(batch: BatchRollup, checkpoints: StreamCheckpoint[], deadLetters: DeadLetter[]): PreparedWrite {
    const prepared = this.inner.prepare(batch, checkpoints, deadLetters);
    if (!this.armed || batch.flows === 0) return prepared;
    this.armed = false;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const commit = gate.then(() => prepared.commit());
    this.held = {
      checkpoints,
      release,
      settled: commit.then(
        () => 'stored' as const,
        (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
      ),
    };
    return { commit: () => commit };
  }
}

export interface Member {
  readonly name: string;
  /** The member's current bus (a new one after a restart, see `startMember`). */
  readonly bus: KafkaFlowBus;
  readonly registry: Registry;
  /** The write held when the member was started with `holdFirstWrite`. */
  held(): HeldWrite | undefined;
  /** Resolves when this member has joined the group (kafkajs' run() returns after the first join). */
  joined: Promise<void>;
  /** Fatal consumer errors (the member restarted after the mock broker's late-SyncGroup error). */
  readonly fatalErrors: Error[];
  close(): Promise<void>;
}

export interface MemberOptions {
  bootstrap: string;
  topic: string;
  dlqTopic: string;
  groupId: string;
  databaseUrl: string;
  maxBatch?: number;
  /** Hold the member's first write that carries flows (see HeldWrite). */
  holdFirstWrite?: boolean;
  bus?: Partial<KafkaFlowBusOptions>;
}

/**
 * Starts a member; it consumes at once (resolves before its first join completes: see `joined`).
 * After the mock broker's late-SyncGroup error the member restarts as its pod would (see
 * test/support/restarting-consumer.ts), on the same database, aggregator and registry.
 */
export async function startMember(name: string, o: MemberOptions): Promise<Member> {
  const db: Database = await openDatabase(
    // With a URL the data dir (where the embedded PostgreSQL would live) is never used.
    { url: o.databaseUrl, dataDir: '/nonexistent', poolSize: 4 },
    silentLogger,
  );
  const repos = postgresWriteRepositories(db.dataSource, silentLogger);
  const registry = new Registry();
  const writer = new HoldingWriter(repos.rollups);
  writer.armed = o.holdFirstWrite ?? false;
  // As `serve` builds a Kafka member: batches of partitions consumed at once share transactions.
  const metrics = new AggregatorMetrics(registry);
  const aggregator = new Aggregator(writer, reportedOnlyAttributor, metrics, silentLogger, undefined, undefined, true);
  const consumer = restartingConsumer(
    (onFatalError) =>
      new KafkaFlowBus({
        brokers: [o.bootstrap],
        topic: o.topic,
        dlqTopic: o.dlqTopic,
        clientId: name,
        ...FAST_GROUP,
        retryBackoffMs: 100,
        registry,
        ...o.bus,
        onFatalError,
      }),
    async (b) => {
      await aggregator.handle(b);
    },
    {
      groupId: o.groupId,
      loadCheckpoints: (s) => repos.checkpoints.loadMany(s),
      claimCheckpoints: (s) => repos.checkpoints.claim(s),
      maxBatch: o.maxBatch ?? 50,
    },
  );
  return {
    name,
    get bus() {
      return consumer.bus;
    },
    registry,
    held: () => writer.held,
    get joined() {
      return consumer.joined;
    },
    fatalErrors: consumer.fatalErrors,
    close: async () => {
      writer.held?.release();
      await consumer.close();
      await db.close();
    },
  };
}

/** The value of a counter or gauge sample in a registry (0 when absent). */
export async function sample(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const { values } = await m.get();
  const v = values.find((x) => Object.entries(labels).every(([k, l]) => String(x.labels[k]) === l));
  return v?.value ?? 0;
}

/** `n` flows from `from` on (FlowRecords with ids `flow-<i>`, every third one denied), stamped recently. */
export function recentFlows(from: number, n: number, now = Date.now()): FlowRecord[] {
  return Array.from({ length: n }, (_, k) => ({
    ...flow(from + k),
    time: new Date(now - ((from + k) % 600) * 1000).toISOString(),
  }));
}

/** Offsets covered by the stored Kafka positions (a claimed row without a position counts 0). */
export async function storedOffsets(url: string): Promise<number> {
  const rows = await queryRows<{ position: string | null }>(
    url,
    `SELECT position FROM stream_checkpoints WHERE stream LIKE 'kafka:%'`,
  );
  return rows.reduce((n, r) => n + Number(r.position ?? 0), 0);
}

/** Flows in the roll-ups; drop events and their distinct flow ids. */
export async function storedFlows(url: string): Promise<{ flows: number; events: number; eventIds: number }> {
  const [r] = await queryRows<{ flows: string }>(url, `SELECT coalesce(sum(count), 0) AS flows FROM edge_rollups`);
  const [e] = await queryRows<{ n: string; ids: string }>(
    url,
    `SELECT count(*) AS n, count(DISTINCT flow_id) AS ids FROM drop_events`,
  );
  return { flows: Number(r.flows), events: Number(e.n), eventIds: Number(e.ids) };
}

/**
 * The scaffold of a Kafka fault spec, with its jest hooks: one mock cluster for the file and, per
 * test, a topic of `partitions` (and its DLQ), a database, a producer and members of one group,
 * all closed after the test. `bus` options go to every member's bus.
 */
export function kafkaFaultFixture() {
  let kafka: KafkaMockCluster;
  const cleanup: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    kafka = await startKafkaMockCluster();
  });
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
  });
  afterAll(async () => {
    await kafka?.stop();
  });

  return async function setUp(partitions: number, bus: Partial<KafkaFlowBusOptions> = {}) {
    const topic = unique('flows');
    const dlqTopic = `${topic}.dlq`;
    await kafka.createTopic(topic, partitions);
    await kafka.createTopic(dlqTopic, 1);
    const db = await createTestDatabase();
    cleanup.push(() => db.drop());
    const producer = new KafkaFlowBus({ brokers: [kafka.bootstrap], topic, dlqTopic, logger: silentLogger });
    cleanup.push(() => producer.close());
    const groupId = unique('group');
    const now = Date.now();
    return {
      url: db.url,
      /** Publishes flow-<from>..flow-<from+n-1>. */
      publish: (from: number, n: number) => producer.publish({ records: recentFlows(from, n, now) }),
      member: async (name: string, holdFirstWrite = false): Promise<Member> => {
        const m = await startMember(name, {
          bootstrap: kafka.bootstrap,
          topic,
          dlqTopic,
          groupId,
          databaseUrl: db.url,
          holdFirstWrite,
          bus,
        });
        cleanup.push(() => m.close());
        return m;
      },
    };
  };
}
