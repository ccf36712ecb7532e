/**
 * Queries at scale through the real HTTP API: 10,000 active edges every minute (a stable service
 * graph of 50 namespaces x 20 workloads; 85 % of edge rows allowed, 12 % denied, 2 % dropped,
 * 1 % audit) over 30 days, with the hourly and daily roll-ups built by the real closer. Times the summary,
 * time-series and /flows/edges requests over the last 24 h and 30 d (both windows start and end
 * mid-hour, so the ragged minutes at each end come from the minute table) and reports p50/p95.
 * The edge list is timed twice: first through an API with its cache of units off
 * (EDGE_LIST_CACHE_MB=0), then through the default one, started after those runs. At start it
 * reads the last 24 h into its cache in the background (api/edge-list-warmup.ts): its first request,
 * the 24-hour edge list's "cold" run, comes right after the start and waits for that warm-up; its
 * first request of the long window reads every row and fills the cache in the background, and the
 * timed runs after it include the one that meets that fill.
 *
 * Minute rows are generated with generate_series SQL, as wide as real ones (api-queries.bench.ts).
 * The hours where a window's ragged ends fall hold every edge every minute: the first hour of each
 * window and the last three hours (the hour mark lags the clock by up to 1 h 15 m). The hours in
 * between hold one minute row per edge per hour carrying the hour's counts: the closer turns
 * either into the same hour rows (one per edge and hour), and a 24-hour or 30-day query reads only
 * 4-hour, day and hour rows there, but 15 M real-width minute rows per day would not fit this
 * benchmark's disk or time. (So a request that reads every 5-minute row of a day is not timed.)
 *
 * Alone (embedded PostgreSQL when DATABASE_URL is unset; the database must be empty or hold only
 * this benchmark's data; about 20 GB of disk and 15-30 minutes at full scale):
 *   npx tsc -p tsconfig.build.json && node dist/bench/hourly-queries.bench.js [--edges N] [--days N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startService } from '../src/app/service.js';
import { silentLogger } from '../src/common/logger.js';
import { loadConfig } from '../src/config/config.js';
import { createDataSource } from '../src/storage/data-source.js';
import { FIVE_MINUTES_MS, HOUR_MS, RollupCloser } from '../src/storage/rollup-closer.js';
import { PartitionManager } from '../src/storage/partition.manager.js';
import { PostgresRollupWriter } from '../src/storage/rollup.writer.js';
import { BatchRollup } from '../src/aggregator/edge-rollup.js';
import type { FlowEndpoint, FlowRecord } from '../src/flow/flow-record.js';
import { EDGE_ENDS, EDGE_VERDICT, syntheticRollupInsert } from './api-queries.bench.js';
import { COARSE_ROLLUP_TABLES, runWithBenchDatabase } from './bench-database.js';
import { endedChildrenCpu, postgresCpu, postmasterPid } from './serve-processes.js';

const PORTS = [80, 443, 5432, 6379, 8080, 9090, 53, 3306];

/** One flow of each of the fill's edges (the same ends, port and verdict as EDGE_ENDS and EDGE_VERDICT) at `now`. */
function liveBatch(edges: number, now: number): BatchRollup {
  const b = new BatchRollup();
  const time = new Date(now).toISOString();
  for (let k = 0; k < edges; k++) {
    const pod = (ns: number, w: number): FlowEndpoint => ({
      kind: 'pod',
      namespace: `ns-${ns}`,
      workload: { kind: 'Deployment', name: `app-${w}` },
    });
    const v = k % 100 < 85 ? 'allowed' : k % 100 < 97 ? 'denied' : k % 100 < 99 ? 'dropped' : 'audit';
    const f: FlowRecord = {
      id: `live-${now}-${k}`,
      source: 'hubble',
      cluster: 'prod',
      time,
      verdict: v,
      direction: k % 2 === 0 ? 'ingress' : 'egress',
      src: pod(k % 50, Math.floor(k / 50) % 20),
      dst: pod((k * 7 + Math.floor(k / 50)) % 50, Math.floor(k / 3) % 20),
      protocol: k % 8 === 6 ? 'UDP' : 'TCP',
      dstPort: PORTS[k % 8],
      count: 1,
      policies: [],
    };
    b.add(f, undefined);
  }
  return b;
}

