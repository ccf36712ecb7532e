import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { collect, runCli, spawnCli, waitForOutput } from '../support/cli.js';

describe('dropscope db url', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('prints DATABASE_URL with the password masked, or whole with --show-password', async () => {
    const env = { DATABASE_URL: 'postgres://grafana:s3cr%40t@db.example:6432/drops?sslmode=require' };
    const masked = await runCli(['db', 'url'], env);
    expect(masked.code).toBe(0);
    expect(masked.stdout).toBe('postgres://grafana:****@db.example:6432/drops?sslmode=require\n');
    const shown = await runCli(['db', 'url', '--show-password'], env);
    expect(shown.stdout).toBe('postgres://grafana:s3cr%40t@db.example:6432/drops?sslmode=require\n');
  });

  it('embedded: starts the server, prints its URL, shares it with a second call, and stops on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ds-db-url-'));
    dirs.push(dataDir);
    const owner = spawnCli(['db', 'url'], { DROPSCOPE_DATA_DIR: dataDir });
    const done = collect(owner);
    const line = await waitForOutput(owner, /^postgres:\/\//, 90_000);
    expect(line).toMatch(/^postgres:\/\/postgres:\*\*\*\*@127\.0\.0\.1:\d+\/dropscope$/);

    // A second call shares the running server and ends at once, here with the password.
    const second = await runCli(['db', 'url', '--show-password'], { DROPSCOPE_DATA_DIR: dataDir });
    expect(second.code).toBe(0);
    const url = second.stdout.trim();
    expect(url.replace(/:[^:@/]+@/, ':****@')).toBe(line);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query<{ one: number }>('SELECT 1 AS one');
    await client.end();
    expect(rows).toEqual([{ one: 1 }]);

    owner.kill('SIGTERM');
    const ended = await done;
    expect(ended.code).toBe(0);
  });
});
