/**
 * The import as a new user runs it, on two service-graph shapes (sparse: ~10k edge keys per
 * minute; dense: ~120k): generates N `hubble observe -o json` lines of each shape, times a bare
 * single-threaded JSON.parse of the file in this process (the reference), then runs
 * `node dist/src/cli/main.js import --source hubble FILE` as a child process into empty tables
 * and reports its wall clock (node start-up included), input flows/s, the ratio to the
 * reference and the child's peak RSS (VmHWM from /proc/<pid>/status). For comparison it also
 * times the do-it-yourself path the issue names: one COPY of the raw lines into a `jsonb` column
 * (PostgreSQL parses and stores each line; nothing is mapped, rolled up or indexed), from
 * opening the file to the commit, over an open connection.
 *
 * The database is PostgreSQL at DATABASE_URL (its tables are emptied first) or an embedded one
 * this bench starts once; its start-up is not in the figure, connecting and migrating are.
 *
 * Alone: `npm run build && node dist/bench/import-shapes.bench.js [--flows N] [--shape sparse|dense] [--threads N]`
 * (`--threads N` is passed to the import; without it the import's default).
 * Only writing a file: `node dist/bench/import-shapes.bench.js --generate FILE --shape dense`.
 */
import { spawn } from 'node:child_process';
import { chmodSync, createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../src/common/logger.js';
import { lineText, readRawLines } from '../src/ingest/line-reader.js';
import { openDatabase, type Database } from '../src/storage/database.js';
import { COARSE_ROLLUP_TABLES } from './bench-database.js';
import {
  generateHubbleLines,
  HUBBLE_SHAPES,
  isHubbleShape,
  type HubbleShape,
} from '../src/synthetic/hubble-flow.generator.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');

export interface ShapeResult {
  shape: HubbleShape;
  lines: number;
  bytes: number;
  /** Most distinct roll-up rows in one minute bucket after the import. */
  edgeKeysPerMinute: number;
  referenceSeconds: number;
  importSeconds: number;
  importFlowsPerSecond: number;
  ratio: number;
  importPeakRssBytes: number;
  /** The do-it-yourself reference: COPY of the raw lines into a jsonb column. */
  rawCopySeconds: number;
  rawCopyRatio: number;
}

/** Writes `count` lines of the given shape, or the generator's default (seed fixed: same file every time). */
export async function writeHubbleFile(path: string, count: number, shape?: HubbleShape): Promise<void> {
  const out = createWriteStream(path, { highWaterMark: 1 << 20 });
  let chunk = '';
  for (const line of generateHubbleLines({ count, seed: 42, shape, policyDropShare: 0.2, otherDropShare: 0.02 })) {
    chunk += `${line}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

/** Seconds for a bare JSON.parse of every line, read the way the import reads them. */
export async function bareJsonParseSeconds(file: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  let n = 0;
  for await (const lines of readRawLines(file))
    for (const l of lines) {
      const text = lineText(l);
      if (text.length > 0 && JSON.parse(text)) n++;
    }
  if (n === 0) throw new Error(`${file} has no lines`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/**
 * Seconds for one COPY of the file's lines into a scratch `jsonb` column, from opening the file
 * to the commit. CSV with a quote and a delimiter no JSON line holds (JSON escapes every control
 * character), so each line arrives as it is and PostgreSQL parses it as jsonb.
 */
export async function rawJsonbCopySeconds(file: string, databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('DROP TABLE IF EXISTS bench_raw_flows');
    await client.query('CREATE TABLE bench_raw_flows (doc jsonb)');
    const t0 = process.hrtime.bigint();
    await pipeline(
      createReadStream(file, { highWaterMark: 1 << 20 }),
      client.query(copyFrom(`COPY bench_raw_flows (doc) FROM STDIN (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')`)),
    );
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const [{ n }] = (await client.query('SELECT count(*)::int AS n FROM bench_raw_flows')).rows as Array<{ n: number }>;
    if (n === 0) throw new Error(`COPY of ${file} stored no rows`);
    return seconds;
  } finally {
    // Its WAL is checkpointed here, not in the middle of the import timed next.
    await client.query('DROP TABLE IF EXISTS bench_raw_flows; CHECKPOINT').catch(() => undefined);
    await client.end();
  }
}

function vmHwm(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0; // exited between two samples
  }
}

/** Runs the import CLI as a child; wall seconds and its peak RSS (sampled VmHWM, which only grows). */
export async function timeImportChild(
  file: string,
  databaseUrl: string,
  importArgs: readonly string[] = [],
): Promise<{ seconds: number; peakRss: number; stdout: string }> {
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, [MAIN, 'import', '--source', 'hubble', '--no-progress', ...importArgs, file], {
    env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, vmHwm(child.pid ?? 0))), 10);
  const [code] = (await once(child, 'exit')) as [number | null];
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  clearInterval(timer);
  if (code !== 0) throw new Error(`import exited with ${code}: ${stderr}`);
  return { seconds, peakRss: peak, stdout };
}