/** The API's settings for this benchmark's service. */
function configEnv(databaseUrl: string, dataDir: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    DROPSCOPE_ROLES: 'api',
    AUTH_DISABLED: 'true',
    DROPSCOPE_DATA_DIR: dataDir,
  };
}

export interface HourlyQueriesOptions {
  /** Active edges per minute (default 10,000). */
  edges?: number;
  /** Length of the long window (default 30). */
  days?: number;
  /** Timed runs per request after one cold run (default 10). */
  runs?: number;
  onProgress?: (line: string) => void;
}

export interface HourlyQueriesResult {
  edges: number;
  days: number;
  minuteRows: number;
  fiveMinuteRows: number;
  fifteenMinuteRows: number;
  hourRows: number;
  fourHourRows: number;
  dayRows: number;
  fillSeconds: number;
  /** Closing the hours of the window with the real closer. */
  closeSeconds: number;
  /** Closing one 5-minute unit (every edge every minute), median, s. */
  closeFiveMinutesSeconds: number;
  /** Closing a 15-minute unit's last 5-minute unit and then the 15-minute unit from its 5-minute rows, median, s. */
  closeFifteenMinutesSeconds: number;
  /** Closing an hour's last 5-minute and 15-minute units and then the hour from its 15-minute rows, median, s. */
  closeFullHourSeconds: number;
  /**
   * Per request: p50 and p95 of the warm runs and the cold first run, ms; the CPU time of one warm
   * run (this process, which serves the API, plus every PostgreSQL process), ms, when PostgreSQL
   * runs on this machine (null otherwise).
   */
  requests: Array<{ name: string; path: string; p50: number; p95: number; cold: number; cpuMs: number | null }>;
}

const MINUTE = 60_000;

