/**
 * The API controllers, guard, exception filter and OpenAPI document against in-memory fakes of
 * the read repositories: parameter handling, cursors, error codes and response shapes without
 * PostgreSQL (test/api/*.e2e-spec.ts covers the same routes over real PostgreSQL).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import request from 'supertest';
import { silentLogger } from '../common/logger.js';
import type {
  DropEventReader,
  DropFilters,
  DropItem,
  DropPosition,
  EdgeItem,
  EdgeReader,
  EdgeWindow,
  ObservedEdge,
  PolicyDropStats,
  ReaderPage,
  RollupStatsReader,
  Step,
  SummaryBy,
  SummaryItem,
  Timeseries,
} from '../storage/readers.js';
import type { AlertRecord } from '../alerts/alert-lifecycle.js';
import { parseAlertingConfig } from '../alerts/alerting-config.js';
import { parseManifestText } from '../policy/manifest.loader.js';
import { buildInventory, type PolicyInventory } from '../policy/policy-inventory.js';
import type { AlertsApiRepository } from './alerts.controller.js';
import type { ApiDependencies } from './api-dependencies.js';
import { ApiModule } from './api.module.js';
import { setupApiDocs } from './swagger.js';

const TOKEN = 'read-token-0123456789abcdef';
const ADMIN = 'admin-token-0123456789abcdef';
const ALERT_DEFAULTS = { groupWaitMs: 30_000, groupIntervalMs: 300_000, repeatIntervalMs: 14_400_000 };

/** Alert state in memory: the alerts controller reads and filters what the store returns. */
class FakeAlertState implements AlertsApiRepository {
  alerts: Array<AlertRecord & { history: unknown[] }> = [];
  calls: Array<{ status?: string; fingerprint?: string; limit: number }> = [];
  async listAlerts(filter: { status?: string; fingerprint?: string; limit: number }) {
    this.calls.push(filter);
    return this.alerts.filter((a) => filter.status === undefined || a.status === filter.status).slice(0, filter.limit);
  }
  async apiRules() {
    return [];
  }
  async putRule(): Promise<never> {
    throw new Error('not used by these tests');
  }
  async deleteRule() {
    return false;
  }
  async listSilences() {
    return [];
  }
  async addSilence(): Promise<never> {
    throw new Error('not used by these tests');
  }
  async expireSilence() {
    return false;
  }
}
type Json = Record<string, unknown>;

function drop(id: string, time: string): DropItem {
  return { id, flowId: `f${id}`, time, attribution: { level: 'unknown', policies: [] } };
}

/** Events newest first, paged on (time, id) like the real reader. */
class FakeDropEvents implements DropEventReader {
  calls: Array<{ f: DropFilters; limit: number; after?: DropPosition }> = [];
  events: DropItem[] = [];
  listDrops(f: DropFilters, limit: number, after?: DropPosition): Promise<ReaderPage<DropItem, DropPosition>> {
    this.calls.push({ f, limit, after });
    const rest = after ? this.events.filter((e) => e.time < after.time) : this.events;
    const items = rest.slice(0, limit);
    const last = items[items.length - 1];
    return Promise.resolve({ items, next: rest.length > limit ? { time: last.time, id: last.id } : null });
  }
}

class FakeStats implements RollupStatsReader {
  calls: Array<{ method: string; f: DropFilters }> = [];
  policies = new Map<string, PolicyDropStats>();
  summary(f: DropFilters, by: SummaryBy): Promise<{ by: SummaryBy; items: SummaryItem[] }> {
    this.calls.push({ method: 'summary', f });
    return Promise.resolve({ by, items: [] });
  }
  timeseries(f: DropFilters, step: Step): Promise<Timeseries> {
    this.calls.push({ method: 'timeseries', f });
    return Promise.resolve({ step, from: '', to: '', items: [] });
  }
  policyDropStats(f: DropFilters, policy?: string): Promise<Map<string, PolicyDropStats>> {
    this.calls.push({ method: 'policyDropStats', f });
    if (policy === undefined) return Promise.resolve(this.policies);
    const s = this.policies.get(policy);
    return Promise.resolve(new Map(s ? [[policy, s]] : []));
  }
}

