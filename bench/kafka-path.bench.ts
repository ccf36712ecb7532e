/**
 * The Kafka path end to end, against one in-process `serve`, on the same PostgreSQL.
 *
 * Kafka path: librdkafka's mock cluster (bench/kafka-mock-cluster.ts, 12 partitions), one
 * `serve` with DROPSCOPE_ROLES=collector tailing a Calico flows.log, and two `serve` with
 * DROPSCOPE_ROLES=aggregator in one consumer group, all child processes of the built CLI.
 * In-process: one `serve` with DROPSCOPE_ROLES=all and no Kafka. Each run gets a fresh database
 * on one PostgreSQL (embedded, or the server of DATABASE_URL).
 *
 * Each run: start the processes on an empty flows.log, wait until they are ready (for Kafka: the
 * group has split the partitions), then copy N generated lines into the file at once and time
 * until `sum(count)` in edge_rollups reaches what the same lines give through the same mapper.
 * CPU seconds per process come from /proc/<pid>/stat (utime + stime) over that window; the
 * PostgreSQL figure is the postmaster and all its children. Linux only.
 *
 * Alone: `npx tsc -p tsconfig.build.json && node dist/bench/kafka-path.bench.js [--lines N]`.
 */
import { appendFileSync, chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { silentLogger } from '../src/common/logger.js';
import { CalicoLineMapper } from '../src/collector/calico/calico-flow-log.mapper.js';
import { startEmbeddedPostgres } from '../src/storage/embedded-postgres.js';
import { CalicoFlowLogGenerator } from '../src/synthetic/calico-flow-log.generator.js';
import { startKafkaMockCluster, type KafkaMockCluster } from './kafka-mock-cluster.js';
import {
  cpuOf,
  migrate,
  startAggregatorGroup,
  portOf,
  postgresCpu,
  postmasterPid,
  scrapeLag,
  started,
  startServe,
  stopAll,
  storedFlows,
  until,
  type Proc,
} from './serve-processes.js';

const PARTITIONS = 12;
const TOPIC = 'dropscope.flows.v1';
const DLQ_TOPIC = 'dropscope.flows.dlq';

export interface PathRun {
  seconds: number;
  recordsPerSecond: number;
  /** CPU seconds over the measured window, by process name. */
  cpuSeconds: Record<string, number>;
}

export interface KafkaPathBenchResult {
  lines: number;
  records: number;
  flows: number;
  kafka: PathRun & { maxConsumerLag: number | undefined };
  inProcess: PathRun;
  ratio: number;
}

/** Thrown when the mock cluster cannot start (no librdkafka, no koffi): the bench reports a skip. */
export class KafkaUnavailableError extends Error {}

/** A fresh database on the server of `adminUrl`; returns its URL and a drop function. */
async function freshDatabase(adminUrl: string, name: string): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * Copies the prepared lines into the tailed (empty) file and waits until every flow is stored.
 * Returns the seconds and the CPU seconds per named pid over that window.
 */
async function timeRun(opts: {
  dbUrl: string;
  input: string;
  tailed: string;
  flows: number;
  records: number;
  procs: Proc[];
  pids: Record<string, number>;
  onPoll?: () => Promise<void>;
}): Promise<PathRun> {
  const c = new pg.Client({ connectionString: opts.dbUrl });
  await c.connect();
  try {
    const cpu0 = Object.fromEntries(Object.entries(opts.pids).map(([k, pid]) => [k, measureCpu(k, pid)]));
    const t0 = process.hrtime.bigint();
    copyFileSync(opts.input, opts.tailed); // same inode, truncated and rewritten: the collector reads on from 0
    let polls = 0;
    await until(
      'every flow stored',
      async () => {
        if (opts.onPoll && polls++ % 5 === 0) await opts.onPoll();
        return (await storedFlows(c)) >= opts.flows;
      },
      opts.procs,
      Math.max(300_000, opts.records),
    );
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpuSeconds: Record<string, number> = {};
    for (const [k, pid] of Object.entries(opts.pids)) cpuSeconds[k] = round2(measureCpu(k, pid) - cpu0[k]);
    const stored = await storedFlows(c);
    if (stored !== opts.flows) throw new Error(`stored ${stored} flows, expected ${opts.flows}`);
    return { seconds: round2(seconds), recordsPerSecond: Math.round(opts.records / seconds), cpuSeconds };
  } finally {
    await c.end();
  }
}

const measureCpu = (name: string, pid: number) => (name === 'postgresql' ? postgresCpu(pid) : cpuOf(pid));
const round2 = (x: number) => Math.round(x * 100) / 100;

/** Runs both paths over `lines` Calico flow-log lines; `adminUrl` is a server where we may CREATE DATABASE. */
export async function benchKafkaPath(adminUrl: string, lines: number): Promise<KafkaPathBenchResult> {
  let mock: KafkaMockCluster;
  try {
    mock = await startKafkaMockCluster({ brokers: 1 });
  } catch (e) {
    throw new KafkaUnavailableError(e instanceof Error ? e.message : String(e), { cause: e });
  }
  const dir = mkdtempSync(join(tmpdir(), 'dropscope-bench-kafka-'));
  chmodSync(dir, 0o755);
  try {
    // The input, and its ground truth through the collector's own mapper.
    const gen = new CalicoFlowLogGenerator({
      seed: 7,
      startTime: Math.floor(Date.now() / 1000) - (lines / 1000) * 300 - 600,
    });
    const input = join(dir, 'input.log');
    writeFileSync(input, '');
    const mapper = new CalicoLineMapper({});
    let records = 0;
    let flows = 0;
    for (let done = 0; done < lines; done += 10_000) {
      const chunk = gen.lines(Math.min(10_000, lines - done));
      for (const l of chunk) {
        const r = mapper.map(l);
        if (r.kind !== 'flows') continue;
        records += r.records.length;
        for (const f of r.records) flows += f.count;
      }
      appendFileSync(input, `${chunk.join('\n')}\n`);
    }
    const postmaster = await postmasterPid(adminUrl);

    // 1. Kafka: collector -> mock broker -> two aggregators.
    await mock.createTopic(TOPIC, PARTITIONS);
    await mock.createTopic(DLQ_TOPIC, 1);
    const kdb = await freshDatabase(adminUrl, `dropscope_bench_kafka_${process.pid}`);
    const ktail = join(dir, 'kafka-flows.log');
    writeFileSync(ktail, '');
    const kafkaEnv = {
      DATABASE_URL: kdb.url,
      KAFKA_BROKERS: mock.bootstrap,
      KAFKA_CREATE_TOPICS: 'false',
      // The recommended aggregator settings (docs/KAFKA.md); the defaults make each join slow.
      KAFKA_SESSION_TIMEOUT_MS: '10000',
      KAFKA_HEARTBEAT_INTERVAL_MS: '1000',
    };
    await migrate(kdb.url);
    const procs: Proc[] = [];
    let kafka: KafkaPathBenchResult['kafka'];
    try {
      const aggs = await startAggregatorGroup({
        count: 2,
        partitions: PARTITIONS,
        env: kafkaEnv,
        groupPrefix: `dropscope-bench-${process.pid}`,
        start: (name, env) => {
          const p = startServe(name, { ...env, DROPSCOPE_DATA_DIR: join(dir, name) });
          procs.push(p);
          return p;
        },
        discard: (p) => procs.splice(procs.indexOf(p), 1),
      });
      const collector = startServe('collector', {
        ...kafkaEnv,
        DROPSCOPE_ROLES: 'collector',
        CALICO_FLOWLOG_PATH: ktail,
        DROPSCOPE_DATA_DIR: join(dir, 'c'),
      });
      procs.push(collector);
      await until('the collector to start', () => started(collector), procs, 60_000);
      let maxLag: number | undefined;
      const run = await timeRun({
        dbUrl: kdb.url,
        input,
        tailed: ktail,
        flows,
        records,
        procs,
        pids: {
          collector: collector.child.pid!,
          'aggregator-1': aggs[0].child.pid!,
          'aggregator-2': aggs[1].child.pid!,
          'kafka mock': mock.pid!,
          postgresql: postmaster,
        },
        onPoll: async () => {
          const lags = await Promise.all(aggs.map((a) => scrapeLag(portOf(a))));
          const known = lags.filter((x): x is number => x !== undefined);
          if (known.length > 0)
            maxLag = Math.max(
              maxLag ?? 0,
              known.reduce((s, x) => s + x, 0),
            );
        },
      });
      kafka = { ...run, maxConsumerLag: maxLag };
    } finally {
      await stopAll(procs);
      await kdb.drop();
    }

    // 2. In process: one serve, all roles, the in-process bus.
    const idb = await freshDatabase(adminUrl, `dropscope_bench_inproc_${process.pid}`);
    const itail = join(dir, 'inproc-flows.log');
    writeFileSync(itail, '');
    await migrate(idb.url);
    const serve = startServe('serve', {
      DATABASE_URL: idb.url,
      DROPSCOPE_ROLES: 'all',
      CALICO_FLOWLOG_PATH: itail,
      DROPSCOPE_DATA_DIR: join(dir, 's'),
    });
    let inProcess: PathRun;
    try {
      await until('serve to start', () => started(serve), [serve], 60_000);
      inProcess = await timeRun({
        dbUrl: idb.url,
        input,
        tailed: itail,
        flows,
        records,
        procs: [serve],
        pids: { serve: serve.child.pid!, postgresql: postmaster },
      });
    } finally {
      await stopAll([serve]);
      await idb.drop();
    }
    return {
      lines,
      records,
      flows,
      kafka,
      inProcess,
      ratio: round2(kafka.recordsPerSecond / inProcess.recordsPerSecond),
    };
  } finally {
    await mock.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Prints a result the way `npm run bench` shows it. */
export function formatKafkaPath(r: KafkaPathBenchResult): string {
  const cpu = (x: Record<string, number>) =>
    Object.entries(x)
      .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
      .join(', ');
  return (
    `\nKafka path (${r.lines.toLocaleString('en')} Calico lines = ${r.records.toLocaleString('en')} records, ` +
    `${r.flows.toLocaleString('en')} flows; librdkafka mock cluster, 12 partitions):\n` +
    `  collector + 2 aggregators  ${r.kafka.recordsPerSecond.toLocaleString('en').padStart(8)} records/s  ${r.kafka.seconds.toFixed(1)} s  CPU: ${cpu(r.kafka.cpuSeconds)}\n` +
    `  one serve, in-process bus  ${r.inProcess.recordsPerSecond.toLocaleString('en').padStart(8)} records/s  ${r.inProcess.seconds.toFixed(1)} s  CPU: ${cpu(r.inProcess.cpuSeconds)}\n` +
    `  ratio ${r.ratio.toFixed(2)}; highest consumer lag seen ${r.kafka.maxConsumerLag ?? 'n/a'}\n`
  );
}

/**
 * The `npm run bench` stage: PostgreSQL of DATABASE_URL (it must allow CREATE DATABASE) or an
 * embedded one, both runs, the figures on stdout. Without librdkafka it prints why it skipped.
 */
export async function runKafkaPathStage(lines: number): Promise<void> {
  let url = process.env.DATABASE_URL;
  let stop: (() => Promise<void>) | undefined;
  const pgDir = mkdtempSync(join(tmpdir(), 'dropscope-bench-kafka-pg-'));
  chmodSync(pgDir, 0o755); // the embedded PostgreSQL (postgres user, when we are root) keeps its data inside
  try {
    if (!url) {
      const server = await startEmbeddedPostgres(pgDir, silentLogger);
      url = server.url;
      stop = () => server.stop();
    }
    const r = await benchKafkaPath(url, lines);
    process.stdout.write(formatKafkaPath(r));
  } catch (e) {
    if (!(e instanceof KafkaUnavailableError)) throw e;
    process.stdout.write(`\nKafka path: skipped, the librdkafka mock cluster did not start: ${e.message}\n`);
  } finally {
    await stop?.();
    rmSync(pgDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--lines');
  runKafkaPathStage(i >= 0 ? Number(process.argv[i + 1]) : 100_000).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