/**
 * Empty tables as a first import sees them: the coarser roll-ups and their marks too. The import
 * closes the 5-minute units it wrote (import.command.ts); with the marks left from the previous
 * shape, whose flows carry the same times, every minute of the next shape would be late and also
 * upserted into edge_rollups_5m (rollup-closer.ts, addLateMinutes), and its 5-minute rows summed
 * onto the previous shape's.
 */
async function emptyTables(db: Database): Promise<void> {
  await db.dataSource.query(
    `TRUNCATE edge_rollups, ${COARSE_ROLLUP_TABLES}, drop_events, stream_checkpoints, dead_letters`,
  );
  await db.dataSource.query('UPDATE rollup_resolutions SET closed_through = NULL');
}

/** Generates, references and imports each shape; `databaseUrl` absent: an embedded server. */
export async function benchImportShapes(opts: {
  flows: number;
  shapes?: readonly HubbleShape[];
  /** `import --threads N` (absent: the import's default). */
  threads?: number;
  onResult?: (r: ShapeResult) => void;
}): Promise<ShapeResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'dropscope-bench-shapes-'));
  chmodSync(dir, 0o755); // the embedded PostgreSQL (postgres user, when we are root) keeps its data inside
  const db = await openDatabase({ url: process.env.DATABASE_URL, dataDir: join(dir, 'data') }, silentLogger);
  const url = process.env.DATABASE_URL ?? (db.dataSource.options as { url?: string }).url;
  if (!url) throw new Error('no database URL');
  const results: ShapeResult[] = [];
  try {
    for (const shape of opts.shapes ?? HUBBLE_SHAPES) {
      const file = join(dir, `hubble-${shape}.jsonl`);
      await writeHubbleFile(file, opts.flows, shape);
      const referenceSeconds = await bareJsonParseSeconds(file);
      const rawCopySeconds = await rawJsonbCopySeconds(file, url);
      await emptyTables(db);
      const imp = await timeImportChild(file, url, opts.threads === undefined ? [] : ['--threads', `${opts.threads}`]);
      const [{ n }] = (await db.dataSource.query(
        'SELECT coalesce(max(c), 0)::int AS n FROM (SELECT count(*) AS c FROM edge_rollups GROUP BY bucket) b',
      )) as Array<{ n: number }>;
      const r: ShapeResult = {
        shape,
        lines: opts.flows,
        bytes: statSync(file).size,
        edgeKeysPerMinute: n,
        referenceSeconds,
        importSeconds: imp.seconds,
        importFlowsPerSecond: opts.flows / imp.seconds,
        ratio: referenceSeconds / imp.seconds,
        importPeakRssBytes: imp.peakRss,
        rawCopySeconds,
        rawCopyRatio: referenceSeconds / rawCopySeconds,
      };
      results.push(r);
      opts.onResult?.(r);
      rmSync(file, { force: true });
    }
  } finally {
    await emptyTables(db).catch(() => undefined);
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

export function formatShapeResult(r: ShapeResult): string {
  const mb = (b: number) => `${Math.round(b / 1024 / 1024)} MB`;
  return (
    `import ${r.shape.padEnd(6)} (${r.lines.toLocaleString('en')} lines, ${mb(r.bytes)}, ` +
    `${r.edgeKeysPerMinute.toLocaleString('en')} edge keys/min): ` +
    `${Math.round(r.importFlowsPerSecond).toLocaleString('en')} flows/s in ${r.importSeconds.toFixed(1)} s wall ` +
    `(JSON.parse ${r.referenceSeconds.toFixed(2)} s), ratio ${r.ratio.toFixed(2)}, peak RSS ${mb(r.importPeakRssBytes)}; ` +
    `raw lines COPY'd into jsonb ${r.rawCopySeconds.toFixed(1)} s, ratio ${r.rawCopyRatio.toFixed(2)}`
  );
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const value = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const shapeArg = value('--shape');
  if (shapeArg !== undefined && !isHubbleShape(shapeArg))
    throw new Error(`--shape must be one of ${HUBBLE_SHAPES.join('|')}`);
  const flows = Number(value('--flows') ?? 200_000);
  const generate = value('--generate');
  if (generate) {
    await writeHubbleFile(generate, flows, shapeArg ?? 'sparse');
    return;
  }
  const threads = value('--threads');
  await benchImportShapes({
    flows,
    shapes: shapeArg ? [shapeArg] : HUBBLE_SHAPES,
    threads: threads === undefined ? undefined : Number(threads),
    onResult: (r) => process.stdout.write(`${formatShapeResult(r)}\n`),
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
