/** A real Prometheus server (Debian's prometheus package) on a temporary configuration, for tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { freePort } from '../../src/common/free-port.js';
import { until } from '../support/wait.js';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';

export interface PrometheusServer {
  url: string;
  /** What Prometheus logged so far (to name the cause when a wait times out). */
  output(): string;
  stop(): Promise<void>;
}

/** Starts Prometheus on `config` (written as prometheus.yml in a temp dir) and waits until it is ready. */
export async function startPrometheus(config: Record<string, unknown>): Promise<PrometheusServer> {
  if (!existsSync(PROMETHEUS_BIN))
    throw new Error(
      `${PROMETHEUS_BIN} is missing: install Debian's prometheus package (scripts/ensure-test-deps.mjs does)`,
    );
  const dir = mkdtempSync(join(tmpdir(), 'dropscope-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, stringifyYaml(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (b: Buffer) => (log += b.toString('utf8')));
  child.stderr!.on('data', (b: Buffer) => (log += b.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(
      'Prometheus to be ready',
      async () => {
        if (child.exitCode !== null) throw new Error(`Prometheus exited with ${child.exitCode}:\n${log}`);
        return (await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200;
      },
      20_000,
      100,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, output: () => log, stop };
}
