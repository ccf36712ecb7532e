import { afterAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import pg from 'pg';
import { collect, ROOT, spawnCli } from '../support/cli.js';
import { createTestDatabase } from '../support/test-database.js';

const HUBBLE = join(ROOT, 'test', 'fixtures', 'hubble', 'observe-samples.jsonl');
const MANIFESTS = join(ROOT, 'test', 'policy', 'fixtures', 'hubble-samples-cluster.yaml');

interface EventRow {
  src_pod: string;
  dst_pod: string;
  drop_reason: string;
  attribution_level: string;
  policies: string[];
  attribution: {
    level: string;
    isolatedBy?: string[];
    policies: Array<{ name: string; namespace?: string }>;
    reason?: string;
  };
}

async function importWith(env: Record<string, string>): Promise<EventRow[]> {
  const db = await createTestDatabase();
  dbs.push(db);
  const r = await collect(
    spawnCli(['import', '--source', 'hubble', '--no-progress', HUBBLE], { DATABASE_URL: db.url, ...env }),
  );
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  const rows = (
    await c.query(
      `SELECT src_pod, dst_pod, drop_reason, attribution_level, policies, attribution FROM drop_events ORDER BY time`,
    )
  ).rows as EventRow[];
  const rollups = (
    await c.query(`SELECT DISTINCT attribution_level, policies FROM edge_rollups WHERE drop_reason = 'POLICY_DENIED'`)
  ).rows as Array<{ attribution_level: string; policies: string[] }>;
  await c.end();
  // Roll-ups carry the same attribution as the events they count.
  const fromEvents = new Set(
    rows.filter((e) => e.drop_reason === 'POLICY_DENIED').map((e) => `${e.attribution_level} ${e.policies.join(',')}`),
  );
  expect(new Set(rollups.map((r) => `${r.attribution_level} ${r.policies.join(',')}`))).toEqual(fromEvents);
  return rows;
}

const dbs: Array<{ drop(): Promise<void> }> = [];
afterAll(async () => {
  for (const d of dbs) await d.drop();
});

describe('attribution through import → aggregator → PostgreSQL', () => {
  it('infers the isolating policies for default-deny drops that name no policy when manifests are loaded', async () => {
    const rows = await importWith({ POLICY_MANIFESTS: MANIFESTS });
    const defaultDeny = rows.filter((r) => r.drop_reason === 'POLICY_DENIED');
    expect(defaultDeny.length).toBeGreaterThanOrEqual(2);

    const xwing = defaultDeny.find((r) => r.src_pod === 'xwing' && r.dst_pod.startsWith('deathstar-'));
    expect(xwing).toBeDefined();
    expect(xwing!.attribution_level).toBe('inferred');
    expect(xwing!.attribution.isolatedBy).toEqual(['default/rule1']);
    expect(xwing!.policies).toEqual(['default/rule1']);

    const client = defaultDeny.find((r) => r.src_pod.startsWith('client-'));
    expect(client).toBeDefined();
    expect(client!.attribution_level).toBe('inferred');
    expect(client!.attribution.isolatedBy).toEqual(['cilium-test-5/client-egress-only-dns']);
    expect(client!.policies).toEqual(['cilium-test-5/client-egress-only-dns']);

    // Drops that are not policy decisions are never attributed to a policy.
    for (const r of rows.filter((x) => x.drop_reason !== 'POLICY_DENIED' && x.drop_reason !== 'POLICY_DENY'))
      expect(r.policies).toEqual([]);
  });

  it('says unknown, never guesses, when no policy inventory is loaded', async () => {
    const rows = await importWith({});
    const defaultDeny = rows.filter((r) => r.drop_reason === 'POLICY_DENIED');
    expect(defaultDeny.length).toBeGreaterThanOrEqual(2);
    for (const r of defaultDeny) {
      expect(r.attribution_level).toBe('unknown');
      expect(r.policies).toEqual([]);
      expect(r.attribution.reason).toMatch(/no policy/);
    }
  });
});
