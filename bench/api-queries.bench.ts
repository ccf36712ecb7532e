/**
 * API query benchmark: fills a database with 24 h of per-minute edge roll-ups worth ~10 million
 * flows (a cluster of 50 namespaces x 20 workloads, 5,000 distinct edges of which ~250 are active
 * in any minute; 85 % of edge rows allowed, 12 % denied, 2 % dropped, 1 % audit; ~28 flows per
 * row) plus 200,000 drop events, then times the REAL read repositories (src/storage/*.reader.ts) for
 * every summary `by`, the time series, edges and the first page of drop events over 24 h, twice:
 * on the minute rows alone (nothing closed yet, the worst case: a `serve` whose closing has not
 * run), then after the roll-up closer has summed the day into its 5-minute, 15-minute, hour,
 * 4-hour and day rows, as a running `serve` does (what a 24 h request reads in production).
 * Rows are inserted directly with generate_series SQL (the aggregator's write path has its own
 * benchmark). Called by the bench runner; also runnable alone (embedded PostgreSQL when
 * DATABASE_URL is unset; the database must be empty or hold only this benchmark's data):
 *   npx tsc -p tsconfig.build.json && node dist/bench/api-queries.bench.js
 */
import { pathToFileURL } from 'node:url';
import { DROP_VERDICTS } from '../src/api/drop-filters.js';
import { silentLogger } from '../src/common/logger.js';
import { createDataSource } from '../src/storage/data-source.js';
import { PostgresDropEventReader } from '../src/storage/drop-event.reader.js';
import { PostgresEdgeReader } from '../src/storage/edge.reader.js';
import { SUMMARY_BY, type DropFilters } from '../src/storage/readers.js';
import { PostgresRollupStatsReader } from '../src/storage/rollup-stats.reader.js';
import { PartitionManager } from '../src/storage/partition.manager.js';
import { RESOLUTIONS, RollupCloser } from '../src/storage/rollup-closer.js';
import { COARSE_ROLLUP_TABLES, runWithBenchDatabase } from './bench-database.js';

export interface ApiQueriesBenchResult {
  rollupRows: number;
  flows: number;
  dropEvents: number;
  fillSeconds: number;
  /** Median of 5 warm runs, ms, per query, on the minute rows alone (nothing closed). */
  minutesMedianMs: Record<string, number>;
  /** Slowest of those runs (first, cold run included), ms. */
  minutesMaxMs: Record<string, number>;
  /** Seconds the closer took to sum the day into the coarser roll-ups. */
  closeSeconds: number;
  /** Median of 5 warm runs, ms, per query, once the day is closed (as serve keeps it). */
  medianMs: Record<string, number>;
  /** Slowest of those runs (first, cold run included), ms. */
  maxMs: Record<string, number>;
}

const MINUTES = 1440;
const EDGES = 5000;
const ACTIVE_PER_MINUTE = 250;
const EVENTS = 200_000;

/**
 * INSERT of synthetic roll-up rows, one per (b, k) row of `from` (which also yields sn, sw, dn, dw:
 * namespace and workload numbers, v: verdict, c: flows per minute, f: minutes per row). Edge k
 * keeps its port, protocol, direction, reason, attribution and policy in every bench.
 *
 * The rows are as wide as the aggregator's: the edge key in its real form (cluster, both ends,
 * port, protocol, verdict, direction, reason, attribution level, policies: ~100 characters) and
 * each end's labels as a Helm-installed Deployment's pods carry them (eight labels, ~300 bytes).
 * Narrow stand-ins made every scan, index and close cheaper than on a real cluster's rows. The
 * edge id is what the aggregator writes (src/aggregator/edge-id.ts), in its SQL form.
 */
export function syntheticRollupInsert(from: string): string {
  return `
INSERT INTO edge_rollups (bucket, edge_key, edge_id, cluster, src_kind, src_namespace, src_workload, src_labels,
  dst_kind, dst_namespace, dst_workload, dst_labels, dst_port, protocol, verdict, direction, drop_reason,
  attribution_level, policies, source, count, packets, bytes, first_seen, last_seen)
SELECT b, concat_ws('|', 'prod', sns || '/' || sww, dns || '/' || dww, port, proto, v, dir, reason, level,
    array_to_string(pol, ',')),
  md5(concat_ws(chr(31), 'prod', 'pod', sns, sww, 'pod', dns, dww, port::text, proto, v))::uuid,
  'prod', 'pod', sns, sww, ${podLabels('sw', 'sns')}, 'pod', dns, dww, ${podLabels('dw', 'dns')},
  port, proto, v, dir, reason, level, pol,
  'hubble', c * f, c * f * 10, c * f * 1200, b + interval '1 second', b + f * interval '1 minute' - interval '1 second'
FROM (${from}) AS x,
  LATERAL (SELECT 'ns-' || sn AS sns, 'Deployment/app-' || sw AS sww, 'ns-' || dn AS dns,
    'Deployment/app-' || dw AS dww, (ARRAY[80, 443, 5432, 6379, 8080, 9090, 53, 3306])[1 + k % 8] AS port,
    CASE WHEN k % 8 = 6 THEN 'UDP' ELSE 'TCP' END AS proto, CASE WHEN k % 2 = 0 THEN 'ingress' ELSE 'egress' END AS dir,
    CASE WHEN v = 'denied' THEN 'POLICY_DENIED' WHEN v = 'dropped' THEN 'CT_MAP_INSERTION_FAILED' WHEN v = 'audit' THEN 'POLICY_DENIED' ELSE '' END AS reason,
    CASE WHEN v = 'allowed' THEN '' WHEN k % 10 < 7 THEN 'inferred' WHEN k % 10 < 9 THEN 'reported' ELSE 'unknown' END AS level,
    CASE WHEN v = 'allowed' OR k % 10 = 9 THEN '{}'::text[] ELSE ARRAY['ns-' || dn || '/deny-' || (k % 5)] END AS pol) AS e`;
}

