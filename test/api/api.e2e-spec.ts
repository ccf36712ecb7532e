import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import type { RunningService } from '../../src/app/service.js';
import { workloadName } from '../../src/aggregator/edge-rollup.js';
import { isDrop, type FlowRecord } from '../../src/flow/flow-record.js';
import { createTestDatabase } from '../support/test-database.js';
import {
  ADMIN_TOKEN,
  POLICY_FIXTURE,
  READ_TOKEN,
  buildDataset,
  collectingLogger,
  importDataset,
  removeDataset,
  startApi,
  type Dataset,
} from './api-support.js';

interface Expected {
  flow: FlowRecord;
  level: string;
  /** Every policy the drop is credited to (`ns/name`). */
  policies: string[];
  srcWorkload: string;
  dstWorkload: string;
}

/**
 * The attribution of each drop, written from the policy semantics and the inventory in
 * POLICY_FIXTURE (test/policy/fixtures/hubble-samples-cluster.yaml), not by the evaluator:
 * - the source named the denying policy (a `deny` entry): reported, that policy;
 * - default/rule1 selects org=empire,class=deathstar pods in `default` and admits ingress only
 *   from org=empire pods on TCP/80: any other ingress to them is isolated by rule1;
 * - cilium-test-5/client-egress-only-dns selects kind=client pods and admits egress only to
 *   kube-dns on port 53: any other egress from them is isolated by it;
 * - anything else (drops not caused by policy, namespaces the inventory does not cover): unknown.
 */
/** The pods of POLICY_FIXTURE with their labels (the Hubble samples name pods without labels). */
const FIXTURE_POD_LABELS: Record<string, Record<string, string>> = {
  'default/deathstar-7848d6c4d5-th9v2': { org: 'empire', class: 'deathstar' },
  'default/xwing': { org: 'alliance', class: 'xwing' },
  'cilium-test-5/client-645b68dcf7-2jmrw': { kind: 'client', name: 'client' },
};

function labelsOf(e: FlowRecord['src']): Record<string, string> {
  return e.labels ?? FIXTURE_POD_LABELS[`${e.namespace ?? ''}/${e.pod ?? ''}`] ?? {};
}

function expectedAttribution(f: FlowRecord): { level: string; policies: string[] } {
  const named = f.policies.filter((p) => p.action === 'deny');
  if (named.length > 0)
    return {
      level: 'reported',
      policies: [...new Set(named.map((p) => (p.namespace ? `${p.namespace}/${p.name}` : p.name)))],
    };
  if (f.verdict === 'dropped') return { level: 'unknown', policies: [] };
  const dst = labelsOf(f.dst);
  const src = labelsOf(f.src);
  if (
    f.direction !== 'egress' &&
    f.dst.namespace === 'default' &&
    dst.org === 'empire' &&
    dst.class === 'deathstar' &&
    !(src.org === 'empire' && f.dstPort === 80 && f.protocol.toUpperCase() === 'TCP')
  )
    return { level: 'inferred', policies: ['default/rule1'] };
  if (
    f.direction !== 'ingress' &&
    f.src.namespace === 'cilium-test-5' &&
    src.kind === 'client' &&
    !(f.dst.namespace === 'kube-system' && dst['k8s-app'] === 'kube-dns' && f.dstPort === 53)
  )
    return { level: 'inferred', policies: ['cilium-test-5/client-egress-only-dns'] };
  return { level: 'unknown', policies: [] };
}

type Json = Record<string, unknown>;
// The Hubble samples include a flow stamped 1970-01-01T00:20:34Z.
const ALL = { from: '1970-01-01T00:00:00Z' };

