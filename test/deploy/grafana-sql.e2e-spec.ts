/**
 * Every SQL query of the provisioned dashboards, expanded as Grafana expands it, runs against a
 * migrated PostgreSQL holding hand-written roll-ups, drop events and alerts, as the read-only
 * role deploy/postgres/initdb creates; each returns the columns its panel type needs, and the key
 * panels return the values worked out by hand below.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { silentLogger } from '../../src/common/logger.js';
import { openDatabase } from '../../src/storage/database.js';
import { PartitionManager } from '../../src/storage/partition.manager.js';
import { createTestDatabase } from '../support/test-database.js';
import {
  allPanels,
  DEPLOY,
  loadDashboards,
  POSTGRES_TYPE,
  targetType,
  type Dashboard,
  type Panel,
  type Target,
} from './grafana-dashboards.js';
import { grafanaSql, type QueryContext, type VariableValue } from './grafana-macros.js';

const T = pg.types.builtins;
const NUMERIC_TYPES = new Set<number>([T.INT2, T.INT4, T.INT8, T.NUMERIC, T.FLOAT4, T.FLOAT8]);
const TEXT_TYPES = new Set<number>([T.TEXT, T.VARCHAR]);
const TIME_TYPES = new Set<number>([T.TIMESTAMPTZ, T.FLOAT8, T.NUMERIC]);

const FROM = new Date('2025-06-09T00:00:00Z');
const TO = new Date('2025-06-10T00:00:00Z');
const DAY = 86_400_000;

/** An edge_rollups row; everything not given is the column default. */
interface Rollup {
  bucket: string;
  cluster?: string;
  src: [kind: string, namespace: string, workload: string];
  dst: [kind: string, namespace: string, workload: string];
  port: number;
  protocol: string;
  verdict: string;
  direction: string;
  reason: string;
  attribution: string;
  policies: string[];
  source: string;
  count: number;
}

// The fixture. Times are in the range (2025-06-09) unless a comment says otherwise.
const ROLLUPS: Rollup[] = [
  // shop/web -> payments/api: denied at 10:00 (5) and 10:01 (3), reported by Cilium.
  ...['10:00', '10:01'].map((hm, i) => ({
    bucket: `2025-06-09T${hm}:00Z`,
    src: ['pod', 'shop', 'web'] as [string, string, string],
    dst: ['pod', 'payments', 'api'] as [string, string, string],
    port: 8443,
    protocol: 'TCP',
    verdict: 'denied',
    direction: 'ingress',
    reason: 'POLICY_DENIED',
    attribution: 'reported',
    policies: ['payments/deny-all'],
    source: 'hubble',
    count: i === 0 ? 5 : 3,
  })),
  // payments/api -> world:443 egress, isolated by two policies (inferred): 4 at 10:00 ...
  {
    bucket: '2025-06-09T10:00:00Z',
    src: ['pod', 'payments', 'api'],
    dst: ['world', '', ''],
    port: 443,
    protocol: 'TCP',
    verdict: 'denied',
    direction: 'egress',
    reason: 'POLICY_DENIED',
    attribution: 'inferred',
    policies: ['payments/deny-all', 'payments/egress-lockdown'],
    source: 'hubble',
    count: 4,
  },
  // ... and once eight days earlier (outside the range, inside 30 days): not a new edge.
  {
    bucket: '2025-06-01T12:00:00Z',
    src: ['pod', 'payments', 'api'],
    dst: ['world', '', ''],
    port: 443,
    protocol: 'TCP',
    verdict: 'denied',
    direction: 'egress',
    reason: 'POLICY_DENIED',
    attribution: 'inferred',
    policies: ['payments/deny-all', 'payments/egress-lockdown'],
    source: 'hubble',
    count: 1,
  },
  // An audit flow (would be denied): only under verdict=audit.
  {
    bucket: '2025-06-09T10:00:00Z',
    src: ['pod', 'shop', 'web'],
    dst: ['pod', 'payments', 'db'],
    port: 5432,
    protocol: 'TCP',
    verdict: 'audit',
    direction: 'ingress',
    reason: '',
    attribution: '',
    policies: [],
    source: 'calico',
    count: 7,
  },
  // Another cluster, no reason, no policy: staging shop/web -> shop/cart.
  {
    bucket: '2025-06-09T11:00:00Z',
    cluster: 'staging',
    src: ['pod', 'shop', 'web'],
    dst: ['pod', 'shop', 'cart'],
    port: 8080,
    protocol: 'TCP',
    verdict: 'denied',
    direction: 'ingress',
    reason: '',
    attribution: '',
    policies: [],
    source: 'goldmane',
    count: 2,
  },
  // The day before the range: monitoring/prometheus -> shop/web, in no panel of the range.
  {
    bucket: '2025-06-08T20:00:00Z',
    src: ['pod', 'monitoring', 'prometheus'],
    dst: ['pod', 'shop', 'web'],
    port: 9090,
    protocol: 'TCP',
    verdict: 'denied',
    direction: 'ingress',
    reason: 'POLICY_DENIED',
    attribution: 'reported',
    policies: ['shop/allow-web'],
    source: 'hubble',
    count: 6,
  },
];