/** The labels of workload number `w`'s pods in namespace `ns` (SQL expressions), as a Helm chart sets them. */
function podLabels(w: string, ns: string): string {
  return `jsonb_build_object('app.kubernetes.io/name', 'app-' || ${w}, 'app.kubernetes.io/instance', 'app-' || ${w} || '-' || ${ns},
    'app.kubernetes.io/component', 'backend', 'app.kubernetes.io/part-of', ${ns}, 'app.kubernetes.io/managed-by', 'Helm',
    'app.kubernetes.io/version', '1.' || ${w} || '.0', 'helm.sh/chart', 'app-' || ${w} || '-1.' || ${w} || '.0',
    'pod-template-hash', substr(md5(${ns} || ${w}), 1, 10))`;
}

/** The verdict of edge k: 85 % allowed, 12 % denied, 2 % dropped, 1 % audit. */
export const EDGE_VERDICT = `CASE WHEN k % 100 < 85 THEN 'allowed' WHEN k % 100 < 97 THEN 'denied' WHEN k % 100 < 99 THEN 'dropped' ELSE 'audit' END`;

/** Namespace and workload numbers of edge k's ends (50 namespaces x 20 workloads). */
export const EDGE_ENDS = `k % 50 AS sn, (k / 50) % 20 AS sw, (k * 7 + k / 50) % 50 AS dn, (k / 3) % 20 AS dw`;

const FILL_ROLLUPS = syntheticRollupInsert(`
  SELECT b, k, ${EDGE_ENDS}, ${EDGE_VERDICT} AS v, 1 + ((k * 31 + m * 17) % 55) AS c, 1 AS f
  FROM generate_series(0, ${MINUTES - 1}) AS m,
    LATERAL (SELECT $1::timestamptz + m * interval '1 minute' AS b) AS t,
    LATERAL (SELECT (e * 7919 + m * 13) % ${EDGES} AS k FROM generate_series(0, ${ACTIVE_PER_MINUTE - 1}) AS e) AS ed`);

const FILL_EVENTS = `
INSERT INTO drop_events (flow_id, time, source, cluster, node, verdict, drop_reason, direction, src_kind, src_namespace,
  src_pod, src_workload, dst_kind, dst_namespace, dst_pod, dst_workload, dst_port, protocol, count, attribution_level,
  policies, attribution, record)
SELECT md5(i::text), t, 'hubble', 'prod', 'node-' || (i % 10), 'denied', 'POLICY_DENIED', 'ingress', 'pod', 'ns-' || sn,
  'app-' || sw || '-pod-' || (i % 3), 'Deployment/app-' || sw, 'pod', 'ns-' || dn, 'app-' || dw || '-pod-' || (i % 3),
  'Deployment/app-' || dw, 8080, 'TCP', 1, 'inferred', ARRAY['ns-' || dn || '/deny-' || (i % 5)],
  json_build_object('level', 'inferred', 'policies', json_build_array(json_build_object('kind', 'NetworkPolicy', 'namespace', 'ns-' || dn, 'name', 'deny-' || (i % 5)))),
  json_build_object('id', md5(i::text), 'source', 'hubble', 'cluster', 'prod', 'time', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'verdict', 'denied', 'dropReason', 'POLICY_DENIED', 'direction', 'ingress',
    'src', json_build_object('kind', 'pod', 'namespace', 'ns-' || sn, 'pod', 'app-' || sw || '-pod-' || (i % 3), 'labels', json_build_object('app', 'app-' || sw)),
    'dst', json_build_object('kind', 'pod', 'namespace', 'ns-' || dn, 'pod', 'app-' || dw || '-pod-' || (i % 3), 'labels', json_build_object('app', 'app-' || dw)),
    'protocol', 'TCP', 'dstPort', 8080, 'count', 1, 'policies', json_build_array())
FROM (SELECT i, $1::timestamptz + (i * (86400.0 / ${EVENTS})) * interval '1 second' AS t, i % 50 AS sn, (i / 50) % 20 AS sw,
  (i * 7) % 50 AS dn, (i / 7) % 20 AS dw FROM generate_series(0, ${EVENTS - 1}) AS i) AS x`;

