/**
 * A real Kafka-protocol broker for the tests and the Kafka-path benchmark, from librdkafka's
 * built-in mock cluster (see ../shared/reference/kafka-in-ci.md). The mock runs in a CHILD node
 * process that loads librdkafka through koffi, so its threads never block jest or the measured
 * processes, and `stop()` can always kill it. Lives in bench/ because the build (tsconfig.build.json)
 * compiles bench but not test; test/support/kafka-mock-cluster.ts re-exports it.
 *
 * Requires the system library: `apt-get install -y librdkafka1`. A missing library is a loud
 * failure, never a silent skip (the bench catches it and says why it skipped its Kafka part).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

export interface KafkaMockCluster {
  /** `host:port,...` to hand to kafkajs as brokers. */
  readonly bootstrap: string;
  /** Number of mock brokers. */
  readonly brokerCount: number;
  /** PID of the child process that runs the mock (for CPU accounting). */
  readonly pid: number | undefined;
  /** Creates a topic on the mock (it has no CreateTopics API). */
  createTopic(name: string, partitions: number, replicationFactor?: number): Promise<void>;
  /**
   * Takes a broker down (ids 1..brokerCount): its connections are closed and new ones refused,
   * its partitions and offsets are kept (rd_kafka_mock_broker_set_down). `brokerUp` undoes it.
   */
  brokerDown(brokerId: number): Promise<void>;
  brokerUp(brokerId: number): Promise<void>;
  /** Destroys the cluster and ends the child process. Idempotent. */
  stop(): Promise<void>;
}

export interface KafkaMockClusterOptions {
  brokers?: number;
  /** Path or soname of librdkafka; default `librdkafka.so.1` (env LIBRDKAFKA_PATH overrides). */
  library?: string;
  /** Milliseconds to wait for the child to report the bootstrap string. */
  startTimeoutMs?: number;
}

const INSTALL_HINT =
  'librdkafka (with its mock cluster) is required for the Kafka tests and bench: run `apt-get install -y librdkafka1` ' +
  '(Debian/Ubuntu), or set LIBRDKAFKA_PATH to librdkafka.so.1';

/** The child program (CommonJS, run with `node -e`): one JSON command per stdin line, one reply per stdout line. */
const CHILD_SCRIPT = String.raw`
'use strict';
const koffiPath = process.env.DROPSCOPE_KOFFI_PATH;
const libPath = process.env.DROPSCOPE_LIBRDKAFKA;
const brokerCount = Number(process.env.DROPSCOPE_MOCK_BROKERS || '1');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
let lib;
try {
  const koffi = require(koffiPath);
  lib = koffi.load(libPath);
  var confNew = lib.func('void *rd_kafka_conf_new()');
  var confSet = lib.func('int rd_kafka_conf_set(void *conf, const char *name, const char *value, char *errstr, size_t size)');
  var kafkaNew = lib.func('void *rd_kafka_new(int type, void *conf, char *errstr, size_t size)');
  var kafkaDestroy = lib.func('void rd_kafka_destroy(void *rk)');
  var mockNew = lib.func('void *rd_kafka_mock_cluster_new(void *rk, int broker_cnt)');
  var mockBootstraps = lib.func('const char *rd_kafka_mock_cluster_bootstraps(void *mc)');
  var mockTopicCreate = lib.func('int rd_kafka_mock_topic_create(void *mc, const char *topic, int partition_cnt, int replication_factor)');
  var mockDestroy = lib.func('void rd_kafka_mock_cluster_destroy(void *mc)');
  var mockBrokerDown = lib.func('int rd_kafka_mock_broker_set_down(void *mc, int32_t broker_id)');
  var mockBrokerUp = lib.func('int rd_kafka_mock_broker_set_up(void *mc, int32_t broker_id)');
  var versionStr = lib.func('const char *rd_kafka_version_str()');
} catch (e) {
  out({ type: 'error', error: 'cannot load librdkafka: ' + (e && e.message ? e.message : String(e)) });
  process.exit(3);
}
const errbuf = Buffer.alloc(512);
const conf = confNew();
confSet(conf, 'log_level', '3', errbuf, errbuf.length);
const rk = kafkaNew(0 /* RD_KAFKA_PRODUCER */, conf, errbuf, errbuf.length);
if (!rk) {
  out({ type: 'error', error: 'rd_kafka_new failed: ' + errbuf.toString('utf8').replace(/\0.*$/s, '') });
  process.exit(4);
}
const mc = mockNew(rk, brokerCount);
if (!mc) {
  out({ type: 'error', error: 'rd_kafka_mock_cluster_new failed' });
  process.exit(5);
}
let stopped = false;
function stop() {
  if (stopped) return;
  stopped = true;
  mockDestroy(mc);
  kafkaDestroy(rk);
}
out({ type: 'ready', bootstrap: mockBootstraps(mc), version: versionStr() });
const rl = require('readline').createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let cmd;
  try { cmd = JSON.parse(line); } catch { return; }
  if (cmd.op === 'createTopic') {
    const err = mockTopicCreate(mc, String(cmd.name), Number(cmd.partitions), Number(cmd.replicationFactor || 1));
    out({ type: 'reply', id: cmd.id, error: err === 0 ? undefined : 'rd_kafka_mock_topic_create error ' + err });
  } else if (cmd.op === 'brokerDown' || cmd.op === 'brokerUp') {
    const err = (cmd.op === 'brokerDown' ? mockBrokerDown : mockBrokerUp)(mc, Number(cmd.brokerId));
    out({ type: 'reply', id: cmd.id, error: err === 0 ? undefined : cmd.op + ' error ' + err });
  } else if (cmd.op === 'stop') {
    stop();
    out({ type: 'reply', id: cmd.id });
    process.exit(0);
  }
});
// The parent went away (closed our stdin): do not outlive it.
rl.on('close', () => { stop(); process.exit(0); });
`;