describe('REST API against real PostgreSQL with imported fixtures', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let svc: RunningService;
  let base: string;
  let data: Dataset;
  let drops: Expected[];
  const log = collectingLogger();

  const get = (path: string, query: Record<string, string | number> = {}, token: string | null = READ_TOKEN) => {
    const r = request(base).get(path).query(query);
    return token ? r.set('Authorization', `Bearer ${token}`) : r;
  };
  const sorted = (xs: string[]) => [...xs].sort();
  const flowIds = (items: Json[]) => sorted(items.map((i) => String(i.flowId)));
  const expectIds = (pred: (e: Expected) => boolean) => sorted(drops.filter(pred).map((e) => e.flow.id));

  /** All pages of GET /drops with the given filters. */
  async function allDrops(query: Record<string, string | number>): Promise<Json[]> {
    const items: Json[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 1000; page++) {
      const res = await get('/api/v1/drops', { ...query, ...(cursor ? { cursor } : {}) }).expect(200);
      const body = res.body as { items: Json[]; nextCursor: string | null };
      items.push(...body.items);
      cursor = body.nextCursor;
      if (!cursor) return items;
    }
    throw new Error('too many pages');
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    const now = Date.now();
    data = buildDataset(now);
    svc = await startApi({ DATABASE_URL: db.url, POLICY_MANIFESTS: POLICY_FIXTURE }, log);
    base = `http://127.0.0.1:${svc.port}`;
    await importDataset(svc, data);
    drops = data.records
      .filter((f) => isDrop(f.verdict))
      .map((flow) => ({
        flow,
        ...expectedAttribution(flow),
        srcWorkload: workloadName(flow.src),
        dstWorkload: workloadName(flow.dst),
      }));
  }, 120_000);

  afterAll(async () => {
    await svc?.close();
    await db?.drop();
    if (data) removeDataset(data);
  });

  it('imported a dataset with drops of several kinds', () => {
    expect(drops.length).toBeGreaterThan(200);
    expect(new Set(drops.map((d) => d.flow.verdict)).size).toBeGreaterThanOrEqual(2);
    // Every level occurs, and each hand-derived inferred attribution at least once.
    expect(new Set(drops.map((d) => d.level))).toEqual(new Set(['reported', 'inferred', 'unknown']));
    const inferred = drops.filter((d) => d.level === 'inferred').flatMap((d) => d.policies);
    expect(new Set(inferred)).toEqual(new Set(['default/rule1', 'cilium-test-5/client-egress-only-dns']));
  });

  describe('GET /api/v1/drops', () => {
    it('pages newest first through every drop event without gaps or repeats', async () => {
      const items = await allDrops({ ...ALL, limit: 37 });
      const ids = items.map((i) => String(i.id));
      expect(new Set(ids).size).toBe(ids.length);
      const rows = (await svc.runtime.db.dataSource.query(`SELECT id::text AS id FROM drop_events`)) as Array<{
        id: string;
      }>;
      expect(sorted(ids)).toEqual(sorted(rows.map((r) => r.id)));
      expect(flowIds(items)).toEqual(expectIds(() => true));
      for (let i = 1; i < items.length; i++)
        expect(Date.parse(String(items[i - 1].time))).toBeGreaterThanOrEqual(Date.parse(String(items[i].time)));
      expect(items.length / 37).toBeGreaterThan(5);
    });

    it('returns the FlowRecord fields, an event id and the attribution', async () => {
      const res = await get('/api/v1/drops', { ...ALL, limit: 5 }).expect(200);
      const item = (res.body as { items: Json[] }).items[0];
      expect(typeof item.id).toBe('string');
      for (const k of [
        'flowId',
        'time',
        'source',
        'cluster',
        'verdict',
        'direction',
        'src',
        'dst',
        'protocol',
        'count',
        'policies',
      ])
        expect(item).toHaveProperty(k);
      expect((item.attribution as Json).level).toMatch(/^(reported|inferred|unknown)$/);
      expect(Array.isArray((item.attribution as Json).policies)).toBe(true);
      expect(typeof (res.body as Json).nextCursor).toBe('string');
    });

    it('defaults to the last 24 hours', async () => {
      const items = await allDrops({ limit: 1000 });
      expect(items.length).toBeGreaterThan(0);
      expect(flowIds(items)).toEqual(expectIds((e) => Date.parse(e.flow.time) >= data.recentStart));
    });

    it('honours from and to (RFC 3339 and relative)', async () => {
      const from = '2025-03-01T01:00:00Z';
      const to = '2025-03-01T02:00:00Z';
      const items = await allDrops({ from, to, limit: 1000 });
      const expected = expectIds(
        (e) => Date.parse(e.flow.time) >= Date.parse(from) && Date.parse(e.flow.time) < Date.parse(to),
      );
      expect(expected.length).toBeGreaterThan(0);
      expect(flowIds(items)).toEqual(expected);
      const rel = await allDrops({ from: '-2h', to: 'now', limit: 1000 });
      expect(flowIds(rel)).toEqual(expectIds((e) => Date.parse(e.flow.time) >= data.recentStart));
    });

    const ns = (e: Expected) => [e.flow.src.namespace ?? '', e.flow.dst.namespace ?? ''];
    const cases: Array<[string, (d: Expected[]) => string, (e: Expected, v: string) => boolean]> = [
      ['cluster', () => 'gen', (e, v) => e.flow.cluster === v],
      ['namespace', (d) => d.find((e) => e.flow.dst.namespace)!.flow.dst.namespace!, (e, v) => ns(e).includes(v)],
      [
        'srcNamespace',
        (d) => d.find((e) => e.flow.src.namespace)!.flow.src.namespace!,
        (e, v) => e.flow.src.namespace === v,
      ],
      [
        'dstNamespace',
        (d) => d.find((e) => e.flow.dst.namespace)!.flow.dst.namespace!,
        (e, v) => e.flow.dst.namespace === v,
      ],
      [
        'workload',
        (d) => d.find((e) => e.dstWorkload.startsWith('Deployment/'))!.dstWorkload,
        (e, v) => e.srcWorkload === v || e.dstWorkload === v,
      ],
      [
        'workload',
        (d) => d.find((e) => e.dstWorkload.startsWith('Deployment/'))!.dstWorkload.split('/')[1],
        (e, v) => [e.srcWorkload, e.dstWorkload].some((w) => w === v || w.endsWith(`/${v}`)),
      ],
      [
        'srcWorkload',
        (d) => d.find((e) => e.srcWorkload.startsWith('Deployment/'))!.srcWorkload,
        (e, v) => e.srcWorkload === v,
      ],
      [
        'dstWorkload',
        (d) => d.find((e) => e.dstWorkload.startsWith('Deployment/'))!.dstWorkload,
        (e, v) => e.dstWorkload === v,
      ],
      [
        'pod',
        (d) => d.find((e) => e.flow.dst.pod)!.flow.dst.pod!,
        (e, v) => e.flow.src.pod === v || e.flow.dst.pod === v,
      ],
      ['policy', (d) => d.find((e) => e.level === 'reported')!.policies[0], (e, v) => e.policies.includes(v)],
      ['policy', () => 'default/rule1', (e, v) => e.policies.includes(v)],
      ['reason', () => 'POLICY_DENIED', (e, v) => (e.flow.dropReason ?? '') === v],
      ['direction', () => 'egress', (e, v) => e.flow.direction === v],
      ['direction', () => 'ingress,egress', (e, v) => v.split(',').includes(e.flow.direction)],
      ['verdict', () => 'dropped', (e, v) => e.flow.verdict === v],
      ['attribution', () => 'inferred', (e, v) => e.level === v],
      ['attribution', () => 'unknown', (e, v) => e.level === v],
    ];
    it.each(cases.map(([p, pick, pred], i) => [`${p} #${i}`, p, pick, pred] as const))(
      'filter %s narrows the result to exactly the matching drops',
      async (_label, param, pick, pred) => {
        const value = pick(drops);
        const expected = expectIds((e) => pred(e, value));
        expect(expected.length).toBeGreaterThan(0);
        expect(expected.length).toBeLessThan(drops.length);
        const items = await allDrops({ ...ALL, [param]: value, limit: 1000 });
        expect(flowIds(items)).toEqual(expected);
      },
    );
  });

  describe('GET /api/v1/drops/summary', () => {
    const sumBy = (key: (e: Expected) => string) => {
      const m = new Map<string, number>();
      for (const e of drops) m.set(key(e), (m.get(key(e)) ?? 0) + e.flow.count);
      return m;
    };
    const enforcingNs = (e: Expected) =>
      (e.flow.direction === 'egress' ? e.flow.src.namespace : e.flow.dst.namespace) ?? '';

    it('by=namespace sums flow counts per enforcing namespace, largest first', async () => {
      const res = await get('/api/v1/drops/summary', { ...ALL, by: 'namespace', limit: 1000 }).expect(200);
      const items = (res.body as { items: Json[] }).items;
      const got = new Map(items.map((i) => [String(i.namespace ?? ''), Number(i.count)]));
      expect(got).toEqual(sumBy(enforcingNs));
      for (let i = 1; i < items.length; i++)
        expect(Number(items[i - 1].count)).toBeGreaterThanOrEqual(Number(items[i].count));
      for (const i of items) {
        expect(Date.parse(String(i.firstSeen))).toBeLessThanOrEqual(Date.parse(String(i.lastSeen)));
      }
    });

    it('by=policy, by=reason, by=workload, by=edge match the input', async () => {
      const pol = (await get('/api/v1/drops/summary', { ...ALL, by: 'policy', limit: 1000 }).expect(200)).body as {
        items: Json[];
      };
      // A drop counts once for each policy it is credited to; '' (null) for none.
      const byPolicy = new Map<string, number>();
      for (const e of drops)
        for (const p of e.policies.length > 0 ? e.policies : [''])
          byPolicy.set(p, (byPolicy.get(p) ?? 0) + e.flow.count);
      expect(new Map(pol.items.map((i) => [String(i.policy ?? ''), Number(i.count)]))).toEqual(byPolicy);
      const rea = (await get('/api/v1/drops/summary', { ...ALL, by: 'reason', limit: 1000 }).expect(200)).body as {
        items: Json[];
      };
      expect(
        new Map(rea.items.map((i) => [`${String(i.verdict)}|${String(i.reason ?? '')}`, Number(i.count)])),
      ).toEqual(sumBy((e) => `${e.flow.verdict}|${e.flow.dropReason ?? ''}`));
      const wl = (await get('/api/v1/drops/summary', { ...ALL, by: 'workload', limit: 1000 }).expect(200)).body as {
        items: Json[];
      };
      expect(
        new Map(wl.items.map((i) => [`${String(i.namespace ?? '')}|${String(i.workload ?? '')}`, Number(i.count)])),
      ).toEqual(sumBy((e) => `${enforcingNs(e)}|${e.flow.direction === 'egress' ? e.srcWorkload : e.dstWorkload}`));
      const edge = (await get('/api/v1/drops/summary', { ...ALL, by: 'edge', limit: 5 }).expect(200)).body as {
        items: Json[];
      };
      expect(edge.items).toHaveLength(5);
      for (const k of [
        'cluster',
        'srcNamespace',
        'srcWorkload',
        'dstNamespace',
        'dstWorkload',
        'dstPort',
        'protocol',
        'verdict',
        'count',
        'firstSeen',
        'lastSeen',
      ])
        expect(edge.items[0]).toHaveProperty(k);
      const total = [...sumBy(() => 'x').values()][0];
      const allEdges = (await get('/api/v1/drops/summary', { ...ALL, by: 'edge', limit: 1000 }).expect(200)).body as {
        items: Json[];
      };
      expect(allEdges.items.reduce((s, i) => s + Number(i.count), 0)).toBe(total);
    });

    it('applies the filters (namespace, verdict, policy)', async () => {
      const nsv = drops.find((e) => e.flow.cluster === 'gen')!.flow.dst.namespace!;
      const res = await get('/api/v1/drops/summary', {
        ...ALL,
        by: 'reason',
        namespace: nsv,
        verdict: 'denied',
      }).expect(200);
      const total = (res.body as { items: Json[] }).items.reduce((s, i) => s + Number(i.count), 0);
      const expected = drops
        .filter((e) => e.flow.verdict === 'denied' && [e.flow.src.namespace, e.flow.dst.namespace].includes(nsv))
        .reduce((s, e) => s + e.flow.count, 0);
      expect(total).toBe(expected);
      expect(total).toBeGreaterThan(0);
    });
  });

  describe('GET /api/v1/drops/timeseries', () => {
    it('bins drop counts per step, zero-filled, split by verdict', async () => {
      const from = '2025-03-01T00:00:00Z';
      const to = '2025-03-01T03:00:00Z';
      const res = await get('/api/v1/drops/timeseries', { from, to, step: '5m' }).expect(200);
      const body = res.body as {
        step: string;
        items: Array<{ time: string; count: number; verdicts: Record<string, number> }>;
      };
      expect(body.step).toBe('5m');
      expect(body.items).toHaveLength(36);
      const expected = new Map<string, number>();
      for (const e of drops) {
        const t = Date.parse(e.flow.time);
        if (t < Date.parse(from) || t >= Date.parse(to)) continue;
        const bin = new Date(Math.floor(t / 300_000) * 300_000).toISOString();
        expected.set(bin, (expected.get(bin) ?? 0) + e.flow.count);
      }
      for (const p of body.items) {
        expect(p.count).toBe(expected.get(p.time) ?? 0);
        expect(Object.values(p.verdicts).reduce((a, b) => a + b, 0)).toBe(p.count);
      }
      expect(body.items.some((p) => p.count > 0)).toBe(true);
      const denied = (await get('/api/v1/drops/timeseries', { from, to, step: '1h', verdict: 'denied' }).expect(200))
        .body as {
        items: Array<{ count: number; verdicts: Record<string, number> }>;
      };
      expect(denied.items).toHaveLength(3);
      expect(Object.keys(denied.items[0].verdicts)).toEqual(['denied']);
    });
  });

  describe('GET /api/v1/flows/edges', () => {
    it('lists allowed and denied edges whose counts add up to every flow of the window', async () => {
      const from = '2025-03-01T00:00:00Z';
      const to = '2025-03-02T00:00:00Z';
      const items: Json[] = [];
      let cursor: string | null = null;
      do {
        const res = await get('/api/v1/flows/edges', { from, to, limit: 10, ...(cursor ? { cursor } : {}) }).expect(
          200,
        );
        const body = res.body as { items: Json[]; nextCursor: string | null };
        items.push(...body.items);
        cursor = body.nextCursor;
      } while (cursor);
      const inWindow = data.records.filter(
        (f) => Date.parse(f.time) >= Date.parse(from) && Date.parse(f.time) < Date.parse(to),
      );
      expect(items.reduce((s, i) => s + Number(i.count), 0)).toBe(inWindow.reduce((s, f) => s + f.count, 0));
      const verdicts = new Set(items.map((i) => String(i.verdict)));
      expect(verdicts.has('allowed')).toBe(true);
      expect(verdicts.has('denied')).toBe(true);
      for (const i of items) {
        const dirs = i.directions as string[];
        expect(dirs.length).toBeGreaterThan(0);
        expect(dirs.every((d) => ['egress', 'ingress', 'unknown'].includes(d))).toBe(true);
      }
      expect(new Set(items.flatMap((i) => i.directions as string[]))).toEqual(
        new Set(inWindow.map((f) => f.direction)),
      );
      const withLabels = items.find((i) => (i.src as Json).labels !== null)!;
      expect(typeof (withLabels.src as Json).labels).toBe('object');
      const keys = items.map((i) => JSON.stringify([i.cluster, i.src, i.dst, i.dstPort, i.protocol, i.verdict]));
      expect(new Set(keys).size).toBe(keys.length);
      const allowed = (await get('/api/v1/flows/edges', { from, to, verdict: 'allowed' }).expect(200)).body as {
        items: Json[];
      };
      expect(allowed.items.every((i) => i.verdict === 'allowed')).toBe(true);
      expect(allowed.items.reduce((s, i) => s + Number(i.count), 0)).toBe(
        inWindow.filter((f) => f.verdict === 'allowed').reduce((s, f) => s + f.count, 0),
      );
    });
  });

  describe('policies and policy-test', () => {
    it('GET /policies lists the inventory with attributed drop counts', async () => {
      const res = await get('/api/v1/policies', ALL).expect(200);
      const body = res.body as { items: Json[]; note?: string };
      expect(body.note).toBeUndefined();
      const rule1 = body.items.find((i) => i.ref === 'default/rule1')!;
      expect(rule1).toMatchObject({ kind: 'NetworkPolicy', namespace: 'default', name: 'rule1', inInventory: true });
      const expected = drops.filter((e) => e.policies.includes('default/rule1')).reduce((s, e) => s + e.flow.count, 0);
      expect((rule1.drops as Json).count).toBe(expected);
      expect(body.items.some((i) => i.ref === 'cilium-test-5/client-egress-only-dns')).toBe(true);
    });

    it('GET /policies/{namespace}/{name} shows the spec, counts and recent drops; 404 when unknown', async () => {
      const res = await get('/api/v1/policies/default/rule1', { ...ALL, recent: 3 }).expect(200);
      const body = res.body as Json & { recentDrops: Json[]; spec: Json };
      expect(body.spec.kind).toBe('NetworkPolicy');
      const expected = drops.filter((e) => e.policies.includes('default/rule1'));
      expect((body.drops as Json).count).toBe(expected.reduce((s, e) => s + e.flow.count, 0));
      expect(body.recentDrops.length).toBe(Math.min(3, expected.length));
      for (const d of body.recentDrops) expect(expected.map((e) => e.flow.id)).toContain(d.flowId);
      const nf = await get('/api/v1/policies/default/nope', ALL).expect(404);
      expect(nf.body).toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/default\/nope/) });
      await get('/api/v1/policies/default/rule1', { ...ALL, bogus: '1' }).expect(400);
    });

    it('POST /policy-test evaluates probes with a read token and names bad fields', async () => {
      const res = await request(base)
        .post('/api/v1/policy-test')
        .set('Authorization', `Bearer ${READ_TOKEN}`)
        .send({
          probes: [{ from: 'default/xwing', to: 'default/deathstar-7848d6c4d5-th9v2', port: 80, protocol: 'TCP' }],
        })
        .expect(200);
      const items = (res.body as { items: Json[] }).items;
      expect(items).toHaveLength(1);
      expect(typeof items[0].allowed).toBe('boolean');
      const named = await request(base)
        .post('/api/v1/policy-test')
        .set('Authorization', `Bearer ${READ_TOKEN}`)
        .send({ probes: [{ from: 'default/xwing', to: 'default/deathstar-7848d6c4d5-th9v2', port: 'http' }] })
        .expect(200);
      expect((named.body as { items: Json[] }).items[0]).toMatchObject({ port: 80, portName: 'http' });
      const bad = await request(base)
        .post('/api/v1/policy-test')
        .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
        .send({ probes: [{ from: 'default/xwing', to: 'default/deathstar', port: 'http_ish' }] })
        .expect(400);
      expect((bad.body as Json).message).toMatch(/^probes\[0\]\.port: /);
      const notJson = await request(base)
        .post('/api/v1/policy-test')
        .set('Authorization', `Bearer ${READ_TOKEN}`)
        .set('Content-Type', 'application/json')
        .send('{"probes": [')
        .expect(400);
      expect((notJson.body as Json).message).toMatch(/^body: /);
      const empty = await request(base)
        .post('/api/v1/policy-test')
        .set('Authorization', `Bearer ${READ_TOKEN}`)
        .send({})
        .expect(400);
      expect((empty.body as Json).message).toMatch(/^probes: /);
    });
  });

  describe('bad input gets a 400 naming the parameter', () => {
    const bad: Array<[string, Record<string, string>, RegExp]> = [
      ['/api/v1/drops', { foo: '1' }, /^foo: unknown query parameter/],
      ['/api/v1/drops', { from: 'yesterday' }, /^from: "yesterday" is not an RFC 3339 time/],
      ['/api/v1/drops', { to: '2025-13-45T99:00:00Z' }, /^to: /],
      [
        '/api/v1/drops',
        { from: '2025-03-02T00:00:00Z', to: '2025-03-01T00:00:00Z' },
        /^from: .*must not be later than to/,
      ],
      ['/api/v1/drops', { verdict: 'allowed' }, /^verdict: "allowed" is not one of denied\|dropped\|audit/],
      ['/api/v1/drops', { direction: 'sideways' }, /^direction: /],
      ['/api/v1/drops', { attribution: 'guessed' }, /^attribution: /],
      ['/api/v1/drops', { limit: '0' }, /^limit: "0" is not an integer from 1 to 1000/],
      ['/api/v1/drops', { limit: '100000' }, /^limit: /],
      ['/api/v1/drops', { limit: 'abc' }, /^limit: /],
      ['/api/v1/drops', { limit: '1.5' }, /^limit: /],
      ['/api/v1/drops', { cursor: 'not-a-cursor' }, /^cursor: /],
      ['/api/v1/drops', { cursor: Buffer.from('e:2025|x').toString('base64url') }, /^cursor: /],
      ['/api/v1/drops', { policy: 'a/b/c' }, /^policy: /],
      [
        '/api/v1/drops/summary',
        { by: 'colour' },
        /^by: "colour" is not one of edge\|policy\|namespace\|reason\|workload/,
      ],
      ['/api/v1/drops/summary', { limit: '1001' }, /^limit: /],
      ['/api/v1/drops/summary', { pod: 'x' }, /^pod: is not available here/],
      ['/api/v1/drops/summary', { cursor: 'abc' }, /^cursor: unknown query parameter/],
      ['/api/v1/drops/timeseries', { step: '7m' }, /^step: /],
      ['/api/v1/drops/timeseries', { step: '1m', from: '-30d' }, /^step: 1m over this range makes/],
      ['/api/v1/flows/edges', { verdict: 'maybe' }, /^verdict: /],
      ['/api/v1/flows/edges', { cursor: Buffer.from('e:1').toString('base64url') }, /^cursor: /],
      ['/api/v1/policies', { from: 'x' }, /^from: /],
    ];
    it.each(bad)('%s %j', async (path, query, message) => {
      const res = await get(path, query).expect(400);
      expect(res.body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        code: 'INVALID_PARAMETER',
        message: expect.stringMatching(message),
      });
    });

    it('a repeated parameter is a 400, not a 500', async () => {
      const res = await request(base)
        .get('/api/v1/drops?cluster=a&cluster=b')
        .set('Authorization', `Bearer ${READ_TOKEN}`)
        .expect(400);
      expect((res.body as Json).message).toMatch(/^cluster: must be given once/);
      const nested = await request(base)
        .get('/api/v1/drops?namespace[x]=1')
        .set('Authorization', `Bearer ${READ_TOKEN}`);
      expect(nested.status).toBe(400);
    });

    it('never logged an internal error for any of that', () => {
      expect(log.lines.filter((l) => l.level === 'error')).toEqual([]);
    });
  });

  describe('authentication', () => {
    it('401 without a token or with a bad one (WWW-Authenticate: Bearer), 200 with read or admin tokens', async () => {
      const none = await get('/api/v1/drops/summary', {}, null).expect(401);
      expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
      expect((none.body as Json).message).toMatch(/bearer token/);
      const badTok = await get('/api/v1/drops/summary', {}, 'x'.repeat(30)).expect(401);
      expect(badTok.headers['www-authenticate']).toMatch(/invalid_token/);
      await request(base).get('/api/v1/drops').set('Authorization', `Basic ${READ_TOKEN}`).expect(401);
      await get('/api/v1/drops/summary', {}, READ_TOKEN).expect(200);
      await get('/api/v1/drops/summary', {}, ADMIN_TOKEN).expect(200);
      await request(base).post('/api/v1/policy-test').send({ probes: [] }).expect(401);
    });

    it('/healthz, /readyz, /metrics (by default) and /docs are open', async () => {
      await request(base).get('/healthz').expect(200);
      await request(base).get('/readyz').expect(200);
      await request(base).get('/metrics').expect(200);
      await request(base).get('/docs').expect(200);
    });

    it('never logs a token', () => {
      const text = JSON.stringify(log.lines);
      expect(text).not.toContain(READ_TOKEN);
      expect(text).not.toContain(ADMIN_TOKEN);
    });
  });

  describe('the edge list after a restart', () => {
    const cacheUnits = async (port: number, result: 'hit' | 'miss') => {
      const text = (await request(`http://127.0.0.1:${port}`).get('/metrics').expect(200)).text;
      const m = new RegExp(`^dropscope_edge_list_cache_units_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text);
      if (!m) throw new Error(`no dropscope_edge_list_cache_units_total{result="${result}"} in /metrics`);
      return Number(m[1]);
    };

    it('a new API process keeps the default window at start: its first GET /flows/edges reads no unit again', async () => {
      // Units closed up to 10 minutes ago, as the running service's closer would have by now.
      await svc.runtime.repositories.rollupCloser.closeThrough(Date.now() - 10 * 60_000);
      // A second process on the same database (a restart, a replica), serving only the API.
      const restarted = await startApi({ DATABASE_URL: db.url, DROPSCOPE_ROLES: 'api' }, collectingLogger());
      try {
        const before = (await get('/api/v1/flows/edges').expect(200)).body as Json;
        const res = await request(`http://127.0.0.1:${restarted.port}`)
          .get('/api/v1/flows/edges')
          .set('Authorization', `Bearer ${READ_TOKEN}`)
          .expect(200);
        expect(res.body).toEqual(before);
        expect((res.body as { items: Json[] }).items.length).toBeGreaterThan(0);
        // The warm-up looked each unit up once (misses) and read it; the request found them kept
        // (hits), all but those at the window's ends if a minute turned or a unit closed meanwhile.
        // Without a warm-up the first request reads every row: no hit.
        const hits = await cacheUnits(restarted.port, 'hit');
        const misses = await cacheUnits(restarted.port, 'miss');
        expect(hits).toBeGreaterThan(5);
        expect(hits * 2).toBeGreaterThan(misses);
      } finally {
        await restarted.close();
      }
    });
  });

  describe('OpenAPI', () => {
    it('/docs-json documents every path, parameter and the bearer scheme', async () => {
      const res = await request(base).get('/docs-json').expect(200);
      const doc = res.body as {
        paths: Record<string, Record<string, { parameters?: Array<{ name: string }> }>>;
        components: Json;
      };
      for (const p of [
        '/api/v1/drops',
        '/api/v1/drops/summary',
        '/api/v1/drops/timeseries',
        '/api/v1/flows/edges',
        '/api/v1/policies',
        '/api/v1/policies/{namespace}/{name}',
        '/api/v1/policies/{name}',
        '/api/v1/policy-test',
      ])
        expect(doc.paths).toHaveProperty([p]);
      const params = doc.paths['/api/v1/drops'].get.parameters!.map((x) => x.name);
      for (const n of [
        'from',
        'to',
        'cluster',
        'namespace',
        'srcNamespace',
        'dstNamespace',
        'workload',
        'pod',
        'policy',
        'reason',
        'direction',
        'verdict',
        'attribution',
        'limit',
        'cursor',
      ])
        expect(params).toContain(n);
      expect(doc.paths['/api/v1/drops/summary'].get.parameters!.map((x) => x.name)).toContain('by');
      expect(doc.paths['/api/v1/drops/timeseries'].get.parameters!.map((x) => x.name)).toContain('step');
      expect(JSON.stringify(doc.components)).toContain('bearer');
      expect(doc.paths).not.toHaveProperty(['/healthz']);
    });
  });
});
