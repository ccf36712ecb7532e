import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collect, runCli, spawnCli, waitForOutput } from '../support/cli.js';

describe('dropscope serve on the embedded default', () => {
  // Each test's serve (and its embedded PostgreSQL) has stopped by the end of the test.
  const dirs: string[] = [];
  const tempDir = (prefix: string): string => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('starts embedded PostgreSQL, answers /healthz, /readyz and /metrics, and stops cleanly on SIGTERM', async () => {
    const dataDir = tempDir('dropscope-serve-');
    const child = spawnCli(['serve', '--port', '0'], { DROPSCOPE_DATA_DIR: dataDir, LOG_LEVEL: 'info' });
    const exited = collect(child);
    const line = await waitForOutput(child, /"msg":"dropscope started"/, 90_000);
    const started = JSON.parse(line) as { port: number; database: string; bus: string };
    expect(started.database).toBe('embedded');
    expect(started.bus).toBe('in-process');
    const base = `http://127.0.0.1:${started.port}`;

    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: { database: 'ok' } });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^dropscope_build_info\{version="[^"]+"\} 1$/m);
    expect(metrics).toMatch(/^process_cpu_seconds_total /m);
    expect(existsSync(join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(true);

    child.kill('SIGTERM');
    const result = await exited;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('"msg":"embedded PostgreSQL stopped"');
    // Every stdout line is one JSON object (structured logs).
    for (const l of result.stdout.split('\n').filter((x) => x.trim())) expect(() => JSON.parse(l)).not.toThrow();
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
  }, 120_000);

  it.each([
    [{ PORT: 'eighty' }, 'PORT must be an integer from 0 to 65535, got "eighty"'],
    [{ HUBBLE_ADDR: 'relay' }, 'HUBBLE_ADDR must be host:port'],
    [{ HUBBLE_ADDR: 'relay:4245', HUBBLE_TLS_CERT_FILE: '/c.pem' }, 'HUBBLE_TLS_KEY_FILE must be set too'],
    [{ ALERT_GROUP_WAIT: 'soon' }, 'ALERT_GROUP_WAIT must be a duration such as 30s, 5m or 4h, got "soon"'],
    [{ DROPSCOPE_ROLES: 'api,collecter' }, 'DROPSCOPE_ROLES must be a comma-separated list'],
    [{ DATABASE_URL: 'mysql://u:secret@h/db' }, 'DATABASE_URL must be a postgres:// or postgresql:// URL'],
    [{ AUTH_DISABLED: 'maybe' }, 'AUTH_DISABLED must be true or false, got "maybe"'],
    [
      { DATABASE_URL: 'postgres://u:secret@127.0.0.1:1/db' },
      'start-up check failed: DATABASE_URL cannot be reached: connection refused at 127.0.0.1:1',
    ],
    [
      { HUBBLE_ADDR: 'relay:4245', HUBBLE_TLS_CA_FILE: '/nonexistent/ca.pem' },
      'HUBBLE_TLS_CA_FILE must name a readable file',
    ],
    [{ HOST: 'two words' }, 'HOST must be an IP address or a host name'],
    [{ KAFKA_SASL_USERNAME: 'u' }, 'KAFKA_BROKERS must be set: KAFKA_SASL_USERNAME is set'],
  ])('refuses bad configuration %j with one line naming the variable', async (env, expected) => {
    const r = await runCli(['serve'], { DROPSCOPE_DATA_DIR: tempDir('ds-bad-'), ...env });
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(expected);
    expect(r.stderr).not.toContain('secret');
  });

  it('still shuts down on SIGTERM after its stdout and stderr readers went away', async () => {
    const dataDir = tempDir('dropscope-serve-orphan-');
    const child = spawnCli(['serve', '--port', '0'], { DROPSCOPE_DATA_DIR: dataDir, AUTH_DISABLED: 'true' });
    await waitForOutput(child, /"msg":"dropscope started"/, 90_000);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.stdout?.destroy();
    child.stderr?.destroy();
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running'), 20_000))]);
    if (code === 'still running') child.kill('SIGKILL');
    expect(code).toBe(0);
  }, 120_000);

  it('prints --help for every command', async () => {
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    for (const cmd of ['serve', 'import', 'normalize', 'policy-test', 'migrate']) {
      expect(top.stdout).toContain(cmd);
      const r = await runCli([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: dropscope ${cmd}`);
    }
  });
});
