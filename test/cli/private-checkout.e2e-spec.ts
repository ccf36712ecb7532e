import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collect, ROOT, waitForOutput } from '../support/cli.js';

/**
 * The README's commands from a clone in a folder nobody else may enter (mode 0700, as a clone in
 * root's home or under `mktemp -d`). As root, PostgreSQL runs as the `postgres` user, which cannot
 * reach such a folder; the service and the tests' database must start anyway.
 */
describe('a checkout in a private folder', () => {
  let outer: string;
  let clone: string;
  const env: Record<string, string> = {};

  beforeAll(() => {
    outer = mkdtempSync(join(tmpdir(), 'ds-private-'));
    expect(statSync(outer).mode & 0o777).toBe(0o700);
    clone = join(outer, 'ds');
    execFileSync('git', ['clone', '--quiet', ROOT, clone]);
    // The installed packages and the build, hard-linked (as fast as a symlink, but the paths stay
    // inside the private folder, which is the point).
    for (const d of ['node_modules', 'dist']) execFileSync('cp', ['-al', join(ROOT, d), join(clone, d)]);
    for (const [k, v] of Object.entries(process.env))
      if (v !== undefined && !/^(DATABASE_URL|TEST_DATABASE_ADMIN_URL|DROPSCOPE_DATA_DIR|KAFKA_.*)$/.test(k))
        env[k] = v;
  });
  afterAll(() => {
    rmSync(outer, { recursive: true, force: true });
    // As root, the cluster of the clone's default data dir lives outside it (README, "Running as root").
    const key = createHash('sha256').update(join(clone, '.dropscope')).digest('hex').slice(0, 16);
    rmSync(join('/var/lib/dropscope/data', key), { recursive: true, force: true });
  });

  it('serve starts on the default data dir and answers /readyz', async () => {
    const child = spawn(process.execPath, ['dist/src/cli/main.js', 'serve', '--port', '0'], {
      cwd: clone,
      env: { ...env, LOG_LEVEL: 'info', AUTH_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = collect(child);
    try {
      const line = await waitForOutput(child, /"msg":"dropscope started"/, 120_000);
      const { port } = JSON.parse(line) as { port: number };
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
    expect((await exited).code).toBe(0);
  }, 180_000);

  it("a database test runs there on the tests' own embedded PostgreSQL", async () => {
    const child = spawn(
      process.execPath,
      [
        '--experimental-vm-modules',
        'node_modules/jest/bin/jest.js',
        '--runInBand',
        'test/storage/migrations.e2e-spec.ts',
      ],
      { cwd: clone, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const r = await collect(child);
    expect(`${r.stdout}${r.stderr}`).toMatch(/Tests:\s+\d+ passed, \d+ total/);
    expect(r.code).toBe(0);
  }, 300_000);
});
