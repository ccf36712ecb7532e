/**
 * `npm run load`: drives `dropscope serve` at rising flow rates and reports, per step:
 *  - the rate offered and the rate stored (flows committed to edge_rollups per second),
 *  - the lag (flows written but not committed) at the end of the step and how fast it grew, and
 *    whether the step held (bench/load-holds.ts has the exact rule),
 *  - p50 and p99 latency from flow time to committed row: one probe deny per 100 ms tick, with a
 *    pod name of its own and the current time, timed until its drop_events row is visible
 *    (polled every 50 ms),
 *  - each service process's peak RSS (VmHWM) and the CPU seconds every process used in the step,
 *  - the seconds each process's main thread waited for a CPU while runnable (run-queue wait, from
 *    /proc/<pid>/schedstat; PostgreSQL not counted): how short of CPU the machine left it.
 *
 * --mode embedded (default): one `serve` with the collector and aggregator roles, embedded bus.
 * --mode kafka: one `serve` with DROPSCOPE_ROLES=collector and --aggregators N (default 2) with
 *   DROPSCOPE_ROLES=aggregator in one consumer group, on librdkafka's mock cluster.
 * --source calico-file (default): the Calico flow-log file collector tails a file we append to.
 * --source hubble-relay: the Hubble Relay collector streams from a fake Relay in a child process
 *   of its own (bench/load-relay-process.ts; `relay` in the pid list and the CPU figures).
 * PostgreSQL: DATABASE_URL when set (a fresh database is made on it), else a throwaway embedded server.
 *
 * --edges N (default 100): the edges the source spreads its flows over (a dense service graph's
 *   cardinality at 10,000 or 120,000: each edge is then a roll-up row of its own every minute).
 * --deny-share 0.5 (default 0): that share of the flows are denies, over the
 *   source's edges (a flood of drops; the probes stay on edges of their own).
 * --drop-events-per-edge-minute N: DROP_EVENTS_PER_EDGE_MINUTE for the service (default: the
 *   service's own, 10). Each probe is a deny on an edge of its own, so its event is always kept.
 * Options: --rates 1000,2000,4000 (flows/s), --seconds 5 (per step, at least 4), --keep-going
 * (run every rate; by default the sweep ends after the first step that does not hold),
 * --no-warmup (by default a first, uncounted step runs at the first rate).
 * Linux only (/proc). SIGINT/SIGTERM stop every process the run started (bench/teardown.ts).
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { silentLogger } from '../src/common/logger.js';
import { startEmbeddedPostgres } from '../src/storage/embedded-postgres.js';
import { startKafkaMockCluster } from './kafka-mock-cluster.js';
import { judgeStep, percentile, type LagSample } from './load-holds.js';
import { LOAD_SOURCES, startLoadSource, type LoadSourceName } from './load-sources.js';
import {
  cpuOf,
  migrate,
  startAggregatorGroup,
  peakRssMiB,
  postgresCpu,
  postmasterPid,
  runQueueWaitOf,
  startServe,
  stopAll,
  storedFlows,
  flowsCounted,
  until,
  type Proc,
} from './serve-processes.js';
import { Teardown } from './teardown.js';

const args = process.argv.slice(2);
function option(name: string, def: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
}
const MODE = option('--mode', 'embedded');
const SOURCE = option('--source', 'calico-file');
const RATES = option('--rates', '1000,2000,4000,8000,16000').split(',').map(Number);
const STEP_SECONDS = Number(option('--seconds', '5'));
const AGGREGATORS = Number(option('--aggregators', '2'));
const PARTITIONS = 12;
const KEEP_GOING = args.includes('--keep-going');
const WARMUP = !args.includes('--no-warmup');
const DENY_SHARE = Number(option('--deny-share', '0'));
const EVENTS_PER_EDGE_MINUTE = option('--drop-events-per-edge-minute', '');
const EDGES = Number(option('--edges', '100'));
const TICK_MS = 100;
const LAG_SAMPLE_MS = 100;
const DRAIN_TIMEOUT_MS = 180_000;
const TOPIC = 'dropscope.flows.v1';
const DLQ_TOPIC = 'dropscope.flows.dlq';

function usage(problem: string): never {
  process.stderr.write(
    `${problem}\nusage: npm run load -- [--mode embedded|kafka] [--source ${LOAD_SOURCES.join('|')}] ` +
      `[--rates 1000,2000] [--seconds 5] [--aggregators 2] [--keep-going] [--no-warmup] ` +
      `[--deny-share 0.5] [--drop-events-per-edge-minute 10] [--edges 100]\n`,
  );
  process.exit(2);
}
if (MODE !== 'embedded' && MODE !== 'kafka') usage(`unknown --mode ${MODE}`);
if (!(LOAD_SOURCES as readonly string[]).includes(SOURCE)) usage(`unknown --source ${SOURCE}`);
if (RATES.some((r) => !(r > 0)) || !(STEP_SECONDS >= 4)) usage('--rates must be positive and --seconds at least 4');
if (!(DENY_SHARE >= 0 && DENY_SHARE <= 1)) usage('--deny-share must be between 0 and 1');
if (!/^\d*$/.test(EVENTS_PER_EDGE_MINUTE)) usage('--drop-events-per-edge-minute must be a whole number');
if (!(Number.isInteger(EDGES) && EDGES >= 1)) usage('--edges must be a whole number of at least 1');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (x: number) => (Number.isNaN(x) ? 'n/a' : x.toFixed(0));

async function main(teardown: Teardown): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dropscope-load-'));
  chmodSync(dir, 0o755); // the embedded PostgreSQL (postgres user, when we are root) keeps its data inside
  process.stderr.write(`load: folder ${dir}\n`);
  teardown.addFinal('temporary folder', async () => rmSync(dir, { recursive: true, force: true }));

  // PostgreSQL, and the pids this run owns (printed for whoever wants to check they end with it).
  const owned: Array<[string, number]> = [];
  let url = process.env.DATABASE_URL;
  let postmaster: number | undefined;
  if (url) {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const name = `dropscope_load_${process.pid}`;
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const adminUrl = url;
    teardown.add('load database', async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => c.end());
    });
    const u = new URL(url);
    u.pathname = `/${name}`;
    url = u.toString();
    postmaster = await postmasterPid(url).catch(() => undefined); // only when the server is local
  } else {
    const server = await startEmbeddedPostgres(join(dir, 'pg'), silentLogger);
    url = server.url;
    postmaster = await postmasterPid(url);
    const pm = postmaster;
    teardown.add(
      'embedded PostgreSQL',
      () => server.stop(),
      () => process.kill(pm, 'SIGQUIT'),
    );
    owned.push(['postgresql', pm]);
  }
  await migrate(url);

  const source = await startLoadSource(SOURCE as LoadSourceName, dir, DENY_SHARE, EDGES);
  const sourceProcess = source.process;
  teardown.add('source', () => source.stop(), sourceProcess ? () => sourceProcess.kill() : undefined);
  if (sourceProcess) owned.push([sourceProcess.name, sourceProcess.pid]);

  const procs: Proc[] = [];
  const serve = (name: string, env: Record<string, string>): Proc => {
    const p = startServe(name, {
      DATABASE_URL: url,
      LOG_LEVEL: 'info',
      DROPSCOPE_DATA_DIR: join(dir, name),
      ...(EVENTS_PER_EDGE_MINUTE ? { DROP_EVENTS_PER_EDGE_MINUTE: EVENTS_PER_EDGE_MINUTE } : {}),
      ...env,
    });
    procs.push(p);
    owned.push([name, p.child.pid!]);
    teardown.add(
      name,
      () => stopAll([p], 10_000),
      () => p.child.kill('SIGKILL'),
    );
    return p;
  };
  let collector: Proc;
  let kafkaPid: number | undefined;
  if (MODE === 'kafka') {
    const mock = await startKafkaMockCluster({ brokers: 1 });
    kafkaPid = mock.pid;
    teardown.add('kafka mock cluster', () => mock.stop());
    owned.push(['kafka-mock', mock.pid!]);
    await mock.createTopic(TOPIC, PARTITIONS);
    await mock.createTopic(DLQ_TOPIC, 1);
    const kafkaEnv = {
      KAFKA_BROKERS: mock.bootstrap,
      KAFKA_CREATE_TOPICS: 'false',
      // The recommended aggregator settings (docs/KAFKA.md); the defaults make each join slow.
      KAFKA_SESSION_TIMEOUT_MS: '10000',
      KAFKA_HEARTBEAT_INTERVAL_MS: '1000',
      // On the mock an idle fetch waits out its whole wait even when data arrives (docs/KAFKA.md).
      KAFKA_MAX_WAIT_MS: '200',
    };
    await startAggregatorGroup({
      count: AGGREGATORS,
      partitions: PARTITIONS,
      env: kafkaEnv,
      groupPrefix: 'dropscope-load',
      start: serve,
      discard: (a) => {
        procs.splice(procs.indexOf(a), 1);
        owned.splice(
          owned.findIndex(([, pid]) => pid === a.child.pid),
          1,
        );
      },
    });
    collector = serve('collector', { ...kafkaEnv, DROPSCOPE_ROLES: 'collector', ...source.env });
  } else {
    collector = serve('serve', { DROPSCOPE_ROLES: 'collector,aggregator', ...source.env });
  }
  await until('the collector to read from the source', () => source.connected(collector), procs, 60_000);
  process.stderr.write(`load: pids ${owned.map(([n, p]) => `${n}=${p}`).join(' ')}\n`);

  const db = new pg.Client({ connectionString: url });
  await db.connect();
  teardown.add('database client', () => db.end());
  const stored = () => storedFlows(db);
  const aggregators = () => (MODE === 'kafka' ? procs.filter((p) => p !== collector) : [collector]);

  // Warm-up: one flow through, so the first step does not pay for start-up.
  source.write(1, Date.now());
  let written = 1;
  await until('the first flow stored', async () => (await stored()) >= 1, procs, 60_000);

  const cpuPids: Record<string, number> = Object.fromEntries(procs.map((p) => [p.name, p.child.pid!]));
  if (kafkaPid) cpuPids['kafka-mock'] = kafkaPid;
  if (sourceProcess) cpuPids[sourceProcess.name] = sourceProcess.pid;
  cpuPids.driver = process.pid;
  const cpuNow = (): Record<string, number> => {
    const c: Record<string, number> = {};
    for (const [k, pid] of Object.entries(cpuPids)) c[k] = cpuOf(pid);
    if (postmaster) c.postgresql = postgresCpu(postmaster);
    return c;
  };
  const waitNow = (): Record<string, number> =>
    Object.fromEntries(Object.entries(cpuPids).map(([k, pid]) => [k, runQueueWaitOf(pid)]));

  console.log(
    `mode ${MODE}${MODE === 'kafka' ? ` (${AGGREGATORS} aggregators, ${PARTITIONS} partitions)` : ''}, ` +
      `source ${SOURCE}, ${STEP_SECONDS} s per step\n`,
  );
  console.log(
    '| offered flows/s | stored flows/s | lag at end (s) | lag growth (s/s) | held | p50 flow → row (ms) | p99 flow → row (ms) | peak RSS (MiB) | CPU s in step | CPU µs per flow (step and drain) | run-queue wait s in step |',
  );
  console.log('| --: | --: | --: | --: | -- | --: | --: | --: | -- | -- | -- |');
  let sustained = 0;
  let grows: number | undefined;
  const mismatches: string[] = [];
  // A warm-up step at the first rate, not counted: a fresh process is slow while V8 compiles
  // its hot paths (the Hubble collector's first seconds of gRPC decoding most of all).
  const steps = [
    ...(WARMUP ? [{ rate: RATES[0], warmup: true }] : []),
    ...RATES.map((rate) => ({ rate, warmup: false })),
  ];
  for (const [stepIndex, { rate, warmup }] of steps.entries()) {
    const probes = new Map<string, number>(); // pod → time written
    const latencies: number[] = [];
    const samples: LagSample[] = [];
    const storedAtStart = await stored();
    const countedAtStart = await flowsCounted(aggregators());
    // The lag samples count stored flows by the aggregators' own counters: summing edge_rollups
    // ten times a second read every row, which at 120,000 edges cost PostgreSQL more than serve's
    // writes and made the figures about the driver. A count lower than at the start (an
    // aggregator restarted) falls back to the sum.
    const storedNow = async (): Promise<number> => {
      const counted = countedAtStart === undefined ? undefined : await flowsCounted(aggregators());
      return counted !== undefined && counted >= countedAtStart! ? storedAtStart + counted - countedAtStart! : stored();
    };
    const writtenAtStart = written;
    const cpu0 = cpuNow();
    const wait0 = waitNow();
    const start = Date.now();
    let ticks = 0;
    let busy = false;
    // One poller: the lag every LAG_SAMPLE_MS, the probes in between (never two queries at once).
    let lastLag = 0;
    const poller = setInterval(() => {
      if (busy) return;
      busy = true;
      const at = Date.now();
      const work =
        at - lastLag >= LAG_SAMPLE_MS && at - start < STEP_SECONDS * 1000
          ? ((w) =>
              storedNow().then((n) => {
                lastLag = at;
                samples.push({ atMs: at - start, lag: w - n });
              }))(written)
          : probes.size === 0
            ? Promise.resolve()
            : db
                .query<{ src_pod: string }>(
                  `SELECT DISTINCT src_pod FROM drop_events WHERE src_pod = ANY($1::text[])`,
                  [[...probes.keys()]],
                )
                .then((r) => {
                  const now = Date.now();
                  for (const { src_pod } of r.rows) {
                    const t = probes.get(src_pod);
                    if (t !== undefined) latencies.push(now - t);
                    probes.delete(src_pod);
                  }
                });
      void work.catch(() => undefined).finally(() => (busy = false));
    }, 25);
    while (Date.now() - start < STEP_SECONDS * 1000) {
      const due = Math.max(
        1,
        Math.round(((ticks + 1) * TICK_MS * rate) / 1000) - Math.round((ticks * TICK_MS * rate) / 1000),
      );
      const now = Date.now();
      const pod = `probe-${stepIndex}-${ticks}`; // unique over the run: the probes are found by name
      source.write(due, now, pod);
      probes.set(pod, now);
      written += due;
      ticks++;
      await sleep(Math.max(0, start + ticks * TICK_MS - Date.now()));
    }
    const stepMs = Date.now() - start;
    const storedAtEnd = await stored();
    const cpu1 = cpuNow();
    const wait1 = waitNow();
    const verdict = judgeStep(samples, rate, stepMs);
    const atSource = await source.describeBacklog();
    if (atSource) process.stderr.write(`load: ${rate} flows/s, end of step: ${atSource}\n`);
    if (!warmup && verdict.held && grows === undefined) sustained = rate;
    if (!warmup && !verdict.held && grows === undefined) grows = rate;
    // Drain before the next step, so each starts from an empty pipeline; the late probes still count.
    await until('the step drained', async () => (await stored()) >= written, procs, DRAIN_TIMEOUT_MS);
    const cpuDrained = cpuNow();
    await until('every probe stored', () => probes.size === 0, procs, 30_000);
    clearInterval(poller);
    // Drained means committed = written: more would be a flow stored twice.
    const drained = await stored();
    if (drained !== written) mismatches.push(`${rate} flows/s: ${drained - written}`);
    const rss = procs.map((p) => `${procs.length > 1 ? `${p.name} ` : ''}${mib(peakRssMiB(p.child.pid!))}`).join(', ');
    const delta = (a: Record<string, number>, b: Record<string, number>) =>
      Object.entries(b)
        .map(([k, v]) => `${k} ${(v - (a[k] ?? 0)).toFixed(1)}`)
        .join(', ');
    const cpu = delta(cpu0, cpu1);
    // Every flow of the step is stored by now: its whole cost, whether or not the step held.
    const offered = written - writtenAtStart;
    const perFlow = Object.entries(cpuDrained)
      .map(([k, v]) => `${k} ${(((v - (cpu0[k] ?? 0)) * 1e6) / offered).toFixed(1)}`)
      .join(', ');
    const waited = delta(wait0, wait1);
    console.log(
      `| ${Math.round(((written - writtenAtStart) * 1000) / stepMs)} | ${Math.round(((storedAtEnd - storedAtStart) * 1000) / stepMs)} ` +
        `| ${verdict.endLagSeconds.toFixed(2)} | ${verdict.growth.toFixed(2)} | ${warmup ? 'warm-up' : verdict.held ? 'yes' : 'no'} ` +
        `| ${Math.round(percentile(latencies, 50))} | ${Math.round(percentile(latencies, 99))} | ${rss} | ${cpu} | ${perFlow} | ${waited} |`,
    );
    if (!warmup && !verdict.held && !KEEP_GOING) break;
  }
  console.log(
    `\nsustained: ${sustained} flows/s (highest step held before the first that did not); ` +
      (grows === undefined ? 'lag did not grow at any step' : `lag grows from ${grows} flows/s`) +
      `.\nflows committed minus flows written after each step: ${mismatches.length === 0 ? '0 (none lost, none doubled)' : mismatches.join('; ')}` +
      '.\nheld = lag trough of the last second ≤ 1 s of flows and rising ≤ 0.1 s per second (bench/load-holds.ts).',
  );
  if (mismatches.length > 0) process.exitCode = 1;
}

const teardown = new Teardown();
teardown.exitOnSignals();
try {
  await main(teardown);
} catch (e) {
  if (!teardown.signal) {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  }
} finally {
  await teardown.run();
}
