import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import {
  CompressionTypes,
  Kafka,
  logLevel as KafkaLogLevel,
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type KafkaConfig,
  type KafkaMessage,
  type LogEntry,
  type Message,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import { Counter, Gauge, Registry } from 'prom-client';
import { abortableSleep, backoffDelay } from '../common/backoff.js';
import type { Logger } from '../common/logger.js';
import { silentLogger } from '../common/logger.js';
import { aggregationKey } from '../flow/aggregation-key.js';
import type { FlowRecord } from '../flow/flow-record.js';
import { metric } from '../metrics/metrics.registry.js';
import { FlowIdChunk, FlowIdWindow } from './flow-id-window.js';
import { keyHashPartitioner } from './key-partitioner.js';
import {
  DLQ_TOPIC,
  FLOWS_TOPIC,
  EarlierWriteFailedError,
  StaleGenerationError,
  truncateRaw,
  type BatchHandler,
  type ConsumedBatch,
  type ConsumeOptions,
  type DeadLetter,
  type FlowBus,
  type PublishBatch,
  type StreamCheckpoint,
} from './flow-bus.js';

/**
 * The Kafka implementation of the bus (kafkajs). See docs/KAFKA.md.
 *
 * Delivery guarantees:
 * - Collectors → Kafka: at least once. `publish` resolves after the broker acknowledged every
 *   message (acks = -1, idempotent producer). A collector stores its own source positions only
 *   after that (the aggregator runs in another process and cannot commit them in its transaction);
 *   a crash in between re-publishes a few records, which Kafka then holds twice.
 * - Kafka → PostgreSQL: exactly once. Each consumed batch carries `kafka:<topic>:<partition>` with
 *   the next offset to read; the aggregator stores it in the same transaction as the roll-ups. On
 *   partition assignment the bus asks `loadCheckpoints` for the stored positions, seeks there, and
 *   drops anything fetched below them, so Kafka's own committed offsets (only a hint for lag tools)
 *   never cause a redelivery into the database.
 * - Fencing: with ConsumeOptions.claimCheckpoints the bus claims its partitions at each assignment
 *   and tags every checkpoint with the claimed generation; a member that lost a partition while a
 *   batch was in flight (a zombie) has that batch refused by the store (StaleGenerationError).
 * - Producer duplicates (the same flow published twice) are dropped by flow id within a window of
 *   `dedupWindow` offsets per partition (FlowIdWindow).
 */

export type KafkaSaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

export interface KafkaSaslOptions {
  mechanism: KafkaSaslMechanism;
  username: string;
  /** Never logged. */
  password: string;
}

export interface KafkaTlsOptions {
  /** PEM contents; or give the *File variants and the bus reads them. */
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** SNI / certificate name to verify, when it differs from the broker host. */
  servername?: string;
  /** Default true. */
  rejectUnauthorized?: boolean;
}

export type KafkaCompression = 'gzip' | 'none';

export interface KafkaFlowBusOptions {
  brokers: string[];
  /** Default `dropscope`. */
  clientId?: string;
  /** Default FLOWS_TOPIC (`dropscope.flows.v1`). */
  topic?: string;
  /** Default DLQ_TOPIC (`dropscope.flows.dlq`). */
  dlqTopic?: string;
  ssl?: boolean | KafkaTlsOptions;
  sasl?: KafkaSaslOptions;
  /** Default gzip. */
  compression?: KafkaCompression;
  /** Create the topics on connect (admin CreateTopics); failures are warnings. Default false. */
  createTopics?: boolean;
  /** For createTopics. Default 12. */
  numPartitions?: number;
  /** For createTopics. Default -1 (the broker's default.replication.factor). */
  replicationFactor?: number;
  /** Idempotent producer (needs acks -1, which the bus always uses). Default true. */
  idempotent?: boolean;
  /** A publish larger than this (uncompressed bytes of values) is sent in several requests. Default 900 KiB. */
  maxBytesPerSend?: number;
  /** Consumer group used when ConsumeOptions.groupId is empty. Default `dropscope-aggregator`. */
  groupId?: string;
  /** Consumer session timeout (ms). Default 30000 (tests: 6000). */
  sessionTimeout?: number;
  /** Consumer heartbeat interval (ms). Default 3000 (tests: 500). */
  heartbeatInterval?: number;
  /** Default: sessionTimeout * 2, at least 60000. */
  rebalanceTimeout?: number;
  /** Longest a fetch waits on the broker for data (also bounds how long close() waits). Default 5000. */
  maxWaitTimeInMs?: number;
  /**
   * Partitions whose batches run concurrently in one consumer. Default 8. The aggregator stores
   * batches that meet while a write is in flight in one transaction (group commit), so a member
   * with several partitions writes fewer, larger transactions.
   */
  partitionsConsumedConcurrently?: number;
  /** Where a partition with no stored position starts when Kafka has no committed offset either. Default true (earliest). */
  fromBeginning?: boolean;
  /**
   * Producer-duplicate window: a message whose flow id already occurs in the previous
   * `dedupWindow` offsets of its partition is dropped (counted as `duplicate`). On assignment the
   * bus re-reads that many offsets below the stored position to refill it. 0 turns it off.
   * Default 10000.
   */
  dedupWindow?: number;
  /** Commit consumed offsets to Kafka after the handler succeeded (a hint for lag tools only). Default true. */
  commitOffsetsToKafka?: boolean;
  /** First delay before re-delivering a batch whose handler failed; doubles up to 30 s, with jitter (half to the full delay). Default 1000. */
  retryBackoffMs?: number;
  /** Kafka connection timeout (ms). Default 10000. */
  connectionTimeout?: number;
  /** Kafka request timeout (ms). Default 30000. */
  requestTimeout?: number;
  /**
   * Unparseable messages always go to the DLQ topic; also pass them in ConsumedBatch.deadLetters so
   * the aggregator stores and counts them with the batch. Default true.
   */
  deadLettersInBatch?: boolean;
  /** Called after the broker acknowledged a publish that carried checkpoints (collectors store them). */
  onPublished?: (checkpoints: StreamCheckpoint[]) => Promise<void>;
  /** Called when the consumer crashed and kafkajs will not restart it (the service should exit). */
  onFatalError?: (error: Error) => void;
  logger?: Logger;
  /** Metrics registry; metrics already registered under the same names are reused. */
  registry?: Registry;
}

/** The stream name of a Kafka partition in checkpoints: `kafka:<topic>:<partition>`. */
export function kafkaStream(topic: string, partition: number): string {
  return `kafka:${topic}:${partition}`;
}

const SCHEMA_HEADER = 'schema';
/** The FlowRecord id, so a window refill need not parse the value. */
const ID_HEADER = 'flow-id';
const SCHEMA_VERSION = '1';
const MAX_RETRY_BACKOFF_MS = 30_000;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The aggregation key when the record looks like a FlowRecord, else a stable fallback. */
export function messageKey(record: unknown, value: string): string {
  if (
    isObject(record) &&
    typeof record.cluster === 'string' &&
    typeof record.protocol === 'string' &&
    isObject(record.src) &&
    isObject(record.dst)
  ) {
    try {
      return aggregationKey(record as unknown as FlowRecord);
    } catch {
      // fall through to the fallback key
    }
  }
  return `unkeyed:${createHash('sha1').update(value).digest('hex').slice(0, 16)}`;
}

function readPem(
  value: string | Buffer | undefined,
  file: string | undefined,
  what: string,
): string | Buffer | undefined {
  if (value !== undefined) return value;
  if (file === undefined || file === '') return undefined;
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`cannot read Kafka TLS ${what} file ${file}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  }
}

/** Turns the bus TLS options into node TLS options (reads the *File paths). */
export function kafkaTlsConfig(ssl: boolean | KafkaTlsOptions | undefined): ConnectionOptions | boolean | undefined {
  if (ssl === undefined || typeof ssl === 'boolean') return ssl;
  const out: ConnectionOptions = { rejectUnauthorized: ssl.rejectUnauthorized ?? true };
  const ca = readPem(ssl.ca, ssl.caFile, 'CA');
  const cert = readPem(ssl.cert, ssl.certFile, 'certificate');
  const key = readPem(ssl.key, ssl.keyFile, 'key');
  if (ca !== undefined) out.ca = ca;
  if (cert !== undefined) out.cert = cert;
  if (key !== undefined) out.key = key;
  if (ssl.servername) out.servername = ssl.servername;
  return out;
}

function kafkaSasl(sasl: KafkaSaslOptions | undefined): SASLOptions | undefined {
  if (!sasl) return undefined;
  switch (sasl.mechanism) {
    case 'plain':
      return { mechanism: 'plain', username: sasl.username, password: sasl.password };
    case 'scram-sha-256':
      return { mechanism: 'scram-sha-256', username: sasl.username, password: sasl.password };
    case 'scram-sha-512':
      return { mechanism: 'scram-sha-512', username: sasl.username, password: sasl.password };
    default: {
      const m: never = sasl.mechanism;
      throw new Error(`unsupported Kafka SASL mechanism ${String(m)} (plain, scram-sha-256, scram-sha-512)`);
    }
  }
}

/**
 * Group rebalances are routine (a member joined, left or was slow), yet kafkajs reports each one at
 * error level from several places ("The group is rebalancing, re-joining", heartbeat and commit
 * responses): log them at info so errors keep meaning something is wrong.
 */
export function isRebalanceNotice(message: string, fields: Record<string, unknown>): boolean {
  const text = `${message} ${typeof fields.error === 'string' ? fields.error : ''}`;
  return fields.type === 'REBALANCE_IN_PROGRESS' || /group is rebalancing/i.test(text);
}

export function kafkaLogCreator(log: Logger): KafkaConfig['logCreator'] {
  return () =>
    ({ namespace, level, log: entry }: LogEntry) => {
      const { message, timestamp: _t, logger: _l, ...rest } = entry;
      const fields: Record<string, unknown> = { namespace, ...rest };
      // kafkajs never logs SASL passwords, but drop anything that looks like one regardless.
      delete fields.password;
      delete fields.sasl;
      const msg = `kafkajs: ${message}`;
      if (level <= KafkaLogLevel.WARN && isRebalanceNotice(message, fields)) log.info(msg, fields);
      else if (level === KafkaLogLevel.ERROR) log.error(msg, fields);
      else if (level === KafkaLogLevel.WARN) log.warn(msg, fields);
      else if (level === KafkaLogLevel.INFO) log.info(msg, fields);
      else log.debug(msg, fields);
    };
}

/** Errors meaning "this cluster will not give us a producer id", as opposed to "unreachable right now". */
function idempotenceUnavailable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if (e.name === 'KafkaJSBrokerNotFound' || e.name === 'KafkaJSNotImplemented') return true;
  const type = (e as Error & { type?: unknown }).type;
  return (
    typeof type === 'string' &&
    [
      'UNSUPPORTED_VERSION',
      'CLUSTER_AUTHORIZATION_FAILED',
      'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
      'INVALID_REQUEST',
    ].includes(type)
  );
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Compares Kafka offsets (decimal strings, int64). */
function offsetLess(a: string, b: string): boolean {
  return BigInt(a) < BigInt(b);
}

function nextOffset(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}

interface AssignmentState {
  /** Counts GROUP_JOINs; a load for an older generation is ignored. */
  generation: number;
  partitions: number[];
  ready: Promise<void>;
  failed: boolean;
}

/** Interpretation of one fetched message. */
type Parsed = { ok: true; record: unknown } | { ok: false; letter: DeadLetter };

function headerText(message: KafkaMessage, name: string): string | undefined {
  const h = message.headers?.[name];
  return h === undefined ? undefined : Array.isArray(h) ? String(h[0]) : String(h);
}

/** The flow id of a parsed record, if it has one. */
function recordId(record: unknown): string | undefined {
  return isObject(record) && typeof record.id === 'string' && record.id !== '' ? record.id : undefined;
}

export class KafkaFlowBus implements FlowBus {
  readonly kind = 'kafka' as const;
  readonly topic: string;
  readonly dlqTopic: string;
  private readonly kafka: Kafka;
  private readonly log: Logger;
  private readonly compression: CompressionTypes;
  private producer?: Producer;
  private producerConnecting?: Promise<Producer>;
  private consumer?: Consumer;
  private topicsEnsured?: Promise<void>;
  private closed = false;
  /**
   * Dead-letter lists of batches already sent to the DLQ topic: a publisher retrying a batch whose
   * records or checkpoints failed passes the same list again, and must not write them twice.
   */
  private readonly lettersSent = new WeakSet<DeadLetter[]>();
  private closing?: Promise<void>;
  /** Aborted by close(): cuts retry sleeps short. */
  private readonly stopping = new AbortController();
  /** Consecutive handler failures, for the retry backoff. */
  private handlerFailures = 0;

  /** Per partition: the next offset the database expects (records below it are already stored). */
  private readonly floors = new Map<number, string>();
  /** Per partition: the generation claimed at assignment, put on every checkpoint (fencing). */
  private readonly generations = new Map<number, number>();
  /** Per partition: flow ids of the last dedupWindow offsets below the floor. */
  private readonly windows = new Map<number, FlowIdWindow>();
  private readonly dedupWindow: number;
  private assignment: AssignmentState = { generation: 0, partitions: [], ready: Promise.resolve(), failed: false };
  private readonly assignmentListeners = new Set<(partitions: number[]) => void>();

  private readonly produced: Counter<string>;
  private readonly consumed: Counter<string>;
  private readonly lag: Gauge<string>;
  private readonly fenced: Counter<string>;

  constructor(private readonly options: KafkaFlowBusOptions) {
    if (!options.brokers.length) throw new Error('KafkaFlowBus needs at least one broker');
    this.dedupWindow = Math.max(0, Math.floor(options.dedupWindow ?? 10_000));
    this.topic = options.topic ?? FLOWS_TOPIC;
    this.dlqTopic = options.dlqTopic ?? DLQ_TOPIC;
    this.log = (options.logger ?? silentLogger).child({ component: 'kafka-bus' });
    const compression = options.compression ?? 'gzip';
    if (compression !== 'gzip' && compression !== 'none') {
      throw new Error(`unsupported Kafka compression ${String(compression)} (gzip, none)`);
    }
    this.compression = compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
    this.kafka = new Kafka({
      brokers: options.brokers,
      clientId: options.clientId ?? 'dropscope',
      ssl: kafkaTlsConfig(options.ssl),
      sasl: kafkaSasl(options.sasl),
      connectionTimeout: options.connectionTimeout ?? 10_000,
      requestTimeout: options.requestTimeout ?? 30_000,
      logLevel: KafkaLogLevel.WARN,
      logCreator: kafkaLogCreator(this.log),
    });
    this.log.info('kafka bus configured', {
      brokers: options.brokers,
      clientId: options.clientId ?? 'dropscope',
      topic: this.topic,
      dlqTopic: this.dlqTopic,
      tls: options.ssl !== undefined && options.ssl !== false,
      saslMechanism: options.sasl?.mechanism,
      saslUsername: options.sasl?.username,
      compression,
    });
    // Without a registry the metrics still count, in a registry nobody scrapes.
    const registry = options.registry ?? new Registry();
    const registers = [registry];
    this.produced = metric(
      registry,
      'dropscope_kafka_messages_produced_total',
      () =>
        new Counter({
          name: 'dropscope_kafka_messages_produced_total',
          help: 'Messages acknowledged by Kafka, by topic (flows or dead letters).',
          labelNames: ['topic'],
          registers,
        }),
    );
    this.consumed = metric(
      registry,
      'dropscope_kafka_messages_consumed_total',
      () =>
        new Counter({
          name: 'dropscope_kafka_messages_consumed_total',
          help: 'Messages fetched from Kafka, by outcome: delivered to the aggregator, dead_letter (unparseable), skipped (already stored), duplicate (a flow id seen in the window).',
          labelNames: ['outcome'],
          registers,
        }),
    );
    this.lag = metric(
      registry,
      'dropscope_kafka_consumer_lag',
      () =>
        new Gauge({
          name: 'dropscope_kafka_consumer_lag',
          help: 'Messages in the flows topic not yet stored, per partition (high watermark - next offset).',
          labelNames: ['partition'],
          registers,
        }),
    );
    this.fenced = metric(
      registry,
      'dropscope_kafka_batches_fenced_total',
      () =>
        new Counter({
          name: 'dropscope_kafka_batches_fenced_total',
          help: 'Batches the store refused because another member claimed their partition meanwhile (a stale generation); nothing of them was stored.',
          registers,
        }),
    );
  }

  // ---------------------------------------------------------------- producing

  async publish(batch: PublishBatch): Promise<void> {
    if (this.closed) throw new Error('bus is closed');
    if (batch.prefolded?.length) throw new Error('folded segments travel only on the in-process bus');
    // Collector-side dead letters (input it could not map) go to the DLQ topic.
    const letters = batch.deadLetters;
    if (letters?.length && !this.lettersSent.has(letters)) {
      await this.publishDeadLetters(letters);
      this.lettersSent.add(letters);
    }
    if (batch.records.length > 0) {
      const messages: Message[] = batch.records.map((record) => {
        const value = JSON.stringify(record) ?? 'null';
        const id = recordId(record);
        const headers: Record<string, string> = { [SCHEMA_HEADER]: SCHEMA_VERSION };
        if (id !== undefined) headers[ID_HEADER] = id;
        return { key: messageKey(record, value), value, headers };
      });
      await this.send(this.topic, messages);
    }
    if (batch.checkpoints?.length && this.options.onPublished) await this.options.onPublished(batch.checkpoints);
  }

  async publishDeadLetters(letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    if (this.closed) throw new Error('bus is closed');
    const time = new Date().toISOString();
    const messages: Message[] = letters.map((l) => ({
      key: l.origin,
      value: JSON.stringify({ raw: truncateRaw(l.raw), reason: l.reason, origin: l.origin, time }),
      headers: { [SCHEMA_HEADER]: SCHEMA_VERSION },
    }));
    await this.send(this.dlqTopic, messages);
  }

  /** One producer request per publish unless it exceeds maxBytesPerSend; resolves once acked by all in-sync replicas. */
  private async send(topic: string, messages: Message[]): Promise<void> {
    const producer = await this.connectProducer();
    const limit = this.options.maxBytesPerSend ?? 900 * 1024;
    let start = 0;
    while (start < messages.length) {
      let end = start;
      let bytes = 0;
      while (end < messages.length) {
        const m = messages[end];
        const size = (typeof m.value === 'string' ? Buffer.byteLength(m.value) : (m.value?.length ?? 0)) + 64;
        if (end > start && bytes + size > limit) break;
        bytes += size;
        end++;
      }
      await producer.send({ topic, messages: messages.slice(start, end), acks: -1, compression: this.compression });
      this.produced.inc({ topic }, end - start);
      start = end;
    }
  }

  private connectProducer(): Promise<Producer> {
    if (this.producer) return Promise.resolve(this.producer);
    this.producerConnecting ??= (async () => {
      await this.ensureTopics();
      const wanted = this.options.idempotent ?? true;
      try {
        return await this.startProducer(wanted);
      } catch (e) {
        if (!wanted || !idempotenceUnavailable(e)) {
          this.producerConnecting = undefined;
          throw e;
        }
        // Brokers without InitProducerId for us (old brokers, no IdempotentWrite ACL, librdkafka's mock):
        // acks=-1 alone still gives at-least-once; a retried send may then store a message twice.
        this.log.warn('idempotent kafka producer unavailable; falling back to a plain producer (acks=-1)', {
          error: errorText(e),
        });
        try {
          return await this.startProducer(false);
        } catch (e2) {
          this.producerConnecting = undefined;
          throw e2;
        }
      }
    })();
    return this.producerConnecting;
  }

  private async startProducer(idempotent: boolean): Promise<Producer> {
    const producer = this.kafka.producer({
      // The Java client's partitioning, as kafkajs' DefaultPartitioner, computed faster.
      createPartitioner: keyHashPartitioner,
      idempotent,
      maxInFlightRequests: idempotent ? 1 : undefined,
      allowAutoTopicCreation: true,
    });
    try {
      await producer.connect();
    } catch (e) {
      await producer.disconnect().catch(() => undefined);
      throw e;
    }
    this.producer = producer;
    return producer;
  }

  /** admin.createTopics when configured; "already exists" and "not supported" are warnings, not failures. */
  private ensureTopics(): Promise<void> {
    if (!this.options.createTopics) return Promise.resolve();
    this.topicsEnsured ??= (async () => {
      let admin: Admin | undefined;
      try {
        admin = this.kafka.admin();
        await admin.connect();
        const created = await admin.createTopics({
          waitForLeaders: true,
          topics: [this.topic, this.dlqTopic].map((topic) => ({
            topic,
            numPartitions: this.options.numPartitions ?? 12,
            replicationFactor: this.options.replicationFactor ?? -1,
          })),
        });
        this.log.info(created ? 'kafka topics created' : 'kafka topics already exist', {
          topics: [this.topic, this.dlqTopic],
        });
      } catch (e) {
        this.log.warn('could not create kafka topics; assuming they exist or are auto-created', {
          topics: [this.topic, this.dlqTopic],
          error: errorText(e),
        });
      } finally {
        await admin?.disconnect().catch(() => undefined);
      }
    })();
    return this.topicsEnsured;
  }

  // ---------------------------------------------------------------- consuming

  /** Partitions of the flows topic currently assigned to this member (after the last GROUP_JOIN). */
  assignedPartitions(): number[] {
    return [...this.assignment.partitions];
  }

  /** Called with this member's partitions after each group join (rebalance). Returns an unsubscribe. */
  onAssignment(listener: (partitions: number[]) => void): () => void {
    this.assignmentListeners.add(listener);
    return () => this.assignmentListeners.delete(listener);
  }

  async consume(handler: BatchHandler, options: ConsumeOptions): Promise<void> {
    if (this.closed) throw new Error('bus is closed');
    if (this.consumer) throw new Error('this KafkaFlowBus already consumes; create another bus for another member');
    await this.ensureTopics();
    const sessionTimeout = this.options.sessionTimeout ?? 30_000;
    const consumer = this.kafka.consumer({
      groupId: options.groupId || this.options.groupId || 'dropscope-aggregator',
      sessionTimeout,
      heartbeatInterval: this.options.heartbeatInterval ?? 3000,
      rebalanceTimeout: this.options.rebalanceTimeout ?? Math.max(60_000, sessionTimeout * 2),
      allowAutoTopicCreation: true,
      maxWaitTimeInMs: this.options.maxWaitTimeInMs ?? 5000,
      retry: { retries: 8 },
    });
    this.consumer = consumer;
    const maxBatch = Math.max(1, options.maxBatch ?? 5000);

    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      const partitions = [...(event.payload.memberAssignment[this.topic] ?? [])].sort((a, b) => a - b);
      this.onGroupJoin(consumer, partitions, options);
    });
    consumer.on(consumer.events.CRASH, (event) => {
      const { error, restart } = event.payload;
      if (restart) {
        this.log.warn('kafka consumer crashed; kafkajs restarts it', { error: errorText(error) });
      } else if (!this.closed) {
        this.log.error('kafka consumer crashed and will not restart', { error: errorText(error) });
        this.options.onFatalError?.(error);
      }
    });

    await consumer.connect();
    await consumer.subscribe({ topics: [this.topic], fromBeginning: this.options.fromBeginning ?? true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 8,
      eachBatch: (payload) => this.eachBatch(consumer, handler, options, maxBatch, payload),
    });
  }

  /** On (re)assignment: forget old floors, load (claim) the stored positions, seek there. */
  private onGroupJoin(consumer: Consumer, partitions: number[], options: ConsumeOptions): void {
    const generation = this.assignment.generation + 1;
    // Kept until the load: a partition kept at the same position keeps its duplicate window.
    const previousFloors = new Map(this.floors);
    this.floors.clear();
    this.generations.clear();
    for (const p of this.windows.keys()) if (!partitions.includes(p)) this.windows.delete(p);
    // Another member reports the lag of partitions we no longer own.
    for (const p of this.assignment.partitions) if (!partitions.includes(p)) this.lag.remove({ partition: String(p) });
    const state: AssignmentState = { generation, partitions, ready: Promise.resolve(), failed: false };
    state.ready = this.loadFloors(consumer, state, options, previousFloors);
    // Settled here so an unobserved rejection never escapes; eachBatch retries a failed load.
    state.ready.catch(() => undefined);
    this.assignment = state;
    this.log.info('kafka partitions assigned', { partitions, generation });
    for (const l of this.assignmentListeners) {
      try {
        l([...partitions]);
      } catch (e) {
        this.log.warn('assignment listener failed', { error: errorText(e) });
      }
    }
  }

  /** Stored positions and, with claimCheckpoints, the generations this member now holds. */
  private async loadStored(
    options: ConsumeOptions,
    streams: string[],
  ): Promise<Map<string, { position?: string; generation?: number }>> {
    if (options.claimCheckpoints) return options.claimCheckpoints(streams);
    const positions = await options.loadCheckpoints(streams);
    return new Map([...positions].map(([s, position]) => [s, { position }]));
  }

  /**
   * Takes a partition from its stored position: seeks there, or below it by the duplicate window
   * (refilled from the messages it re-reads) unless the window is still the one of that position.
   */
  private resume(consumer: Consumer, partition: number, position: string, keepWindow: boolean): void {
    this.floors.set(partition, position);
    let from = position;
    if (this.dedupWindow > 0) {
      if (!keepWindow || !this.windows.has(partition)) {
        this.windows.set(partition, new FlowIdWindow(this.dedupWindow));
        // Below the log start, kafkajs would reset to `fromBeginning`: latest would skip data.
        if (this.options.fromBeginning ?? true) {
          const low = BigInt(position) - BigInt(this.dedupWindow);
          from = (low > 0n ? low : 0n).toString();
        }
      }
    }
    // kafkajs applies the seek on its next fetch; batches fetched before it are stale and dropped.
    consumer.seek({ topic: this.topic, partition, offset: from });
  }

  private async loadFloors(
    consumer: Consumer,
    state: AssignmentState,
    options: ConsumeOptions,
    previousFloors: Map<number, string> = new Map(),
  ): Promise<void> {
    if (state.partitions.length === 0) return;
    const streams = state.partitions.map((p) => kafkaStream(this.topic, p));
    let stored: Map<string, { position?: string; generation?: number }>;
    try {
      stored = await this.loadStored(options, streams);
    } catch (e) {
      state.failed = true;
      this.log.error('could not load stored kafka positions; consumption waits', { error: errorText(e) });
      throw e;
    }
    if (state !== this.assignment) return; // a newer rebalance superseded this one
    for (const p of state.partitions) {
      const claimed = stored.get(kafkaStream(this.topic, p));
      if (claimed?.generation !== undefined) this.generations.set(p, claimed.generation);
      const position = claimed?.position;
      if (position === undefined) {
        // Nothing stored: whatever Kafka delivers first is new, the window starts empty.
        if (this.dedupWindow > 0) this.windows.set(p, new FlowIdWindow(this.dedupWindow));
        continue;
      }
      if (!/^\d+$/.test(position)) {
        state.failed = true;
        const error = `stored position for ${kafkaStream(this.topic, p)} is not a Kafka offset: ${position}`;
        this.log.error('cannot resume from stored kafka positions; consumption waits', { error });
        throw new Error(error);
      }
      this.resume(consumer, p, position, previousFloors.get(p) === position);
    }
    this.log.info('kafka consumer resumes from stored positions', {
      positions: Object.fromEntries(state.partitions.map((p) => [p, this.floors.get(p) ?? 'kafka-committed'])),
      generations: Object.fromEntries(this.generations),
    });
  }

  /** Waits until the stored positions of the current assignment are loaded, retrying failed loads. */
  private async awaitAssignment(
    consumer: Consumer,
    options: ConsumeOptions,
    payload: EachBatchPayload,
  ): Promise<boolean> {
    let attempt = 0;
    for (;;) {
      const state = this.assignment;
      try {
        await state.ready;
        return true;
      } catch {
        if (this.closed || !payload.isRunning()) return false;
        await this.sleepWithHeartbeat(this.retryDelay(attempt++), payload);
        if (state === this.assignment && state.failed) {
          state.failed = false;
          state.ready = this.loadFloors(consumer, state, options);
          state.ready.catch(() => undefined);
        }
      }
    }
  }

  private parse(message: KafkaMessage, partition: number): Parsed {
    const origin = `kafka:${this.topic}:${partition}:${message.offset}`;
    const raw = message.value === null ? '' : message.value.toString('utf8');
    if (message.value === null)
      return { ok: false, letter: { raw, reason: 'empty message value (tombstone)', origin } };
    const schema = message.headers?.[SCHEMA_HEADER];
    const schemaText = schema === undefined ? undefined : Array.isArray(schema) ? String(schema[0]) : String(schema);
    if (schemaText !== undefined && schemaText !== SCHEMA_VERSION) {
      return {
        ok: false,
        letter: { raw, reason: `unsupported schema version ${schemaText} (expected ${SCHEMA_VERSION})`, origin },
      };
    }
    try {
      return { ok: true, record: JSON.parse(raw) as unknown };
    } catch (e) {
      return { ok: false, letter: { raw, reason: `invalid JSON: ${errorText(e)}`, origin } };
    }
  }

  /**
   * The flow id of a message: its header, else the `id` of the value it parses to (raw producers
   * send no header). The same rule on delivery and on refill keeps both windows equal.
   */
  private messageId(message: KafkaMessage, partition: number, parsed?: Parsed): string | undefined {
    const header = headerText(message, ID_HEADER);
    if (header !== undefined) return header;
    const p = parsed ?? this.parse(message, partition);
    return p.ok ? recordId(p.record) : undefined;
  }

  private async eachBatch(
    consumer: Consumer,
    handler: BatchHandler,
    options: ConsumeOptions,
    maxBatch: number,
    payload: EachBatchPayload,
  ): Promise<void> {
    const { batch } = payload;
    const { partition } = batch;
    if (!(await this.awaitAssignment(consumer, options, payload))) return;
    // A seek to the stored position is pending: this batch was fetched from the wrong offset.
    if (payload.isStale()) return;
    if (!this.assignment.partitions.includes(partition) && !this.floors.has(partition)) {
      // No GROUP_JOIN seen for this partition (should not happen): load its position lazily.
      const stored = await this.loadStored(options, [kafkaStream(this.topic, partition)]);
      const claimed = stored.get(kafkaStream(this.topic, partition));
      if (claimed?.generation !== undefined) this.generations.set(partition, claimed.generation);
      if (claimed?.position !== undefined) {
        this.resume(consumer, partition, claimed.position, false);
        return;
      }
    }

    // Drop what the database already holds (fetched from Kafka's committed offset, below ours),
    // refilling the duplicate window from the offsets just below the floor.
    const floor = this.floors.get(partition);
    const window = this.windows.get(partition);
    let messages = batch.messages;
    if (floor !== undefined) {
      const kept = messages.filter((m) => !offsetLess(m.offset, floor));
      const skipped = messages.length - kept.length;
      if (window) {
        const from = Number(floor) - window.size;
        for (const m of messages) {
          const offset = Number(m.offset);
          if (offset < from || !offsetLess(m.offset, floor)) continue;
          const id = this.messageId(m, partition);
          if (id !== undefined) window.add(id, offset);
        }
      }
      if (skipped > 0) {
        this.consumed.inc({ outcome: 'skipped' }, skipped);
        this.log.debug('skipped already stored kafka messages', { partition, skipped, floor });
        if (kept.length === 0) {
          payload.resolveOffset(messages[messages.length - 1].offset);
          return;
        }
      }
      messages = kept;
    }

    let committedNext: string | undefined;
    for (let start = 0; start < messages.length; start += maxBatch) {
      if (this.closed || !payload.isRunning() || payload.isStale()) return;
      const chunk = messages.slice(start, start + maxBatch);
      const records: unknown[] = [];
      const letters: DeadLetter[] = [];
      const ids = window ? new FlowIdChunk(window) : undefined;
      let duplicates = 0;
      for (const m of chunk) {
        const parsed = this.parse(m, partition);
        // Every message with an id enters the window, dead letters too (as on refill).
        const id = ids ? this.messageId(m, partition, parsed) : undefined;
        const duplicate = id !== undefined && ids !== undefined && ids.isDuplicate(id, Number(m.offset));
        if (!parsed.ok) letters.push(parsed.letter);
        else if (duplicate) duplicates++;
        else records.push(parsed.record);
      }
      const last = chunk[chunk.length - 1].offset;
      const next = nextOffset(last);
      const generation = this.generations.get(partition);
      try {
        // Dead letters first: a crash after this re-sends them (at least once) but never loses one.
        if (letters.length > 0) await this.publishDeadLetters(letters);
        const checkpoint: StreamCheckpoint = { stream: kafkaStream(this.topic, partition), position: next };
        if (generation !== undefined) checkpoint.generation = generation;
        const consumed: ConsumedBatch & { deadLetters?: DeadLetter[] } = { records, checkpoints: [checkpoint] };
        // Also handed to the aggregator (stored and counted with the batch) unless disabled.
        if (letters.length > 0 && (this.options.deadLettersInBatch ?? true)) consumed.deadLetters = letters;
        await handler(consumed);
      } catch (e) {
        // Never skip: fetch again from the first record the handler did not store.
        const from = chunk[0].offset;
        if (e instanceof StaleGenerationError && !e.streams.includes(kafkaStream(this.topic, partition))) {
          // Stored together with another partition's batch (group commit) whose claim was lost:
          // this partition is still ours, so its batch is only retried.
          this.log.info('batch retried: it was stored with the batch of a partition another member owns now', {
            partition,
            from,
            to: last,
            fenced: e.streams,
          });
        } else if (e instanceof EarlierWriteFailedError) {
          // Another partition's write, ordered before this batch's, failed and is reported there.
          this.log.info('batch retried: a write ordered before it failed', { partition, from, to: last });
        } else if (e instanceof StaleGenerationError) {
          // Another member claimed the partition while this batch was in flight: its batch now.
          // The heartbeat in the backoff below reports the rebalance, and this member rejoins.
          this.fenced.inc();
          this.log.warn('batch refused: another member owns the partition now (stale generation)', {
            partition,
            from,
            to: last,
            generation,
          });
        } else {
          this.log.error('batch handler failed; the batch will be delivered again', {
            partition,
            from,
            to: last,
            error: errorText(e),
          });
        }
        consumer.seek({ topic: this.topic, partition, offset: from });
        await this.backoffAfterFailure(payload);
        return;
      }
      this.handlerFailures = 0;
      this.floors.set(partition, next);
      ids?.commit(Number(next));
      committedNext = next;
      payload.resolveOffset(last);
      this.consumed.inc({ outcome: 'delivered' }, records.length);
      if (duplicates > 0) {
        this.consumed.inc({ outcome: 'duplicate' }, duplicates);
        this.log.debug('dropped producer duplicates (flow id seen in the window)', { partition, duplicates });
      }
      if (letters.length > 0) this.consumed.inc({ outcome: 'dead_letter' }, letters.length);
      const hw = batch.highWatermark;
      if (/^\d+$/.test(hw))
        this.lag.set({ partition: String(partition) }, Math.max(0, Number(BigInt(hw) - BigInt(next))));
      // A rebalance surfaces here as an error: kafkajs rejoins, and what was stored so far is resolved.
      await payload.heartbeat();
    }

    if (committedNext !== undefined && (this.options.commitOffsetsToKafka ?? true)) {
      // Only a hint for lag tools: PostgreSQL holds the positions that count.
      try {
        await payload.commitOffsetsIfNecessary({
          topics: [{ topic: this.topic, partitions: [{ partition, offset: committedNext }] }],
        });
      } catch (e) {
        this.log.debug('kafka offset commit failed (harmless: positions live in PostgreSQL)', {
          partition,
          error: errorText(e),
        });
      }
    }
  }

  /** The shared retry schedule, starting at retryBackoffMs. */
  private retryDelay(attempt: number): number {
    return backoffDelay(attempt, { initialMs: this.options.retryBackoffMs ?? 1000, maxMs: MAX_RETRY_BACKOFF_MS });
  }

  private async backoffAfterFailure(payload: EachBatchPayload): Promise<void> {
    await this.sleepWithHeartbeat(this.retryDelay(this.handlerFailures++), payload);
  }

  /** Sleeps while keeping the group membership alive; close() cuts it short. */
  private async sleepWithHeartbeat(ms: number, payload: EachBatchPayload): Promise<void> {
    const until = Date.now() + ms;
    while (!this.closed && Date.now() < until) {
      // Slices of at most 500 ms, each followed by a heartbeat.
      await abortableSleep(Math.min(500, Math.max(0, until - Date.now())), this.stopping.signal);
      // Throws when the group rebalances: give the partitions up now instead of sleeping on.
      await payload.heartbeat();
    }
  }

  // ---------------------------------------------------------------- lifecycle

  async close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.stopping.abort();
      if (this.consumer) {
        try {
          await this.consumer.disconnect();
        } catch (e) {
          this.log.warn('kafka consumer did not disconnect cleanly', { error: errorText(e) });
        }
      }
      const producer = this.producer ?? (await this.producerConnecting?.catch(() => undefined));
      if (producer) {
        try {
          await producer.disconnect();
        } catch (e) {
          this.log.warn('kafka producer did not disconnect cleanly', { error: errorText(e) });
        }
      }
    })();
    return this.closing;
  }
}
