import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

/**
 * For tests that count drop events to catch one stored twice or lost: every event kept
 * (DROP_EVENTS_PER_EDGE_MINUTE would otherwise keep 10 per edge and minute, and a restarted
 * process counts afresh).
 */
export const EVERY_EVENT = { DROP_EVENTS_PER_EDGE_MINUTE: '0' };

/** The CLI tests run the built binary, as users do; `npm test` builds first (pretest). */
export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it in pretest)`);
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function spawnCli(args: string[], env: Record<string, string | undefined> = {}): ChildProcess {
  assertBuilt();
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && k !== 'DATABASE_URL' && !k.startsWith('KAFKA_') && k !== 'POLICY_MANIFESTS') clean[k] = v;
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  return spawn(process.execPath, [CLI, ...args], { env: clean, cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
}

export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

export async function runCli(
  args: string[],
  env: Record<string, string | undefined> = {},
  stdin?: string,
): Promise<CliResult> {
  const child = spawnCli(args, env);
  const done = collect(child);
  if (stdin !== undefined) child.stdin?.end(stdin);
  else child.stdin?.end();
  return done;
}

/** Resolves with the first stdout/stderr line matching `re` (JSON logs), or rejects on exit/timeout. */
export function waitForOutput(child: ChildProcess, re: RegExp, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      for (const line of buf.split('\n')) if (re.test(line)) return done(undefined, line);
    };
    const onExit = (code: number | null) =>
      done(new Error(`process exited (${code}) before ${re}: ${buf.slice(-2000)}`));
    const timer = setTimeout(() => done(new Error(`timed out waiting for ${re}: ${buf.slice(-2000)}`)), timeoutMs);
    const done = (err?: Error, line?: string) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(line!);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', onExit);
  });
}
