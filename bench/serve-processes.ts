/**
 * Child processes for the benchmarks and the load driver: the built CLI's `serve` with only the
 * settings we give, its JSON log lines parsed, readiness and Kafka assignment read from them, and
 * per-process CPU and memory from /proc (Linux only).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
// /proc/<pid>/stat counts in clock ticks; 100 per second on every Linux we run on (USER_HZ).
const TICKS_PER_SECOND = 100;

export interface Proc {
  name: string;
  child: ChildProcess;
  /** Parsed JSON log lines, in order. */
  logs: Array<Record<string, unknown>>;
  exited: boolean;
  tail: string[];
}

/** Two fields of /proc/<pid>/stat after the command name (which may hold spaces), summed, in seconds; 0 once it is gone. */
function statSeconds(pid: number, a: number, b: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[a]) + Number(f[b])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** utime + stime of one process in seconds; 0 once it is gone. */
export function cpuOf(pid: number): number {
  return statSeconds(pid, 11, 12);
}

/**
 * cutime + cstime of a process in seconds: the CPU of its children that have ended (and been
 * waited for). For a postmaster, what its exited backends and autovacuum workers used, which
 * postgresCpu (live processes only) no longer counts.
 */
export function endedChildrenCpu(pid: number): number {
  return statSeconds(pid, 13, 14);
}

/**
 * Seconds the main thread of `pid` spent runnable but waiting for a CPU (the second field of
 * /proc/<pid>/schedstat, in ns); 0 once it is gone or without schedstats. On a loaded machine
 * a process that waited about as long as it ran was short of CPU, not of work.
 */
export function runQueueWaitOf(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9 || 0;
  } catch {
    return 0;
  }
}

/** The postmaster and all its children (backends, WAL writer, checkpointer...). */
export function postgresCpu(postmaster: number): number {
  let total = cpuOf(postmaster);
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) total += cpuOf(Number(name));
    } catch {
      // the process ended while we looked
    }
  }
  return total;
}