const ICMP_EDGE: EdgeItem = {
  cluster: 'c1',
  src: { kind: 'pod', namespace: 'a', workload: 'Deployment/x', labels: { app: 'x' } },
  dst: { kind: 'pod', namespace: 'b', workload: 'Deployment/y', labels: null },
  dstPort: null,
  icmpType: 8,
  protocol: 'ICMPv4',
  verdict: 'denied',
  directions: ['egress'],
  count: 3,
  packets: 3,
  bytes: 252,
  firstSeen: '2025-03-01T00:00:00.000Z',
  lastSeen: '2025-03-01T00:01:00.000Z',
};

class FakeEdges implements EdgeReader {
  calls: Array<{ f: DropFilters; limit: number; offset: number }> = [];
  observedCalls: EdgeWindow[] = [];
  edges(f: DropFilters, limit: number, offset: number): Promise<ReaderPage<EdgeItem, number>> {
    this.calls.push({ f, limit, offset });
    return Promise.resolve({ items: [ICMP_EDGE], next: offset === 0 ? limit : null });
  }
  observedEdges(w: EdgeWindow): Promise<ObservedEdge[]> {
    this.observedCalls.push(w);
    return Promise.resolve([]);
  }
}

function stats(policy: string, count: number): PolicyDropStats {
  return {
    policy,
    count,
    firstSeen: '2025-03-01T00:00:00.000Z',
    lastSeen: '2025-03-01T00:05:00.000Z',
    verdicts: { denied: count },
  };
}

