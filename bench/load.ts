/**
 * `npm run load`: drives `dropscope serve` (embedded bus, Calico flow-log file collector) at
 * rising flow rates and reports, per step:
 *  - the rate offered and the rate stored (flows committed to edge_rollups per second),
 *  - the backlog at the end of the step (written but not yet committed); a step holds when the
 *    backlog is under one second of its rate,
 *  - p99 latency from flow time to committed row: probe denies written every 100 ms with the
 *    current time, timed until their drop_events row is visible (polled every 50 ms),
 *  - the service's peak RSS (VmHWM, Linux).
 * PostgreSQL: DATABASE_URL when set, else a throwaway embedded server.
 *
 * Options: --rates 1000,2000,4000 (flows/s), --seconds 10 (per step).
 */
import { spawn } from 'node:child_process';
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from '../src/common/free-port.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PostgresServer } from '../src/storage/postgres-server.js';

const args = process.argv.slice(2);
function option(name: string, def: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
}
const RATES = option('--rates', '1000,2000,4000,8000').split(',').map(Number);
const STEP_SECONDS = Number(option('--seconds', '10'));
const TICK_MS = 100;
const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'main.js');

/** One flows.log line standing for one flow; `seq` makes each distinct. */
function line(seq: number, action: 'allow' | 'deny', pod: string, epochSeconds: number): string {
  return JSON.stringify({
    start_time: epochSeconds,
    end_time: epochSeconds,
    source_name: pod,
    source_name_aggr: `load-${seq % 50}-*`,
    source_namespace: 'load',
    source_type: 'wep',
    dest_name: '-',
    dest_name_aggr: `svc-${seq % 20}-*`,
    dest_namespace: 'load',
    dest_port: 8080,
    dest_type: 'wep',
    proto: 'tcp',
    action,
    reporter: 'src',
    policies: { all_policies: [`0|default|load/knp.default.p|${action}|-1`] },
    num_flows: 1,
    packets_in: 1,
    packets_out: 1,
    bytes_in: seq,
    bytes_out: 1,
  });
}

function p99(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.99) - 1)];
}

function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dropscope-load-'));
  chmodSync(dir, 0o755);
  let server: PostgresServer | undefined;
  let url = process.env.DATABASE_URL;
  if (!url) {
    const port = await freePort();
    server = await PostgresServer.create({
      dataDir: join(dir, 'pg'),
      port,
      password: 'load',
      initdbFlags: ['--encoding=UTF8', '--locale=C'],
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    });
    await server.initialise();
    await server.start();
    url = `postgres://postgres:load@127.0.0.1:${port}/postgres`;
  }
  const db = new pg.Client({ connectionString: url });
  const log = join(dir, 'flows.log');
  writeFileSync(log, '');
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env: {
      ...process.env,
      DATABASE_URL: url,
      CALICO_FLOWLOG_PATH: log,
      DROPSCOPE_ROLES: 'collector,aggregator',
      DROPSCOPE_DATA_DIR: dir,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    await db.connect();
    const stored = async (): Promise<number> => {
      const r = await db.query(`SELECT coalesce(sum(count), 0)::bigint AS n FROM edge_rollups`).catch(() => undefined);
      return r ? Number((r.rows as Array<{ n: string }>)[0].n) : 0;
    };
    // Started: the schema is there and a first line went through.
    let seq = 0;
    appendFileSync(log, `${line(seq++, 'allow', 'warmup', Math.floor(Date.now() / 1000))}\n`);
    while ((await stored()) < 1) await new Promise((r) => setTimeout(r, 100));
    let written = 1;

    console.log('| offered flows/s | stored flows/s | backlog at end | held | p99 flow → row (ms) | peak RSS (MiB) |');
    console.log('| --------------: | -------------: | -------------: | ---- | ------------------: | -------------: |');
    let sustained = 0;
    for (const rate of RATES) {
      const probes = new Map<string, number>(); // pod → time written
      const latencies: number[] = [];
      const storedAtStart = await stored();
      const start = Date.now();
      let ticks = 0;
      let polling = false;
      const poller = setInterval(() => {
        if (polling || probes.size === 0) return;
        polling = true;
        void db
          .query(`SELECT DISTINCT src_pod FROM drop_events WHERE src_pod = ANY($1::text[])`, [[...probes.keys()]])
          .then((r) => {
            const now = Date.now();
            for (const { src_pod } of r.rows as Array<{ src_pod: string }>) {
              const at = probes.get(src_pod);
              if (at !== undefined) latencies.push(now - at);
              probes.delete(src_pod);
            }
          })
          .finally(() => (polling = false));
      }, 50);
      while (Date.now() - start < STEP_SECONDS * 1000) {
        const due = Math.round(((ticks + 1) * TICK_MS * rate) / 1000) - Math.round((ticks * TICK_MS * rate) / 1000);
        const now = Date.now();
        const t = Math.floor(now / 1000);
        const pod = `probe-${rate}-${ticks}`;
        let chunk = `${line(seq++, 'deny', pod, t)}\n`;
        for (let i = 1; i < due; i++) chunk += `${line(seq++, 'allow', 'load', t)}\n`;
        appendFileSync(log, chunk);
        probes.set(pod, now);
        written += Math.max(1, due);
        ticks++;
        const next = start + ticks * TICK_MS;
        await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
      }
      const elapsed = (Date.now() - start) / 1000;
      const now = await stored();
      const backlog = written - now;
      const held = backlog <= rate;
      if (held) sustained = Math.max(sustained, rate);
      // Drain before the next step so each step starts without backlog.
      while ((await stored()) < written) await new Promise((r) => setTimeout(r, 100));
      while (probes.size > 0 && Date.now() - start < (STEP_SECONDS + 60) * 1000)
        await new Promise((r) => setTimeout(r, 50));
      clearInterval(poller);
      console.log(
        `| ${rate} | ${Math.round((now - storedAtStart) / elapsed)} | ${backlog} | ${held ? 'yes' : 'no'} | ${Math.round(p99(latencies))} | ${peakRssMiB(child.pid!).toFixed(0)} |`,
      );
    }
    console.log(`\nsustained: ${sustained} flows/s (highest step whose backlog stayed under one second of flows)`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
    await db.end().catch(() => undefined);
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