interface ChildMessage {
  type: 'ready' | 'reply' | 'error';
  id?: number;
  bootstrap?: string;
  version?: string;
  error?: string;
}

function parseMessage(line: string): ChildMessage | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o.type !== 'ready' && o.type !== 'reply' && o.type !== 'error') return undefined;
  return {
    type: o.type,
    id: typeof o.id === 'number' ? o.id : undefined,
    bootstrap: typeof o.bootstrap === 'string' ? o.bootstrap : undefined,
    version: typeof o.version === 'string' ? o.version : undefined,
    error: typeof o.error === 'string' ? o.error : undefined,
  };
}

function resolveKoffi(): string {
  const require = createRequire(import.meta.url);
  try {
    return require.resolve('koffi');
  } catch (e) {
    throw new Error(`the koffi package is required for the Kafka tests and bench (a devDependency): ${String(e)}`, {
      cause: e,
    });
  }
}

/** Starts librdkafka's mock cluster in a child process and resolves with its bootstrap string. */
export async function startKafkaMockCluster(options: KafkaMockClusterOptions = {}): Promise<KafkaMockCluster> {
  const brokerCount = options.brokers ?? 1;
  const library = options.library ?? process.env.LIBRDKAFKA_PATH ?? 'librdkafka.so.1';
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['-e', CHILD_SCRIPT], {
    env: {
      ...process.env,
      DROPSCOPE_KOFFI_PATH: resolveKoffi(),
      DROPSCOPE_LIBRDKAFKA: library,
      DROPSCOPE_MOCK_BROKERS: String(brokerCount),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    stderr = (stderr + d).slice(-8192);
  });

  let nextId = 1;
  const waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exited = true;
      for (const w of waiting.values())
        w.reject(new Error(`kafka mock cluster exited (code ${code}, signal ${signal})`));
      waiting.clear();
      resolve();
    });
  });

  const ready = new Promise<ChildMessage>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(`kafka mock cluster did not start within ${options.startTimeoutMs ?? 10000} ms; stderr: ${stderr}`),
        ),
      options.startTimeoutMs ?? 10000,
    );
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(
        new Error(
          `kafka mock cluster exited with code ${code} before it was ready. ${INSTALL_HINT}. stderr: ${stderr}`,
        ),
      );
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = parseMessage(line);
      if (!m) return;
      if (m.type === 'ready') {
        clearTimeout(timer);
        resolve(m);
      } else if (m.type === 'error') {
        clearTimeout(timer);
        reject(new Error(`${m.error ?? 'unknown error'}. ${INSTALL_HINT}`));
      } else if (m.id !== undefined) {
        const w = waiting.get(m.id);
        waiting.delete(m.id);
        if (m.error) w?.reject(new Error(m.error));
        else w?.resolve();
      }
    });
  });

  let readyMessage: ChildMessage;
  try {
    readyMessage = await ready;
  } catch (e) {
    if (!exited) child.kill('SIGKILL');
    throw e;
  }
  if (!readyMessage.bootstrap) throw new Error('kafka mock cluster reported no bootstrap servers');

  const send = (cmd: Record<string, unknown>): Promise<void> => {
    if (exited) return Promise.reject(new Error('kafka mock cluster is not running'));
    const id = nextId++;
    return new Promise<void>((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      child.stdin.write(`${JSON.stringify({ ...cmd, id })}\n`);
    });
  };

  let stopping: Promise<void> | undefined;
  return {
    bootstrap: readyMessage.bootstrap,
    brokerCount,
    pid: child.pid,
    createTopic: (name, partitions, replicationFactor = 1) =>
      send({ op: 'createTopic', name, partitions, replicationFactor }),
    brokerDown: (brokerId) => send({ op: 'brokerDown', brokerId }),
    brokerUp: (brokerId) => send({ op: 'brokerUp', brokerId }),
    stop: () => {
      stopping ??= (async () => {
        if (exited) return;
        const killTimer = setTimeout(() => child.kill('SIGKILL'), 3000);
        try {
          await send({ op: 'stop' }).catch(() => undefined);
          await exitPromise;
        } finally {
          clearTimeout(killTimer);
        }
      })();
      return stopping;
    },
  };
}