describe('API controllers with in-memory readers', () => {
  let app: INestApplication;
  let base: string;
  const events = new FakeDropEvents();
  const rollups = new FakeStats();
  const edgeReader = new FakeEdges();
  const alertState = new FakeAlertState();
  let inventory: PolicyInventory | undefined;

  beforeAll(async () => {
    const deps: ApiDependencies = {
      drops: events,
      edges: edgeReader,
      stats: rollups,
      policies: { current: () => inventory },
      auth: { disabled: false, readTokens: [TOKEN], adminTokens: [ADMIN], metricsOpen: true },
      alerts: { repo: alertState, config: () => parseAlertingConfig({}, ALERT_DEFAULTS) },
      log: silentLogger,
      serveApi: true,
    };
    app = await NestFactory.create(ApiModule.register(deps), { logger: false });
    setupApiDocs(app);
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await app.close();
  });

  beforeEach(() => {
    events.calls = [];
    rollups.calls = [];
    edgeReader.calls = [];
    edgeReader.observedCalls = [];
  });

  const get = (path: string, query: Record<string, string> = {}, token: string | null = TOKEN) => {
    const r = request(base).get(path).query(query);
    return token ? r.set('Authorization', `Bearer ${token}`) : r;
  };
  const postJson = (path: string, body: unknown) =>
    request(base)
      .post(path)
      .set('Authorization', `Bearer ${TOKEN}`)
      .send(body as object);

  describe('GET /api/v1/drops', () => {
    it('passes the defaults (last 24 h, drop verdicts, 100 per page) to the reader', async () => {
      const before = Date.now();
      await get('/api/v1/drops').expect(200);
      const { f, limit, after } = events.calls[0];
      expect(limit).toBe(100);
      expect(after).toBeUndefined();
      expect(f.verdict).toEqual(['denied', 'dropped', 'audit']);
      expect(f.to).toBeGreaterThanOrEqual(before);
      expect(f.to - f.from).toBe(24 * 3_600_000);
    });

    it('hands out an opaque cursor and turns it back into the reader position', async () => {
      events.events = [
        drop('3', '2025-03-01T00:00:03.000000Z'),
        drop('2', '2025-03-01T00:00:02.000000Z'),
        drop('1', '2025-03-01T00:00:01.000000Z'),
      ];
      const first = await get('/api/v1/drops', { limit: '2' }).expect(200);
      const body = first.body as { items: Json[]; nextCursor: string };
      expect(body.items.map((i) => i.id)).toEqual(['3', '2']);
      expect(body.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
      const second = await get('/api/v1/drops', { limit: '2', cursor: body.nextCursor }).expect(200);
      expect(events.calls[1].after).toEqual({ time: '2025-03-01T00:00:02.000000Z', id: '2' });
      expect(second.body).toEqual({ items: [drop('1', '2025-03-01T00:00:01.000000Z')], nextCursor: null });
    });

    it('answers bad input with 400 INVALID_PARAMETER naming the parameter, without reading', async () => {
      for (const [query, message] of [
        [{ limit: '0' }, /^limit: "0" is not an integer from 1 to 1000/],
        [{ cursor: 'bm90LW91cnM' }, /^cursor: is not a cursor this endpoint issued/],
        [{ foo: '1' }, /^foo: unknown query parameter/],
      ] as Array<[Record<string, string>, RegExp]>) {
        const res = await get('/api/v1/drops', query).expect(400);
        expect(res.body).toEqual({
          statusCode: 400,
          error: 'Bad Request',
          code: 'INVALID_PARAMETER',
          message: expect.stringMatching(message),
        });
      }
      expect(events.calls).toEqual([]);
    });
  });

  describe('roll-up endpoints', () => {
    it('reject pod (per-workload roll-ups) and over-long series before reading', async () => {
      const pod = await get('/api/v1/drops/summary', { pod: 'x' }).expect(400);
      expect(pod.body).toMatchObject({
        code: 'INVALID_PARAMETER',
        message: expect.stringMatching(/^pod: is not available here/),
      });
      await get('/api/v1/flows/edges', { pod: 'x' }).expect(400);
      const ts = await get('/api/v1/drops/timeseries', { step: '1m', from: '-30d' }).expect(400);
      expect((ts.body as Json).message).toMatch(/^step: 1m over this range makes \d+ points \(at most 10000\)/);
      expect(rollups.calls).toEqual([]);
      expect(edgeReader.calls).toEqual([]);
    });

    it('GET /drops/timeseries picks the default step from the window: 1m to 1 h, 5m to 6 h, 1h to 14 d, then 1d', async () => {
      const steps: Array<[string, string]> = [];
      for (const from of ['-30m', '-1h', '-2h', '-6h', '-7h', '-24h', '-7d', '-14d', '-15d', '-30d']) {
        const res = await get('/api/v1/drops/timeseries', { from }).expect(200);
        steps.push([from, (res.body as { step: string }).step]);
      }
      expect(steps).toEqual([
        ['-30m', '1m'],
        ['-1h', '1m'],
        ['-2h', '5m'],
        ['-6h', '5m'],
        ['-7h', '1h'],
        ['-24h', '1h'],
        ['-7d', '1h'],
        ['-14d', '1h'],
        ['-15d', '1d'],
        ['-30d', '1d'],
      ]);
      // An explicit step still wins.
      expect((await get('/api/v1/drops/timeseries', { from: '-24h', step: '5m' }).expect(200)).body).toMatchObject({
        step: '5m',
      });
    });

    it('GET /flows/edges: every verdict by default, offset cursor, ICMP edges with icmpType and dstPort null', async () => {
      const res = await get('/api/v1/flows/edges', { limit: '1' }).expect(200);
      const body = res.body as { items: Json[]; nextCursor: string };
      expect(edgeReader.calls[0].f.verdict).toEqual(['allowed', 'denied', 'dropped', 'audit', 'other']);
      expect(body.items[0]).toMatchObject({ protocol: 'ICMPv4', dstPort: null, icmpType: 8 });
      await get('/api/v1/flows/edges', { limit: '1', cursor: body.nextCursor }).expect(200);
      expect(edgeReader.calls[1]).toMatchObject({ limit: 1, offset: 1 });
      const other = Buffer.from('e:2025-03-01T00:00:00.000000Z|1').toString('base64url');
      expect((await get('/api/v1/flows/edges', { cursor: other }).expect(400)).body).toMatchObject({
        code: 'INVALID_PARAMETER',
      });
    });
  });

  describe('policies', () => {
    beforeAll(() => {
      rollups.policies = new Map([
        ['a/p1', stats('a/p1', 5)],
        ['a/p2', stats('a/p2', 3)],
        ['b/p3', stats('b/p3', 1)],
      ]);
    });

    it('GET /policies pages with limit and accepts the nextCursor it returns', async () => {
      const first = await get('/api/v1/policies', { limit: '2' }).expect(200);
      const body = first.body as { items: Json[]; nextCursor: string | null; note: string };
      expect(body.items.map((i) => i.ref)).toEqual(['a/p1', 'a/p2']);
      expect(body.nextCursor).not.toBeNull();
      expect(body.note).toMatch(/POLICY_MANIFESTS.*POLICY_KUBERNETES=true/);
      const second = await get('/api/v1/policies', { limit: '2', cursor: body.nextCursor! }).expect(200);
      expect((second.body as { items: Json[] }).items.map((i) => i.ref)).toEqual(['b/p3']);
      expect((second.body as Json).nextCursor).toBeNull();
      const all = await get('/api/v1/policies').expect(200);
      expect((all.body as { items: Json[] }).items).toHaveLength(3);
      expect((all.body as Json).nextCursor).toBeNull();
    });

    it('GET /policies/{ns}/{name}: recentDrops from the event reader; 404 NOT_FOUND when unknown', async () => {
      events.events = [drop('9', '2025-03-01T00:00:09.000000Z')];
      const res = await get('/api/v1/policies/a/p1', { recent: '5' }).expect(200);
      expect(res.body).toMatchObject({ ref: 'a/p1', inInventory: false, spec: null, drops: { count: 5 } });
      expect((res.body as { recentDrops: Json[] }).recentDrops.map((d) => d.id)).toEqual(['9']);
      expect(events.calls[0]).toMatchObject({ limit: 5, f: { policy: 'a/p1' } });
      const nf = await get('/api/v1/policies/a/nope').expect(404);
      expect(nf.body).toMatchObject({
        statusCode: 404,
        code: 'NOT_FOUND',
        message: expect.stringMatching(/^policy a\/nope:/),
      });
    });

    it('POST /policy-test without an inventory: 409 NO_POLICY_INVENTORY naming both ways to configure one', async () => {
      const res = await request(base)
        .post('/api/v1/policy-test')
        .set('Authorization', `Bearer ${TOKEN}`)
        .send({ probes: [{ from: 'x/a', to: 'x/b', port: 80 }] })
        .expect(409);
      expect(res.body).toEqual({
        statusCode: 409,
        error: 'Conflict',
        code: 'NO_POLICY_INVENTORY',
        message: expect.stringMatching(/POLICY_MANIFESTS.* or POLICY_KUBERNETES=true/),
      });
    });
  });

  describe('POST /api/v1/policy-test', () => {
    const post = (body: unknown) => postJson('/api/v1/policy-test', body);

    it('checks the body field by field (400 before the inventory is consulted)', async () => {
      for (const [body, message] of [
        [[], 'body: must be a JSON object {probes}'],
        [{}, 'probes: must be a non-empty list of {from, to, port, protocol, expected}'],
        [{ probes: [] }, 'probes: must be a non-empty list of {from, to, port, protocol, expected}'],
        [{ probes: [{ from: 'x/a', to: 'x/b', port: 80 }], dryRun: true }, 'dryRun: unknown field; accepted: probes'],
        [{ probes: ['x/a'] }, 'probes[0]: must be a JSON object {from, to, port, protocol, expected}'],
        [
          {
            probes: [
              { from: 'x/a', to: 'x/b', port: 80 },
              { from: 'x/a', to: 'x/b', port: 80, colour: 'red' },
            ],
          },
          'probes[1].colour: unknown field; accepted: from, to, port, protocol, expected',
        ],
        [{ probes: [{ from: 'x/a', port: 80 }] }, 'probes[0].to: is required'],
        [{ probes: [{ from: 'x/a', to: 'x/b' }] }, 'probes[0].port: is required'],
        [
          { probes: [{ from: 'x/a', to: 'x/b', port: 80, expected: 'yes' }] },
          /^probes\[0\]\.expected: must be allow or deny/,
        ],
        [{ probes: Array.from({ length: 10_001 }, () => ({})) }, 'probes: at most 10000 per request (got 10001)'],
      ] as Array<[unknown, string | RegExp]>) {
        const res = await post(body).expect(400);
        expect(res.body).toMatchObject({
          code: 'INVALID_PARAMETER',
          message: typeof message === 'string' ? message : expect.stringMatching(message),
        });
      }
    });
  });

  describe('suggestions and what-if', () => {
    const post = (body: unknown) => postJson('/api/v1/what-if', body);

    it('GET /suggestions: bad parameters are 400 first; without an inventory 409 NO_POLICY_INVENTORY, unread', async () => {
      const mode = await get('/api/v1/suggestions', { mode: 'lockdown' }).expect(400);
      expect(mode.body).toMatchObject({
        code: 'INVALID_PARAMETER',
        message: 'mode: "lockdown" is not one of fix|baseline',
      });
      const none = await get('/api/v1/suggestions', { from: '-1d', format: 'cilium' }).expect(409);
      expect(none.body).toEqual({
        statusCode: 409,
        error: 'Conflict',
        code: 'NO_POLICY_INVENTORY',
        message: expect.stringMatching(
          /^suggestions: no policy inventory is configured on this server; set POLICY_MANIFESTS/,
        ),
      });
      expect(edgeReader.observedCalls).toEqual([]);
    });

    it('POST /what-if with a read token: body checked field by field (400), then 409 without an inventory', async () => {
      for (const [body, message] of [
        [[], /^body: must be a JSON object/],
        [
          { remove: ['shop/x'], extra: 1 },
          /^extra: unknown field; accepted: add, remove, staged, from, to, namespace$/,
        ],
        [{ remove: 'shop/x' }, /^remove: must be a list/],
        [{ remove: ['a/b/c'] }, /^remove\[0\]: "a\/b\/c" is not NAMESPACE\/NAME/],
        [{ add: 5 }, /^add: must be YAML text or a list of Kubernetes objects$/],
        [{ staged: 'yes' }, /^staged: must be true or false$/],
        [{}, /^body: nothing proposed: give add, remove or "staged": true$/],
        [{ remove: ['shop/x'], from: 'yesterday' }, /^from: "yesterday" is not an RFC 3339 time/],
        [{ remove: ['shop/x'], from: '-1d', to: '-2d' }, /^from: .* is after to=/],
      ] as Array<[unknown, RegExp]>) {
        const res = await post(body).expect(400);
        expect(res.body).toMatchObject({ code: 'INVALID_PARAMETER', message: expect.stringMatching(message) });
      }
      const none = await post({ remove: ['shop/x'] }).expect(409);
      expect(none.body).toMatchObject({ code: 'NO_POLICY_INVENTORY', message: expect.stringMatching(/^what-if: /) });
      expect(edgeReader.observedCalls).toEqual([]);
    });
  });

  describe('errors from outside the controllers carry codes too', () => {
    it('401 UNAUTHORIZED without a token; 404 NOT_FOUND for an unknown route; 400 for a body that is not JSON', async () => {
      const none = await get('/api/v1/drops', {}, null).expect(401);
      expect(none.body).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED' });
      const bad = await get('/api/v1/drops', {}, 'x'.repeat(30)).expect(401);
      expect(bad.body).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringMatching(/not valid/) });
      const nf = await get('/api/v1/nothing-here').expect(404);
      expect(nf.body).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' });
      const notJson = await request(base)
        .post('/api/v1/policy-test')
        .set('Authorization', `Bearer ${TOKEN}`)
        .set('Content-Type', 'application/json')
        .send('{"probes": [')
        .expect(400);
      expect(notJson.body).toMatchObject({ code: 'INVALID_PARAMETER', message: 'body: is not valid JSON' });
    });
  });

  describe('GET /api/v1/alerts', () => {
    it('passes status and limit to the store and renders times as RFC 3339', async () => {
      alertState.alerts = [
        {
          fingerprint: 'f1',
          ruleId: 'unexpected-drop',
          status: 'firing',
          labels: { alertname: 'UnexpectedDrop', namespace: 'shop' },
          annotations: {},
          activeAt: Date.UTC(2025, 2, 1, 0, 0, 0),
          firedAt: Date.UTC(2025, 2, 1, 0, 5, 0),
          lastSeen: Date.UTC(2025, 2, 1, 0, 6, 0),
          count: 12,
          history: [],
        },
      ];
      const res = await get('/api/v1/alerts', { status: 'firing', limit: '5' }).expect(200);
      expect(alertState.calls.at(-1)).toEqual({ status: 'firing', fingerprint: undefined, limit: 5 });
      expect((res.body as { items: unknown[] }).items).toEqual([
        {
          fingerprint: 'f1',
          rule: 'unexpected-drop',
          status: 'firing',
          labels: { alertname: 'UnexpectedDrop', namespace: 'shop' },
          annotations: {},
          count: 12,
          activeAt: '2025-03-01T00:00:00.000Z',
          firedAt: '2025-03-01T00:05:00.000Z',
          resolvedAt: null,
          lastSeen: '2025-03-01T00:06:00.000Z',
          history: [],
        },
      ]);
      await get('/api/v1/alerts', { status: 'burning' }).expect(400);
    });
  });

  describe('OpenAPI document', () => {
    let doc: {
      paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }> }>>;
      components: { securitySchemes: Record<string, Json> };
    };
    beforeAll(async () => {
      doc = (await request(base).get('/docs-json').expect(200)).body as typeof doc;
    });

    it('documents exactly the query parameters each endpoint accepts', async () => {
      const gets = Object.entries(doc.paths).filter(([, ops]) => ops.get);
      expect(gets.length).toBe(11);
      for (const [path, ops] of gets) {
        const documented = (ops.get.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
        const url = path.replace('{namespace}', 'a').replace('{name}', 'p1');
        // The validator names what it accepts when it rejects an unknown parameter.
        const res = await get(url, { zz_unknown: '1' }, ADMIN).expect(400);
        const message = (res.body as { message: string }).message;
        const accepted =
          /unknown query parameter; accepted: (.*)$/.exec(message)?.[1].split(', ') ??
          (/this endpoint takes no query parameters$/.test(message) ? [] : undefined);
        expect(accepted).toBeDefined();
        expect([path, [...documented].sort()]).toEqual([path, accepted!.sort()]);
      }
    });

    it('documents exactly the body fields POST /policy-test and POST /what-if accept, at each level', async () => {
      type ObjectSchema = { properties: Record<string, { items?: ObjectSchema }>; required?: string[] };
      const bodyOf = (path: string) =>
        (doc.paths[path].post as unknown as { requestBody: { content: Record<string, { schema: ObjectSchema }> } })
          .requestBody.content['application/json'].schema;
      // The checker names what it accepts when it rejects an unknown field.
      const accepted = async (path: string, sent: unknown): Promise<string[]> => {
        const res = await postJson(path, sent).expect(400);
        return /unknown field; accepted: (.*)$/.exec((res.body as { message: string }).message)![1].split(', ');
      };
      const body = bodyOf('/api/v1/policy-test');
      const probe = body.properties.probes.items!;
      expect(Object.keys(body.properties).sort()).toEqual(
        (await accepted('/api/v1/policy-test', { zz: 1, probes: [{ from: 'x/a', to: 'x/b', port: 80 }] })).sort(),
      );
      expect(Object.keys(probe.properties).sort()).toEqual(
        (await accepted('/api/v1/policy-test', { probes: [{ from: 'x/a', to: 'x/b', port: 80, zz: 1 }] })).sort(),
      );
      expect(body.required).toEqual(['probes']);
      expect(probe.required).toEqual(['from', 'to', 'port']);
      const whatIf = bodyOf('/api/v1/what-if');
      expect(Object.keys(whatIf.properties).sort()).toEqual(
        (await accepted('/api/v1/what-if', { zz: 1, remove: ['shop/x'] })).sort(),
      );
      expect(whatIf.required).toBeUndefined();
    });

    it('documents exactly the fields POST /policy-test answers with (ProbeResultDto and below)', async () => {
      // x/b has a named port and admits x/a; x/c is denied by an AdminNetworkPolicy; x/h is on the host network.
      inventory = buildInventory(
        parseManifestText(
          `
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Namespace, metadata: {name: x, labels: {ns: x}}}
- {apiVersion: v1, kind: Pod, metadata: {name: a, namespace: x, labels: {pod: a}}, status: {podIP: 10.0.1.1}}
- apiVersion: v1
  kind: Pod
  metadata: {name: b, namespace: x, labels: {pod: b}}
  spec: {containers: [{name: c, ports: [{name: web, containerPort: 8000}]}]}
  status: {podIP: 10.0.1.2}
- {apiVersion: v1, kind: Pod, metadata: {name: c, namespace: x, labels: {pod: c}}, status: {podIP: 10.0.1.3}}
- apiVersion: v1
  kind: Pod
  metadata: {name: h, namespace: x, labels: {pod: h}}
  spec: {hostNetwork: true}
  status: {podIP: 192.168.0.10}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: b-from-a, namespace: x}
  spec: {podSelector: {matchLabels: {pod: b}}, ingress: [{from: [{podSelector: {matchLabels: {pod: a}}}]}]}
- apiVersion: policy.networking.k8s.io/v1alpha1
  kind: AdminNetworkPolicy
  metadata: {name: deny-to-c}
  spec:
    priority: 1
    subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: c}}}}
    ingress: [{action: Deny, from: [{namespaces: {}}]}]
`,
          'cluster.yaml',
        ).objects,
      );
      try {
        const res = await postJson('/api/v1/policy-test', {
          probes: [
            { from: '10.0.1.1', to: '10.0.1.2', port: 'web', expected: 'allow' },
            { from: 'x/a', to: 'x/c', port: 80 },
            { from: 'x/h', to: 'x/a', port: 80, protocol: 'udp' },
          ],
        }).expect(200);
        const items = (res.body as { items: Array<Record<string, unknown>> }).items;
        // Hand-checked: x/a -> x/b:8000 admitted by rule 0 of x/b-from-a; x/c denied by deny-to-c.
        expect(items[0]).toMatchObject({
          from: '10.0.1.1',
          fromPod: 'x/a',
          toPod: 'x/b',
          port: 8000,
          portName: 'web',
          allowed: true,
          expected: 'allow',
        });
        expect((items[0].ingress as Json).admittedBy).toEqual([
          { policy: 'x/b-from-a', direction: 'ingress', ruleIndex: 0 },
        ]);
        expect(items[1]).toMatchObject({ allowed: false, ingress: { allowed: false, deniedBy: ['deny-to-c'] } });
        expect((items[1].ingress as Json).reason).toEqual(expect.any(String));
        expect((items[2].egress as Json).notes).toEqual(['hostNetwork pods are not selected by policies']);

        type Schema = { properties: Record<string, { $ref?: string; items?: { $ref?: string } }>; required?: string[] };
        const schemas = (doc.components as unknown as { schemas: Record<string, Schema> }).schemas;
        const ref = (p: { $ref?: string; items?: { $ref?: string } }) => (p.$ref ?? p.items!.$ref!).split('/').pop()!;
        const resultDoc = schemas[ref(schemas.PolicyTestResponseDto.properties.items)];
        const directionDoc = schemas[ref(resultDoc.properties.ingress)];
        const admittedBy = directionDoc.properties.admittedBy;
        const ruleDoc: Schema = admittedBy ? schemas[ref(admittedBy)] : { properties: {} };
        const keysOf = (objects: Json[]) => [...new Set(objects.flatMap((o) => Object.keys(o)))].sort();
        const directions = items.flatMap((i) => [i.egress as Json, i.ingress as Json]);
        const rules = directions.flatMap((d) => (d.admittedBy as Json[] | undefined) ?? []);
        // Both ways: every documented field is returned by some probe here, and nothing undocumented is returned.
        expect(keysOf(items)).toEqual(Object.keys(resultDoc.properties).sort());
        expect(keysOf(directions)).toEqual(Object.keys(directionDoc.properties).sort());
        expect(keysOf(rules)).toEqual(Object.keys(ruleDoc.properties).sort());
        // Fields documented as required are in every answer.
        for (const [objects, schema] of [
          [items, resultDoc],
          [directions, directionDoc],
          [rules, ruleDoc],
        ] as Array<[Json[], Schema]>)
          for (const o of objects) expect(Object.keys(o)).toEqual(expect.arrayContaining(schema.required ?? []));
      } finally {
        inventory = undefined;
      }
    });

    it('describes the bearer tokens as opaque (they are not JWTs) and errors with a code', () => {
      const schemes = Object.values(doc.components.securitySchemes);
      expect(schemes).toHaveLength(1);
      expect(schemes[0]).toMatchObject({ type: 'http', scheme: 'bearer' });
      expect(schemes[0].bearerFormat).not.toBe('JWT');
      expect(JSON.stringify(doc.components)).toContain('NO_POLICY_INVENTORY');
    });

    it('/docs/ redirects to /docs, whose page assets all load', async () => {
      const slash = await request(base).get('/docs/').expect(301);
      expect(slash.headers.location).toBe('/docs');
      const page = await request(base).get('/docs').expect(200);
      const assets = [...(page.text as string).matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
      expect(assets.length).toBeGreaterThan(0);
      for (const a of assets)
        await request(base)
          .get(new URL(a, `${base}/docs`).pathname)
          .expect(200);
    });
  });
});