async function time(fn: () => Promise<unknown>, runs: number): Promise<{ median: number; max: number }> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  const warm = ms.slice(1).sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 10) / 10;
  return { median: round(warm[Math.floor(warm.length / 2)]), max: round(Math.max(...ms)) };
}

export async function benchApiQueries(databaseUrl: string): Promise<ApiQueriesBenchResult> {
  const ds = createDataSource(databaseUrl, 4);
  await ds.initialize();
  try {
    await ds.runMigrations({ transaction: 'each' });
    // A fixed day, so repeated runs hit the same (or freshly filled) partitions.
    const start = Date.parse('2025-06-01T00:00:00Z');
    const day = start / 86_400_000;
    const partitions = new PartitionManager(ds, silentLogger);
    await partitions.ensure([day, day + 1]);
    const t0 = performance.now();
    // The coarser roll-ups and their marks too: a closed mark left by an earlier run would send
    // the readers to that run's coarse rows.
    await ds.query(`TRUNCATE edge_rollups, ${COARSE_ROLLUP_TABLES}, rollup_totals_hourly, drop_events`);
    await ds.query('UPDATE rollup_resolutions SET closed_through = NULL');
    await ds.query(FILL_ROLLUPS, [new Date(start).toISOString()]);
    await ds.query(FILL_EVENTS, [new Date(start).toISOString()]);
    await ds.query(`VACUUM ANALYZE edge_rollups`);
    await ds.query(`VACUUM ANALYZE drop_events`);
    const fillSeconds = Math.round((performance.now() - t0) / 100) / 10;
    const [{ rows, flows }] = (await ds.query(
      `SELECT count(*)::int AS rows, sum(count)::bigint AS flows FROM edge_rollups`,
    )) as Array<{
      rows: number;
      flows: string;
    }>;

    const q = new PostgresRollupStatsReader(ds);
    const edges = new PostgresEdgeReader(ds);
    const events = new PostgresDropEventReader(ds);
    const window: DropFilters = { from: start, to: start + 86_400_000, verdict: [...DROP_VERDICTS] };
    const cases: Array<[string, () => Promise<unknown>]> = [
      ...SUMMARY_BY.map((by): [string, () => Promise<unknown>] => [
        `summary by=${by}`,
        () => q.summary(window, by, 20),
      ]),
      ['summary by=edge namespace=ns-7', () => q.summary({ ...window, namespace: 'ns-7' }, 'edge', 20)],
      ['summary by=namespace verdict=denied', () => q.summary({ ...window, verdict: ['denied'] }, 'namespace', 20)],
      ['summary by=edge policy=ns-3/deny-1', () => q.summary({ ...window, policy: 'ns-3/deny-1' }, 'edge', 20)],
      [
        'summary by=edge workload=Deployment/app-4',
        () => q.summary({ ...window, workload: 'Deployment/app-4' }, 'edge', 20),
      ],
      ['timeseries step=5m', () => q.timeseries(window, '5m')],
      ['timeseries step=1m', () => q.timeseries(window, '1m')],
      ['timeseries step=1h namespace=ns-7', () => q.timeseries({ ...window, namespace: 'ns-7' }, '1h')],
      [
        'edges (all verdicts) limit=1000',
        () => edges.edges({ ...window, verdict: ['allowed', 'denied', 'dropped', 'audit', 'other'] }, 1000, 0),
      ],
      ['drops first page limit=100', () => events.listDrops(window, 100)],
      ['drops pod=app-3-pod-1', () => events.listDrops({ ...window, pod: 'app-3-pod-1' }, 100)],
      ['policy drop stats', () => q.policyDropStats(window)],
    ];
    const timeCases = async (): Promise<{ medianMs: Record<string, number>; maxMs: Record<string, number> }> => {
      const medianMs: Record<string, number> = {};
      const maxMs: Record<string, number> = {};
      for (const [name, fn] of cases) {
        const r = await time(fn, 6);
        medianMs[name] = r.median;
        maxMs[name] = r.max;
      }
      return { medianMs, maxMs };
    };
    const minutes = await timeCases();
    const t1 = performance.now();
    // Everything of the filled day is long past: every unit closes, the day row included.
    await new RollupCloser(ds, partitions, silentLogger).closeThrough(start + 2 * 86_400_000);
    for (const r of RESOLUTIONS) await ds.query(`VACUUM ANALYZE ${r.table}`);
    const closeSeconds = Math.round((performance.now() - t1) / 100) / 10;
    const closed = await timeCases();
    return {
      rollupRows: rows,
      flows: Number(flows),
      dropEvents: EVENTS,
      fillSeconds,
      minutesMedianMs: minutes.medianMs,
      minutesMaxMs: minutes.maxMs,
      closeSeconds,
      ...closed,
    };
  } finally {
    await ds.destroy();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runWithBenchDatabase('dropscope-bench-api-', async (url) => {
    const r = await benchApiQueries(url);
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    const slow = Object.entries(r.medianMs).filter(([k, v]) => /^(summary|timeseries)/.test(k) && v >= 200);
    if (slow.length > 0)
      process.stderr.write(`api queries (day closed): over the 200 ms goal: ${slow.map(([k]) => k).join(', ')}\n`);
  });
}