async function insertFixture(c: pg.Client): Promise<void> {
  for (const r of ROLLUPS) {
    const key = [r.cluster ?? 'prod', ...r.src, ...r.dst, r.port, r.protocol, r.verdict, r.policies.join(',')].join(
      '|',
    );
    await c.query(
      `INSERT INTO edge_rollups (bucket, edge_key, cluster, src_kind, src_namespace, src_workload, dst_kind, dst_namespace,
         dst_workload, dst_port, protocol, verdict, direction, drop_reason, attribution_level, policies, source, count,
         first_seen, last_seen)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $1, $1::timestamptz + interval '50 seconds')`,
      [
        r.bucket,
        key,
        r.cluster ?? 'prod',
        ...r.src,
        ...r.dst,
        r.port,
        r.protocol,
        r.verdict,
        r.direction,
        r.reason,
        r.attribution,
        r.policies,
        r.source,
        r.count,
      ],
    );
  }
  await c.query(`
    INSERT INTO drop_events (flow_id, time, source, cluster, verdict, drop_reason, direction, src_kind, src_namespace,
      src_pod, src_workload, dst_kind, dst_namespace, dst_pod, dst_workload, dst_port, protocol, count,
      attribution_level, policies, record)
    VALUES
      ('f1', '2025-06-09T10:00:05Z', 'hubble', 'prod', 'denied', 'POLICY_DENIED', 'ingress', 'pod', 'shop', 'web-7c9', 'web',
       'pod', 'payments', 'api-5d2', 'api', 8443, 'TCP', 1, 'reported', '{payments/deny-all}', '{}'),
      ('f2', '2025-06-09T10:00:30Z', 'hubble', 'prod', 'denied', 'POLICY_DENIED', 'egress', 'pod', 'payments', 'api-5d2', 'api',
       'world', '', '', '', 443, 'TCP', 1, 'inferred', '{payments/deny-all,payments/egress-lockdown}', '{}'),
      ('f3', '2025-06-09T10:00:40Z', 'calico', 'prod', 'audit', '', 'ingress', 'pod', 'shop', 'web-7c9', 'web',
       'pod', 'payments', 'db-0', 'db', 5432, 'TCP', 7, '', '{}', '{}')`);
  await c.query(`
    INSERT INTO alerts (fingerprint, rule_id, status, labels, annotations, count, active_at, fired_at, resolved_at, last_seen)
    VALUES
      ('a1', 'spike', 'firing',
       '{"alertname":"DeniedSpike","severity":"warning","cluster":"prod","namespace":"payments","policy":"payments/deny-all"}',
       '{"summary":"8 denied flows into payments/api"}', 8, '2025-06-09T10:00:00Z', '2025-06-09T10:02:00Z', NULL, '2025-06-09T10:01:50Z'),
      ('a2', 'spike', 'resolved', '{"alertname":"DeniedSpike","severity":"warning","cluster":"prod","namespace":"shop"}',
       '{}', 3, '2025-06-08T10:00:00Z', '2025-06-08T10:02:00Z', '2025-06-08T11:00:00Z', '2025-06-08T10:30:00Z'),
      ('a3', 'any-drop', 'firing', '{"alertname":"AnyDrop","severity":"info"}',
       '{"summary":"drops in every cluster"}', 14, '2025-06-09T10:00:00Z', '2025-06-09T10:05:00Z', NULL, '2025-06-09T11:00:50Z'),
      ('a4', 'spike', 'pending', '{"alertname":"DeniedSpike","severity":"warning","cluster":"staging","namespace":"shop"}',
       '{}', 2, '2025-06-09T11:00:00Z', NULL, NULL, '2025-06-09T11:00:50Z')`);
}

