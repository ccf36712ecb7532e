import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PostgresServer } from '../../src/storage/postgres-server.js';
import { collect, spawnCli, waitForOutput, type CliResult } from '../support/cli.js';
import { freePort } from '../../src/common/free-port.js';

/** A PostgreSQL of the test's own (the shared one must not be stopped), on a throwaway cluster. */
export interface OwnPostgres {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  dispose(): Promise<void>;
}

export async function ownPostgres(): Promise<OwnPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'dropscope-fault-pg-'));
  chmodSync(dir, 0o755); // initdb runs as the postgres user when we are root
  const port = await freePort();
  const server = await PostgresServer.create({
    dataDir: join(dir, 'data'),
    port,
    password: 'fault',
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'full_page_writes=off'],
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:fault@127.0.0.1:${port}/postgres`,
    start: () => server.start(),
    stop: () => server.stop(),
    dispose: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One hand-built Calico flows.log line: `num_flows` 3, 1 packet and 7 bytes out, so n lines hold
 * 3n flows, n packets and 7n bytes. `seq` makes each line (and so its flow id) distinct.
 */
export function flowLine(seq: number, action: 'allow' | 'deny', epochSeconds: number): string {
  return JSON.stringify({
    start_time: epochSeconds,
    end_time: epochSeconds + 5,
    source_name: `client-${seq}`,
    source_name_aggr: 'client-*',
    source_namespace: 'shop',
    source_type: 'wep',
    dest_name: '-',
    dest_name_aggr: 'db-*',
    dest_namespace: 'shop',
    dest_port: 5432,
    dest_type: 'wep',
    proto: 'tcp',
    action,
    reporter: 'src',
    policies: { all_policies: [`0|default|shop/knp.default.deny-all|${action}|-1`] },
    num_flows: 3,
    packets_in: 0,
    packets_out: 1,
    bytes_in: 0,
    bytes_out: 7,
  });
}

/** `n` lines starting at `from`, alternating deny (even seq) and allow (odd seq), newline-terminated. */
export function flowLines(from: number, n: number, epochSeconds: number): string {
  let s = '';
  for (let i = from; i < from + n; i++) s += `${flowLine(i, i % 2 === 0 ? 'deny' : 'allow', epochSeconds)}\n`;
  return s;
}

export interface StoredTotals {
  flows: number;
  packets: number;
  bytes: number;
  events: number;
  eventFlows: number;
}

/** Totals in the roll-ups and drop events; zeros while the schema or the server is not there. */
export async function storedTotals(url: string): Promise<StoredTotals> {
  const c = new pg.Client({ connectionString: url });
  try {
    await c.connect();
    const [r] = (
      await c.query(
        `SELECT coalesce(sum(count), 0)::int AS flows, coalesce(sum(packets), 0)::int AS packets,
                coalesce(sum(bytes), 0)::int AS bytes FROM edge_rollups`,
      )
    ).rows as Array<{ flows: number; packets: number; bytes: number }>;
    const [e] = (await c.query(`SELECT count(*)::int AS n, coalesce(sum(count), 0)::int AS f FROM drop_events`))
      .rows as Array<{ n: number; f: number }>;
    return { ...r, events: e.n, eventFlows: e.f };
  } catch {
    return { flows: 0, packets: 0, bytes: 0, events: 0, eventFlows: 0 };
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** A `dropscope serve` child process with its bound port and everything it logged so far. */
export interface ServeProcess {
  child: ChildProcess;
  port: number;
  output(): string;
  done: Promise<CliResult>;
}

export async function startServe(env: Record<string, string>): Promise<ServeProcess> {
  const child = spawnCli(['serve'], { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const done = collect(child);
  const started = await waitForOutput(child, /"msg":"dropscope started"/, 60_000);
  const port = (JSON.parse(started) as { port: number }).port;
  return { child, port, output: () => out, done };
}

/** GET /readyz: the status and the checks. */
export async function readyz(port: number): Promise<{ status: number; checks: Record<string, string> }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  const body = (await res.json()) as { checks?: Record<string, string> };
  return { status: res.status, checks: body.checks ?? {} };
}

/** The value of one Prometheus sample (a name with its label set as printed), 0 when absent. */
export async function metricValue(port: number, sample: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  for (const line of text.split('\n')) if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
  return 0;
}
