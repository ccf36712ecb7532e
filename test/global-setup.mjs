// One real PostgreSQL per test run: DATABASE_URL when set, else embedded PostgreSQL in a temp dir.
// Plain JS because jest loads globalSetup through Node's own loader, outside ts-jest; it runs the
// built launcher (dist/, built by `npm test`'s pretest), which also works as root from a checkout
// the postgres user cannot enter. Tests create their own databases from TEST_DATABASE_ADMIN_URL
// (test/support/test-database.ts).
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const launcher = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'src', 'storage', 'postgres-server.js');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export default async function globalSetup() {
  if (process.env.DATABASE_URL) {
    process.env.TEST_DATABASE_ADMIN_URL = process.env.DATABASE_URL;
    return;
  }
  if (!existsSync(launcher)) throw new Error(`${launcher} is missing: run \`npm run build\` (npm test does it first)`);
  const { PostgresServer } = await import(pathToFileURL(launcher).href);
  const dir = mkdtempSync(join(tmpdir(), 'dropscope-test-pg-'));
  chmodSync(dir, 0o755); // initdb runs as the postgres user when we are root
  const port = await freePort();
  const pg = await PostgresServer.create({
    dataDir: join(dir, 'data'),
    port,
    password: 'test',
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    // Durability is irrelevant for a throwaway test cluster; speed is not.
    postgresFlags: [
      ...['-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off'],
      ...['-c', 'full_page_writes=off', '-c', 'max_connections=300'],
    ],
  });
  await pg.initialise();
  await pg.start();
  process.env.TEST_DATABASE_ADMIN_URL = `postgres://postgres:test@127.0.0.1:${port}/postgres`;
  globalThis.__dropscopePg = {
    stop: async () => {
      await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