/** Peak resident set (VmHWM) of a live process in MiB; NaN once it is gone. */
export function peakRssMiB(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** The PID of the PostgreSQL server behind `url` (the parent of our backend). */
export async function postmasterPid(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const stat = readFileSync(`/proc/${rows[0].pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } finally {
    await c.end();
  }
}

export async function storedFlows(c: pg.Client): Promise<number> {
  const { rows } = await c.query<{ n: string }>('SELECT coalesce(sum(count), 0)::bigint AS n FROM edge_rollups');
  return Number(rows[0].n);
}

/** Our environment minus every setting that would change what a `serve` does. */
export function cleanEnv(): Record<string, string> {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !/^(DATABASE_URL|KAFKA_|CALICO_|HUBBLE_|GOLDMANE_|DROPSCOPE_|POLICY_|KUBERNETES_)/.test(k))
      clean[k] = v;
  return clean;
}

/** The built CLI with only the settings we give (nothing inherited that would change the roles). */
export function startServe(name: string, env: Record<string, string>): Proc {
  // DROPSCOPE_BENCH_CPU_PROF=<dir>: a V8 CPU profile of every process, written when it stops.
  const prof = process.env.DROPSCOPE_BENCH_CPU_PROF;
  const flags = prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
  const child = spawn(process.execPath, [...flags, CLI, 'serve'], {
    env: { ...cleanEnv(), LOG_LEVEL: 'info', PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc: Proc = { name, child, logs: [], exited: false, tail: [] };
  const onLine = (line: string) => {
    proc.tail = [...proc.tail.slice(-20), line];
    try {
      const o: unknown = JSON.parse(line);
      if (typeof o === 'object' && o !== null) proc.logs.push(o as Record<string, unknown>);
    } catch {
      // not a log line
    }
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  child.on('exit', () => (proc.exited = true));
  return proc;
}

/** Polls `check` every 100 ms until it holds; fails when a process died or the time is up. */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  procs: Proc[],
  timeoutMs: number,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    const dead = procs.find((p) => p.exited);
    if (dead) throw new Error(`${dead.name} exited while waiting for ${what}:\n${dead.tail.join('\n')}`);
    if (Date.now() > end)
      throw new Error(
        `timed out waiting for ${what}:\n${procs.map((p) => `${p.name}: ${p.tail.join('\n')}`).join('\n')}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const started = (p: Proc): boolean => p.logs.some((l) => l.msg === 'dropscope started');
export const portOf = (p: Proc): number => Number(p.logs.find((l) => l.msg === 'dropscope started')?.port);
export const logged = (p: Proc, msg: string): boolean => p.logs.some((l) => l.msg === msg);

/** One process's /metrics text; undefined when it does not answer. */
async function metricsText(port: number): Promise<string | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

/** The sum of a labelled metric's samples (`name{...} value`) in /metrics text; undefined when it has none. */
function metricSum(text: string, name: string): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n'))
    if (line.startsWith(`${name}{`)) sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

/**
 * Flows the given aggregators have stored, by their own count (`dropscope_flows_processed_total`,
 * counted once each write commits), read from their /metrics: cheap at any edge cardinality,
 * where a sum over edge_rollups reads every row. Undefined when one does not answer.
 */
export async function flowsCounted(aggregators: readonly Proc[]): Promise<number | undefined> {
  let n = 0;
  for (const p of aggregators) {
    const text = await metricsText(portOf(p));
    if (text === undefined) return undefined;
    // No sample yet: nothing stored since the process started.
    n += metricSum(text, 'dropscope_flows_processed_total') ?? 0;
  }
  return n;
}

/** This member's latest assignment, from its "kafka partitions assigned" log lines. */
export function assigned(p: Proc): number[] {
  const last = p.logs.filter((l) => l.msg === 'kafka partitions assigned').at(-1);
  const parts = last?.partitions ?? (last?.fields as Record<string, unknown> | undefined)?.partitions;
  return Array.isArray(parts) ? parts.map(Number) : [];
}

/** True when the members together hold each of `partitions` partitions exactly once, each member some. */
export function partitionsShared(members: Proc[], partitions: number): boolean {
  const each = members.map(assigned);
  const all = each.flat();
  return (
    members.every(started) &&
    each.every((a) => a.length > 0) &&
    all.length === partitions &&
    new Set(all).size === all.length
  );
}

/**
 * Starts `count` aggregators (`start(name, env)`, each with `env` plus its own consumer group id)
 * and waits until they share the topic's `partitions`. On librdkafka's mock cluster a member can
 * fail at SyncGroup when members join together (docs/KAFKA.md), and `serve` then exits as it
 * would in a pod; as a supervisor would, the members are then stopped and started again, in a
 * group of their own, up to `attempts` times. `discard` is told of each member stopped that way.
 */
export async function startAggregatorGroup(opts: {
  count: number;
  partitions: number;
  env: Record<string, string>;
  groupPrefix: string;
  start: (name: string, env: Record<string, string>) => Proc;
  discard?: (p: Proc) => void;
  attempts?: number;
}): Promise<Proc[]> {
  const attempts = opts.attempts ?? 4;
  for (let attempt = 1; ; attempt++) {
    const env = { ...opts.env, DROPSCOPE_ROLES: 'aggregator', KAFKA_GROUP_ID: `${opts.groupPrefix}-${attempt}` };
    const aggs = Array.from({ length: opts.count }, (_, i) => opts.start(`aggregator-${i + 1}`, env));
    try {
      await until(
        'the aggregators to share the partitions',
        () => partitionsShared(aggs, opts.partitions),
        aggs,
        120_000,
      );
      return aggs;
    } catch (e) {
      if (attempt >= attempts) throw e;
      process.stderr.write(`an aggregator failed to join the group (attempt ${attempt}); starting them again\n`);
      await stopAll(aggs, 5000);
      for (const a of aggs) opts.discard?.(a);
    }
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when every process has exited. */
export async function stopAll(procs: Proc[], graceMs = 15_000): Promise<void> {
  await Promise.all(
    procs.map(async (p) => {
      if (p.exited) return;
      const gone = once(p.child, 'exit').catch(() => undefined);
      const killer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
      p.child.kill('SIGTERM');
      await gone;
      clearTimeout(killer);
    }),
  );
}

/** Sum of dropscope_kafka_consumer_lag over all partitions of one aggregator; undefined when absent. */
export async function scrapeLag(port: number): Promise<number | undefined> {
  const text = await metricsText(port);
  return text === undefined ? undefined : metricSum(text, 'dropscope_kafka_consumer_lag');
}

/** Runs the migrations once, so the processes that start together don't race to create the schema. */
export async function migrate(url: string): Promise<void> {
  const p = spawn(process.execPath, [CLI, 'migrate'], { env: { ...cleanEnv(), DATABASE_URL: url }, stdio: 'ignore' });
  const [code] = (await once(p, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`migrate exited with ${code}`);
}