/** The read-only role SQL of deploy/postgres/initdb, with psql's variables substituted as psql does. */
function readOnlyRoleSql(vars: Record<string, string>): string {
  const script = readFileSync(join(DEPLOY, 'postgres', 'initdb', '10-grafana-readonly.sh'), 'utf8');
  const sql = /<<'SQL'\n([\s\S]*?)\nSQL\n/.exec(script)?.[1];
  if (!sql) throw new Error('10-grafana-readonly.sh has no SQL heredoc');
  return sql
    .replace(/:"(\w+)"/g, (_m, v: string) => `"${vars[v].replaceAll('"', '""')}"`)
    .replace(/:'(\w+)'/g, (_m, v: string) => `'${vars[v].replaceAll("'", "''")}'`);
}

const ALL: VariableValue = { all: true };

function contextFor(d: Dashboard, variables: Record<string, VariableValue>): QueryContext {
  const allValues: Record<string, string> = {};
  for (const v of d.templating.list) if (v.allValue !== undefined) allValues[v.name] = v.allValue;
  return { from: FROM, to: TO, interval: '1m', variables, allValues };
}

interface Result {
  fields: Array<{ name: string; dataTypeID: number }>;
  rows: Array<Record<string, unknown>>;
}

describe('Grafana dashboards on real PostgreSQL', () => {
  let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
  let ro: pg.Client;
  const role = `grafana_ro_${process.pid}`;
  const dashboards = loadDashboards();

  beforeAll(async () => {
    testDb = await createTestDatabase();
    const owner = decodeURIComponent(new URL(testDb.url).username);
    const dbName = new URL(testDb.url).pathname.slice(1);
    // As in compose: the initdb script runs on the empty database, the migrations afterwards.
    const admin = new pg.Client({ connectionString: testDb.url });
    await admin.connect();
    await admin.query(readOnlyRoleSql({ ro_user: role, ro_password: 'ro-secret', owner, db: dbName }));
    const db = await openDatabase({ url: testDb.url, dataDir: '/nonexistent' }, silentLogger);
    const days = [...new Set(ROLLUPS.map((r) => Math.floor(Date.parse(r.bucket) / DAY)))];
    await new PartitionManager(db.dataSource, silentLogger).ensure([...days, Math.floor(FROM.getTime() / DAY)]);
    await db.close();
    await insertFixture(admin);
    await admin.end();
    const u = new URL(testDb.url);
    u.username = role;
    u.password = 'ro-secret';
    ro = new pg.Client({ connectionString: u.toString() });
    await ro.connect();
  });

  afterAll(async () => {
    await ro?.end();
    await testDb.drop();
    const c = new pg.Client({ connectionString: process.env.TEST_DATABASE_ADMIN_URL });
    await c.connect();
    await c.query(`DROP ROLE IF EXISTS "${role}"`);
    await c.end();
  });

  async function run(d: Dashboard, sql: string, variables: Record<string, VariableValue>): Promise<Result> {
    const r = await ro.query(grafanaSql(sql, contextFor(d, variables)));
    return { fields: r.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })), rows: r.rows };
  }

  function sqlTargets(d: Dashboard): Array<{ panel: Panel; target: Target }> {
    return allPanels(d).flatMap((panel) =>
      (panel.targets ?? [])
        .filter((target) => targetType(panel, target) === POSTGRES_TYPE)
        .map((target) => ({ panel, target })),
    );
  }

  /** Hand-picked variable selections: All everywhere, multi-value lists, and a workload. */
  const SELECTIONS: Array<Record<string, VariableValue>> = [
    { verdict: { single: 'denied' }, cluster: ALL, namespace: ALL, workload: ALL },
    { verdict: { single: 'audit' }, cluster: { multi: ['prod'] }, namespace: { multi: ['shop'] }, workload: ALL },
    {
      verdict: { single: 'denied' },
      cluster: { multi: ['prod', 'staging'] },
      namespace: { multi: ['payments', "o'brien"] },
      workload: { multi: ['api'] },
    },
  ];

  it('the role from deploy/postgres/initdb can read every table, partitions included, and write none', async () => {
    const tables = (
      await ro.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`,
      )
    ).rows.map((r) => r.table_name);
    expect(tables).toEqual(
      expect.arrayContaining(['alerts', 'drop_events', 'edge_rollups', 'edge_rollups_p20250609', 'dead_letters']),
    );
    for (const t of tables) await expect(ro.query(`SELECT * FROM "${t}" LIMIT 1`)).resolves.toBeDefined();
    await expect(
      ro.query(`INSERT INTO dead_letters (origin, reason, raw) VALUES ('grafana', 'test', 'x')`),
    ).rejects.toThrow(/permission denied|read-only transaction/);
    await expect(ro.query(`DELETE FROM alerts`)).rejects.toThrow(/permission denied|read-only transaction/);
    await expect(ro.query(`CREATE TABLE grafana_scratch (x int)`)).rejects.toThrow(
      /permission denied|read-only transaction/,
    );
    // Without the read-only session default: the grants alone forbid writing.
    await ro.query('BEGIN READ WRITE');
    await expect(ro.query(`UPDATE alerts SET status = 'resolved'`)).rejects.toThrow(/permission denied/);
    await ro.query('ROLLBACK');
  });

  it('the dashboards are Denied flows and Pipeline health, on the provisioned datasources only', () => {
    const provisioned = parseYaml(
      readFileSync(join(DEPLOY, 'grafana', 'provisioning', 'datasources', 'datasources.yaml'), 'utf8'),
    ) as { datasources: Array<{ uid: string; type: string }> };
    const known = new Set(provisioned.datasources.map((d) => `${d.type}/${d.uid}`));
    for (const { dashboard } of dashboards)
      for (const panel of allPanels(dashboard))
        for (const ds of [panel.datasource, ...(panel.targets ?? []).map((t) => t.datasource)])
          if (ds)
            expect([panel.title, [...known]]).toEqual([panel.title, expect.arrayContaining([`${ds.type}/${ds.uid}`])]);
    expect(dashboards.map((d) => d.dashboard.uid).sort()).toEqual([
      'dropscope-denied-flows',
      'dropscope-pipeline-health',
    ]);
  });

  it('every SQL query runs under every selection and returns the shape its panel needs', async () => {
    let checked = 0;
    for (const { dashboard } of dashboards) {
      for (const v of dashboard.templating.list.filter((x) => x.datasource?.type === POSTGRES_TYPE)) {
        for (const sel of SELECTIONS) {
          const r = await run(dashboard, v.query!, sel);
          expect({ variable: v.name, columns: r.fields.length }).toEqual({ variable: v.name, columns: 1 });
          expect(TEXT_TYPES.has(r.fields[0].dataTypeID)).toBe(true);
          checked++;
        }
      }
      for (const { panel, target } of sqlTargets(dashboard)) {
        for (const sel of SELECTIONS) {
          const where = `${dashboard.uid} / ${panel.title}`;
          const r = await run(dashboard, target.rawSql!, sel).catch((e: Error) => {
            throw new Error(`${where}: ${e.message}`);
          });
          const types = Object.fromEntries(r.fields.map((f) => [f.name, f.dataTypeID]));
          if (target.format === 'time_series') {
            // Grafana's long time-series frame: "time", an optional text "metric", numeric values.
            expect({ where, first: r.fields[0]?.name }).toEqual({ where, first: 'time' });
            expect(TIME_TYPES.has(types.time)).toBe(true);
            const values = r.fields.filter((f) => f.name !== 'time' && f.name !== 'metric');
            expect(values.length).toBeGreaterThan(0);
            for (const f of values)
              expect({ where, f: f.name, numeric: NUMERIC_TYPES.has(f.dataTypeID) }).toEqual({
                where,
                f: f.name,
                numeric: true,
              });
            if (types.metric !== undefined) expect(TEXT_TYPES.has(types.metric)).toBe(true);
          } else {
            expect({ where, format: target.format }).toEqual({ where, format: 'table' });
            expect(new Set(r.fields.map((f) => f.name)).size).toBe(r.fields.length);
            if (panel.type === 'stat' || panel.type === 'piechart') {
              // One row of numbers (stat reduces; a NULL share when nothing matched is fine).
              expect({ where, rows: r.rows.length }).toEqual({ where, rows: 1 });
              for (const f of r.fields)
                expect({ where, f: f.name, numeric: NUMERIC_TYPES.has(f.dataTypeID) }).toEqual({
                  where,
                  f: f.name,
                  numeric: true,
                });
            } else expect({ where, type: panel.type }).toEqual({ where, type: 'table' });
          }
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(30);
  });

  describe('Denied flows: the values worked out by hand from the fixture', () => {
    const denied = dashboards.find((d) => d.dashboard.uid === 'dropscope-denied-flows')!.dashboard;
    const [allDenied, auditProdShop, payApi] = SELECTIONS;
    const at = (hm: string): number => Date.parse(`2025-06-09T${hm}:00Z`) / 1000;

    async function panel(title: string, sel: Record<string, VariableValue>): Promise<unknown[][]> {
      const p = allPanels(denied).find((x) => x.title === title);
      if (!p) throw new Error(`no panel ${title}`);
      const r = await run(denied, p.targets![0].rawSql!, sel);
      // numeric and bigint arrive as strings, timestamps as Dates: compare as numbers and ISO strings.
      return r.rows.map((row) =>
        r.fields.map((f) => {
          const v = row[f.name];
          if (v instanceof Date) return v.toISOString();
          return NUMERIC_TYPES.has(f.dataTypeID) && v !== null ? Number(v) : v;
        }),
      );
    }
    async function variable(name: string, sel: Record<string, VariableValue>): Promise<unknown[]> {
      const v = denied.templating.list.find((x) => x.name === name)!;
      return (await run(denied, v.query!, sel)).rows.map((r) => Object.values(r)[0]);
    }

    it('stats', async () => {
      expect(await panel('Flows ($verdict)', allDenied)).toEqual([[14]]);
      expect(await panel('Flows ($verdict)', auditProdShop)).toEqual([[7]]);
      expect(await panel('Flows ($verdict)', payApi)).toEqual([[12]]);
      expect(await panel('Distinct edges', allDenied)).toEqual([[3]]);
      expect(await panel('Attributed to a policy', allDenied)).toEqual([[12 / 14]]);
      expect(await panel('New edges (24 h)', allDenied)).toEqual([[2]]);
      expect(await panel('Alerts firing', allDenied)).toEqual([[2]]);
      // a1 is in payments; a3 has no cluster or namespace label and shows everywhere.
      expect(await panel('Alerts firing', auditProdShop)).toEqual([[1]]);
    });

    it('drops over time by namespace (the deciding one), policy (each of several) and reason', async () => {
      expect(await panel('Drops by namespace ($verdict)', allDenied)).toEqual([
        [at('10:00'), 'payments', 9],
        [at('10:01'), 'payments', 3],
        [at('11:00'), 'shop', 2],
      ]);
      const byPolicy = await panel('Drops by policy ($verdict)', allDenied);
      expect(byPolicy.sort((a, b) => Number(a[0]) - Number(b[0]) || String(a[1]).localeCompare(String(b[1])))).toEqual([
        [at('10:00'), 'payments/deny-all', 9],
        [at('10:00'), 'payments/egress-lockdown', 4],
        [at('10:01'), 'payments/deny-all', 3],
        [at('11:00'), '(none)', 2],
      ]);
      expect(await panel('Drops by reason ($verdict)', allDenied)).toEqual([
        [at('10:00'), 'POLICY_DENIED', 9],
        [at('10:01'), 'POLICY_DENIED', 3],
        [at('11:00'), '(none)', 2],
      ]);
    });

    it('top edges with attribution level, and the edges new in the last 24 h', async () => {
      expect((await panel('Top $verdict edges', allDenied)).map((r) => r.slice(0, 10))).toEqual([
        ['prod', 'shop', 'web', 'payments', 'api', 8443, 'TCP', 'payments/deny-all', 'reported', 8],
        ['prod', 'payments', 'api', '', '', 443, 'TCP', 'payments/deny-all, payments/egress-lockdown', 'inferred', 4],
        ['staging', 'shop', 'web', 'shop', 'cart', 8080, 'TCP', '(none)', 'unknown', 2],
      ]);
      // payments/api -> world was seen on 2025-06-01, so it is not new.
      expect(await panel('New $verdict edges in the last 24 h', allDenied)).toEqual([
        ['staging', 'shop', 'web', 'shop', 'cart', 8080, 'TCP', '(none)', 'unknown', 2, '2025-06-09T11:00:00.000Z'],
        [
          'prod',
          'shop',
          'web',
          'payments',
          'api',
          8443,
          'TCP',
          'payments/deny-all',
          'reported',
          8,
          '2025-06-09T10:00:00.000Z',
        ],
      ]);
    });

    it('firing alerts, latest drop events and the variables', async () => {
      expect((await panel('Firing alerts', allDenied)).map((r) => r.slice(0, 8))).toEqual([
        ['2025-06-09T10:05:00.000Z', 'AnyDrop', 'info', '', '', '', 'drops in every cluster', 14],
        [
          '2025-06-09T10:02:00.000Z',
          'DeniedSpike',
          'warning',
          'prod',
          'payments',
          'payments/deny-all',
          '8 denied flows into payments/api',
          8,
        ],
      ]);
      expect((await panel('Latest $verdict flows', allDenied)).map((r) => [r[0], r[5], r[7], r[10]])).toEqual([
        ['2025-06-09T10:00:30.000Z', 'api-5d2', '', 'payments/deny-all, payments/egress-lockdown'],
        ['2025-06-09T10:00:05.000Z', 'web-7c9', 'api-5d2', 'payments/deny-all'],
      ]);
      expect(await variable('cluster', allDenied)).toEqual(['prod', 'staging']);
      expect(await variable('namespace', allDenied)).toEqual(['payments', 'shop']);
      expect(await variable('namespace', { ...allDenied, cluster: { multi: ['staging'] } })).toEqual(['shop']);
      expect(await variable('workload', { ...allDenied, namespace: { multi: ['shop'] } })).toEqual(['cart', 'web']);
      // cart is only in staging.
      expect(await variable('workload', auditProdShop)).toEqual(['web']);
    });
  });
});
