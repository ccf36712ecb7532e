/**
 * `npm run load` told to stop (SIGTERM, SIGINT, SIGHUP: a `kill`, a CI timeout, a closed
 * terminal) stops what it started: its `serve` processes, the Kafka mock cluster, the fake Hubble
 * Relay process and its embedded PostgreSQL. It used to exit alone and leave them running.
 */
import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { collect, ROOT } from '../support/cli.js';
import { until } from '../support/wait.js';

const DRIVER = join(ROOT, 'dist', 'bench', 'load.js');

/** Running: in /proc and not a zombie (an orphan's exit may not be reaped at once in a container). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Live children of `parent` whose command line contains `name`. */
function childrenNamed(parent: number, name: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && running(Number(entry)) && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(name))
        out.push(Number(entry));
    } catch {
      // it ended while we looked
    }
  }
  return out;
}

/** The temporary folder the driver announced on stderr. */
function folderOf(stderr: string): string {
  const folder = /^load: folder (.+)$/m.exec(stderr)?.[1];
  if (!folder) throw new Error(`the driver did not name its folder:\n${stderr}`);
  return folder;
}

function driverEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'DATABASE_URL') env[k] = v;
  return env;
}

const EXIT_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

async function killMidStep(args: string[], signal: NodeJS.Signals, expected: string[]): Promise<void> {
  if (!existsSync(DRIVER)) throw new Error(`${DRIVER} is missing: run \`npm run build\``);
  const env = driverEnv();
  // One long step: the signal lands while it runs.
  const driver = spawn(process.execPath, [DRIVER, '--rates', '200', '--seconds', '120', ...args], {
    env,
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const done = collect(driver);
  try {
    let out = '';
    const pids = await new Promise<Map<string, number>>((resolve, reject) => {
      let pidLine: string | undefined;
      const onData = (d: Buffer) => {
        out += d.toString();
        pidLine ??= /^load: pids (.*)$/m.exec(out)?.[1];
        // The table header: the first step has begun.
        if (pidLine && out.includes('| offered flows/s'))
          resolve(new Map(pidLine.split(' ').map((kv) => [kv.split('=')[0], Number(kv.split('=')[1])] as const)));
      };
      driver.stdout.on('data', onData);
      driver.stderr.on('data', onData);
      driver.once('exit', (code) => reject(new Error(`load driver exited (${code}) before its first step:\n${out}`)));
    });
    expect([...pids.keys()].sort()).toEqual([...expected].sort());
    for (const pid of pids.values()) expect(running(pid)).toBe(true);

    driver.kill(signal);
    const result = await done;

    if (signal === 'SIGKILL') {
      // Nothing runs in the driver: the Relay ends on its own when its IPC channel closes
      // (the mock cluster likewise on its stdin); serve and PostgreSQL are ended here.
      await until('the relay to end', async () => !running(pids.get('relay')!), 30_000);
      for (const [name, pid] of pids)
        if (name !== 'relay' && running(pid)) process.kill(pid, name === 'postgresql' ? 'SIGINT' : 'SIGKILL');
      await until('the rest to end', async () => [...pids.values()].every((pid) => !running(pid)), 30_000);
      rmSync(folderOf(result.stderr), { recursive: true, force: true });
      return;
    }
    expect([...pids].filter(([, pid]) => running(pid))).toEqual([]);
    expect(existsSync(folderOf(result.stderr))).toBe(false);
    expect(result.code).toBe(EXIT_CODES[signal]);
  } finally {
    // A failed expectation must not leave the run behind.
    if (driver.exitCode === null && driver.signalCode === null) {
      driver.kill('SIGTERM');
      await done;
    }
  }
}

describe('the load driver stopped by a signal', () => {
  it('SIGTERM in embedded mode stops serve and the embedded PostgreSQL', async () => {
    await killMidStep([], 'SIGTERM', ['postgresql', 'serve']);
  }, 120_000);

  it('SIGINT in Kafka mode stops the collector, the aggregators, the mock cluster and PostgreSQL', async () => {
    await killMidStep(['--mode', 'kafka', '--aggregators', '1'], 'SIGINT', [
      'postgresql',
      'kafka-mock',
      'aggregator-1',
      'collector',
    ]);
  }, 180_000);

  it('SIGHUP with the Hubble Relay source stops serve, the fake Relay process and PostgreSQL', async () => {
    await killMidStep(['--source', 'hubble-relay'], 'SIGHUP', ['postgresql', 'relay', 'serve']);
  }, 120_000);

  it('SIGKILL of the driver still ends the fake Relay process (its IPC channel closes)', async () => {
    await killMidStep(['--source', 'hubble-relay'], 'SIGKILL', ['postgresql', 'relay', 'serve']);
  }, 120_000);

  it('SIGTERM during start-up, before PostgreSQL is ready, stops PostgreSQL too', async () => {
    if (!existsSync(DRIVER)) throw new Error(`${DRIVER} is missing: run \`npm run build\``);
    const driver = spawn(process.execPath, [DRIVER, '--rates', '200', '--seconds', '120'], {
      env: driverEnv(),
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const done = collect(driver);
    try {
      // The postgres server process exists: the driver has not registered it yet (it is not ready).
      await until(
        'the driver to start postgres',
        async () => childrenNamed(driver.pid!, 'bin/postgres').length > 0,
        60_000,
        10,
      );
      const postgres = childrenNamed(driver.pid!, 'bin/postgres');
      driver.kill('SIGTERM');
      const result = await done;
      expect(postgres.filter(running)).toEqual([]);
      expect(existsSync(folderOf(result.stderr))).toBe(false);
      expect(result.code).toBe(143);
    } finally {
      if (driver.exitCode === null && driver.signalCode === null) {
        driver.kill('SIGTERM');
        await done;
      }
    }
  }, 120_000);
});