/** Minute rows for every edge and every minute in [$1, $2), or one row per edge per hour when $3. */
function fillSql(edges: number): string {
  return syntheticRollupInsert(`
  SELECT b, f, k, ${EDGE_ENDS}, ${EDGE_VERDICT} AS v,
    1 + ((k * 31 + extract(epoch FROM b)::bigint / 60 * 17) % 55) AS c
  FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 minute',
      CASE WHEN $3::boolean THEN interval '1 hour' ELSE interval '1 minute' END) AS b,
    LATERAL (SELECT CASE WHEN $3::boolean THEN 60 ELSE 1 END AS f) AS s,
    generate_series(0, ${edges - 1}) AS k`);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const round = (x: number) => Math.round(x * 10) / 10;

export async function benchHourlyQueries(
  databaseUrl: string,
  o: HourlyQueriesOptions = {},
): Promise<HourlyQueriesResult> {
  const edges = o.edges ?? 10_000;
  const days = o.days ?? 30;
  const runs = o.runs ?? 10;
  const say = o.onProgress ?? (() => undefined);
  const ds = createDataSource(databaseUrl, 4);
  await ds.initialize();
  const dataDir = mkdtempSync(join(tmpdir(), 'dropscope-bench-hourly-'));
  try {
    await ds.runMigrations({ transaction: 'each' });
    const partitions = new PartitionManager(ds, silentLogger);
    const now = Date.now();
    // Full minutes: the first hour of the long window and everything from the hour holding now - 24 h.
    const longStart = Math.floor((now - days * 86_400_000) / HOUR_MS) * HOUR_MS;
    const dayStart = Math.floor((now - 86_400_000) / HOUR_MS) * HOUR_MS;
    const end = Math.floor(now / MINUTE) * MINUTE + MINUTE;
    // Every minute from here on: the window's end reads up to 1 h 15 m of 15-minute, 5-minute and minute rows.
    const tailStart = Math.floor(now / HOUR_MS) * HOUR_MS - 2 * HOUR_MS;
    const dayNumbers: number[] = [];
    for (let d = Math.floor(longStart / 86_400_000); d <= Math.floor(end / 86_400_000); d++) dayNumbers.push(d);
    await partitions.ensure(dayNumbers);
    await ds.query(`TRUNCATE edge_rollups, ${COARSE_ROLLUP_TABLES}, rollup_totals_hourly`);
    await ds.query(`UPDATE rollup_resolutions SET closed_through = NULL`);

    const t0 = performance.now();
    // Secondary indexes are built once after the fill: maintaining seven of them row by row would
    // make the fill several times slower (the migration's definitions are restored as they were).
    const indexes = (await ds.query(
      `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'edge_rollups' AND indexname <> 'edge_rollups_pkey'`,
    )) as Array<{ indexname: string; indexdef: string }>;
    for (const i of indexes) await ds.query(`DROP INDEX ${i.indexname}`);
    const fill = (from: number, to: number, sparse: boolean) =>
      ds.query(fillSql(edges), [new Date(from).toISOString(), new Date(to).toISOString(), sparse]);
    try {
      await fill(longStart, longStart + HOUR_MS, false);
      for (let h = longStart + HOUR_MS; h < dayStart; h += 7 * 86_400_000) {
        await fill(h, Math.min(dayStart, h + 7 * 86_400_000), true);
        say(`filled sparse hours to ${new Date(Math.min(dayStart, h + 7 * 86_400_000)).toISOString()}`);
      }
      await fill(dayStart, dayStart + HOUR_MS, false);
      await fill(dayStart + HOUR_MS, tailStart, true);
      say(`filled sparse hours to ${new Date(tailStart).toISOString()}`);
      for (let h = tailStart; h < end; h += HOUR_MS) await fill(h, Math.min(end, h + HOUR_MS), false);
      say(`filled minutes to ${new Date(end).toISOString()}`);
    } finally {
      // pg_indexes gives a partitioned table's index as `ON ONLY`, which would leave the partitions
      // without it: build it on every partition, as the migration did.
      for (const i of indexes) await ds.query(i.indexdef.replace(' ON ONLY ', ' ON '));
    }
    await ds.query(`VACUUM ANALYZE edge_rollups`);
    const fillSeconds = round((performance.now() - t0) / 1000);

    // The closer as serve runs it with the default lateness: every 5-minute and 15-minute unit that
    // ended more than 2 minutes ago, every hour that ended more than 15 minutes ago. The last 24 h
    // are closed 5 minutes at a time, and the units of the last hours (every edge every minute)
    // timed: a 5-minute unit alone, a 5-minute unit plus the 15-minute unit it completes, and at
    // each hour's end (15 minutes later) those plus the hour.
    const closer = new RollupCloser(ds, partitions, silentLogger);
    const t1 = performance.now();
    await closer.closeThrough(longStart + HOUR_MS);
    await closer.closeThrough(dayStart);
    const fiveMinutes: number[] = [];
    const quarters: number[] = [];
    const fullHours: number[] = [];
    for (let t = dayStart + FIVE_MINUTES_MS; t <= now - 2 * MINUTE; t += FIVE_MINUTES_MS) {
      const s = performance.now();
      const closed = await closer.closeThrough(t + 2 * MINUTE - 15 * MINUTE, undefined, t);
      const seconds = (performance.now() - s) / 1000;
      // The start of the coarsest unit this step closed (an hour closes 15 minutes after its end).
      const unitStart =
        closed.hour > 0
          ? Math.floor((t - 13 * MINUTE) / HOUR_MS) * HOUR_MS - HOUR_MS
          : t - (closed['15m'] > 0 ? 15 * MINUTE : FIVE_MINUTES_MS);
      if (unitStart >= tailStart)
        (closed.hour > 0 ? fullHours : closed['15m'] > 0 ? quarters : fiveMinutes).push(seconds);
    }
    const closeSeconds = round((performance.now() - t1) / 1000);
    for (const times of [fiveMinutes, quarters, fullHours]) times.sort((a, b) => a - b);
    await ds.query(`VACUUM ANALYZE ${COARSE_ROLLUP_TABLES}, rollup_totals_hourly`);
    const [{ minutes, fives, fifteens, hours, fours, days: dayRows }] = (await ds.query(
      `SELECT (SELECT count(*) FROM edge_rollups)::bigint AS minutes, (SELECT count(*) FROM edge_rollups_5m)::bigint AS fives,
        (SELECT count(*) FROM edge_rollups_15m)::bigint AS fifteens,
        (SELECT count(*) FROM edge_rollups_hourly)::bigint AS hours, (SELECT count(*) FROM edge_rollups_4h)::bigint AS fours,
        (SELECT count(*) FROM edge_rollups_daily)::bigint AS days`,
    )) as Array<{ minutes: string; fives: string; fifteens: string; hours: string; fours: string; days: string }>;
    say(
      `closed: ${fives} 5-minute rows, ${fifteens} 15-minute rows, ${hours} hour rows, ${fours} 4-hour rows and ${dayRows} day rows from ${minutes} minute rows in ${closeSeconds} s`,
    );

    // The API without the edge list's cache of units (EDGE_LIST_CACHE_MB=0), for comparison; the
    // default one starts once its requests are timed, so that its warm-up (the last 24 h, read
    // into the cache at start) runs beside nothing timed and its first request meets it.
    const uncached = await startService(
      loadConfig({ ...configEnv(databaseUrl, dataDir), EDGE_LIST_CACHE_MB: '0' }),
      silentLogger,
    );
    let service: Awaited<ReturnType<typeof startService>> | undefined;
    const requests: HourlyQueriesResult['requests'] = [];
    try {
      const bases: Record<'cached' | 'uncached', string> = {
        cached: '',
        uncached: `http://127.0.0.1:${uncached.port}/api/v1`,
      };
      const long = `-${days}d`;
      // The edge list without its cache first: the cached requests' first run is then the cache's cold start.
      const cases: Array<[string, string, 'uncached'?]> = [
        ['edges 24h (all verdicts), without the cache (comparison, no goal)', `/flows/edges?from=-24h`, 'uncached'],
        [
          `edges ${days}d (all verdicts), without the cache (comparison, no goal)`,
          `/flows/edges?from=${long}`,
          'uncached',
        ],
        // First after the start: its first run meets the warm-up, which then runs beside nothing timed.
        ['edges 24h (all verdicts)', `/flows/edges?from=-24h`],
        // One namespace, either end: the edge list reads allowed rows too, the summary drop rows only.
        ['edges 24h namespace=ns-3 (all verdicts)', `/flows/edges?from=-24h&namespace=ns-3`],
        ['summary 24h by=edge namespace=ns-3', `/drops/summary?from=-24h&namespace=ns-3`],
        ['summary 24h by=edge', `/drops/summary?from=-24h`],
        ['summary 24h by=namespace', `/drops/summary?from=-24h&by=namespace`],
        ['summary 24h by=policy', `/drops/summary?from=-24h&by=policy`],
        // One policy's drops: the partial GIN index on policies must serve it (sql-filters.ts).
        ['summary 24h by=edge policy=ns-3/deny-1', `/drops/summary?from=-24h&policy=ns-3%2Fdeny-1`],
        ['timeseries 24h step=1h', `/drops/timeseries?from=-24h&step=1h`],
        ['timeseries 24h (default step 1h)', `/drops/timeseries?from=-24h`],
        [`summary ${days}d by=edge`, `/drops/summary?from=${long}`],
        [`summary ${days}d by=namespace`, `/drops/summary?from=${long}&by=namespace`],
        [`summary ${days}d by=policy`, `/drops/summary?from=${long}&by=policy`],
        [`timeseries ${days}d (default step)`, `/drops/timeseries?from=${long}`],
        [`timeseries ${days}d step=1h`, `/drops/timeseries?from=${long}&step=1h`],
        [`edges ${days}d (all verdicts; no goal: the goal is for 24 h)`, `/flows/edges?from=${long}`],
      ];
      const postmaster = await postmasterPid(databaseUrl).catch(() => null);
      const cpu = () => {
        const own = process.cpuUsage();
        // Ended PostgreSQL processes (an autovacuum worker) count too, or the sum could go down.
        const pgCpu = postmaster === null ? 0 : postgresCpu(postmaster) + endedChildrenCpu(postmaster);
        return (own.user + own.system) / 1e6 + pgCpu;
      };
      for (const [name, path, which] of cases) {
        if (which === undefined && service === undefined) {
          service = await startService(loadConfig(configEnv(databaseUrl, dataDir)), silentLogger);
          bases.cached = `http://127.0.0.1:${service.port}/api/v1`;
        }
        const base = bases[which ?? 'cached'];
        const ms: number[] = [];
        let cpuStart = 0;
        for (let i = 0; i <= runs; i++) {
          if (i === 1) cpuStart = cpu();
          const s = performance.now();
          const res = await fetch(`${base}${path}`);
          if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
          await res.arrayBuffer();
          ms.push(performance.now() - s);
        }
        const warm = ms.slice(1).sort((a, b) => a - b);
        const r = {
          name,
          path,
          p50: round(percentile(warm, 50)),
          p95: round(percentile(warm, 95)),
          cold: round(ms[0]),
          cpuMs: postmaster === null ? null : round(((cpu() - cpuStart) * 1000) / runs),
        };
        requests.push(r);
        say(`${name}: p50 ${r.p50} ms, p95 ${r.p95} ms (cold ${r.cold} ms), CPU ${r.cpuMs ?? '?'} ms per run`);
      }
      // Live traffic: before each request a writer adds every edge's flows to the current minute,
      // so each request reads that minute again (its writers' count changed).
      const writer = new PostgresRollupWriter(ds, partitions);
      const ms: number[] = [];
      let writeMs = 0;
      for (let i = 0; i <= runs; i++) {
        const w = performance.now();
        await writer.writeBatch(liveBatch(edges, Date.now()), [], []);
        writeMs += performance.now() - w;
        const t = performance.now();
        const res = await fetch(`${bases.cached}/flows/edges?from=-24h`);
        if (!res.ok) throw new Error(`live edges: HTTP ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
        ms.push(performance.now() - t);
      }
      const warm = ms.slice(1).sort((a, b) => a - b);
      const liveCase = {
        name: `edges 24h (all verdicts), ${edges.toLocaleString('en')} rows written to the current minute before each`,
        path: '/flows/edges?from=-24h',
        p50: round(percentile(warm, 50)),
        p95: round(percentile(warm, 95)),
        cold: round(ms[0]),
        cpuMs: null,
      };
      requests.push(liveCase);
      say(
        `${liveCase.name}: p50 ${liveCase.p50} ms, p95 ${liveCase.p95} ms (first ${liveCase.cold} ms; each write ${round(writeMs / (runs + 1))} ms, not timed)`,
      );
    } finally {
      await uncached.close();
      await service?.close();
    }
    return {
      edges,
      days,
      minuteRows: Number(minutes),
      fiveMinuteRows: Number(fives),
      fifteenMinuteRows: Number(fifteens),
      hourRows: Number(hours),
      fourHourRows: Number(fours),
      dayRows: Number(dayRows),
      fillSeconds,
      closeSeconds,
      closeFiveMinutesSeconds: Math.round(percentile(fiveMinutes, 50) * 100) / 100,
      closeFifteenMinutesSeconds: Math.round(percentile(quarters, 50) * 100) / 100,
      closeFullHourSeconds: Math.round(percentile(fullHours, 50) * 100) / 100,
      requests,
    };
  } finally {
    await ds.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : undefined;
  };
  runWithBenchDatabase('dropscope-bench-hourly-pg-', async (url) => {
    const r = await benchHourlyQueries(url, {
      edges: arg('--edges'),
      days: arg('--days'),
      onProgress: (l) => process.stderr.write(`${l}\n`),
    });
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    const slow = r.requests.filter((q) => !q.name.includes('no goal') && q.p50 >= 200);
    if (slow.length > 0) process.stderr.write(`over the 200 ms goal (p50): ${slow.map((q) => q.name).join(', ')}\n`);
  });
}
