/**
 * Every API parameter and body fuzzed against the real service (PostgreSQL, policy inventory,
 * alerting): hostile query strings on every GET endpoint and hostile bodies on every POST/PUT.
 * Bad input is a 4xx with a reason, never a 5xx.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { QUERY_SCHEMAS, type QuerySchema } from '../../src/api/query-schemas.js';
import type { RunningService } from '../../src/app/service.js';
import { generateHubbleLines } from '../../src/synthetic/hubble-flow.generator.js';
import { HubbleLineMapper } from '../../src/collector/hubble/hubble-line.mapper.js';
import { importFile } from '../../src/ingest/file-import.js';
import { createTestDatabase } from '../support/test-database.js';
import { ADMIN_TOKEN, collectingLogger, POLICY_FIXTURE, startApi } from '../api/api-support.js';
import { edits, FuzzCounter, fuzzParams, hostileValue, mutate } from './fuzz-support.js';

const counter = new FuzzCounter();
const statuses = new Map<number, number>();

/** Values a client might send for any parameter: plausible, borderline and hostile. */
const paramValue = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '-1',
    '0',
    '1',
    '1000',
    '1001',
    '99999999999999999999',
    '1e3',
    'NaN',
    'null',
    'true',
    '2025-03-01T00:00:00Z',
    '2025-13-45T99:99:99Z',
    '-271821-04-20T00:00:00Z',
    '+275760-09-13T00:00:01Z',
    'now-1h',
    'now-99999999d',
    '1h',
    '-5m',
    '0s',
    '1740787200',
    '99999999999999',
    'default/x',
    'a/b/c',
    '/',
    'Deployment/frontend',
    '__proto__',
    'constructor',
    '%00',
    '\u0000',
    '\ud800',
    "'; DROP TABLE edge_rollups; --",
    'x'.repeat(10_000),
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

/** encodeURIComponent, except that a lone surrogate becomes the (invalid UTF-8) escape of one. */
function encode(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ED%A0%80';
  }
}

const names = (schema: QuerySchema): string[] => schema.map((p) => p.name);

interface Endpoint {
  path: string;
  names: string[];
}

const ENDPOINTS: Endpoint[] = [
  { path: '/api/v1/drops', names: names(QUERY_SCHEMAS.drops) },
  { path: '/api/v1/drops/summary', names: names(QUERY_SCHEMAS.summary) },
  { path: '/api/v1/drops/timeseries', names: names(QUERY_SCHEMAS.timeseries) },
  { path: '/api/v1/flows/edges', names: names(QUERY_SCHEMAS.edges) },
  { path: '/api/v1/policies', names: names(QUERY_SCHEMAS.policies) },
  { path: '/api/v1/policies/default/deny-all', names: names(QUERY_SCHEMAS.policyDetail) },
  { path: '/api/v1/policies/some-cluster-policy', names: names(QUERY_SCHEMAS.policyDetail) },
  { path: '/api/v1/alerts', names: names(QUERY_SCHEMAS.alerts) },
  { path: '/api/v1/alert-rules', names: names(QUERY_SCHEMAS.alertRules) },
  { path: '/api/v1/silences', names: names(QUERY_SCHEMAS.silences) },
  { path: '/api/v1/suggestions', names: names(QUERY_SCHEMAS.suggestions) },
];

/** A raw query string: known and unknown names, repeated names, array/object syntax. */
function queryArb(names: string[]): fc.Arbitrary<string> {
  const name = fc.oneof(
    { arbitrary: fc.constantFrom(...(names.length > 0 ? names : ['x'])), weight: 6 },
    { arbitrary: fc.constantFrom('__proto__', 'constructor[prototype]', 'limit[]', 'from[a]', 'x'), weight: 1 },
    { arbitrary: fc.string({ maxLength: 8 }), weight: 1 },
  );
  return fc
    .array(fc.tuple(name, paramValue, fc.boolean()), { maxLength: 6 })
    .map((pairs) => pairs.map(([n, v, raw]) => `${encode(n)}=${raw ? v.replace(/[#&\s]/g, '') : encode(v)}`).join('&'));
}

function record(status: number): void {
  counter.tried++;
  statuses.set(status, (statuses.get(status) ?? 0) + 1);
  if (status >= 500) counter.lost++;
}

describe('API fuzz: never a 5xx', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let svc: RunningService;
  let base: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    svc = await startApi(
      { DATABASE_URL: db.url, POLICY_MANIFESTS: POLICY_FIXTURE, DROPSCOPE_ROLES: 'aggregator,api,alerts' },
      collectingLogger(),
    );
    base = `http://127.0.0.1:${svc.port}`;
    // some recent traffic, so queries reach real rows
    const dir = mkdtempSync(join(tmpdir(), 'ds-fuzz-api-'));
    try {
      const file = join(dir, 'recent.jsonl');
      const lines = generateHubbleLines({ count: 300, seed: 3, policyDropShare: 0.3, startMs: Date.now() - 600_000 });
      writeFileSync(file, `${[...lines].join('\n')}\n`);
      await importFile(file, () => new HubbleLineMapper(), svc.runtime.bus, {
        load: (s) => svc.runtime.repositories.checkpoints.load(s),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  afterAll(async () => {
    await svc?.close();
    await db?.drop();
    counter.report('API requests');
    process.stdout.write(`[fuzz] API statuses: ${JSON.stringify(Object.fromEntries(statuses))}\n`);
  });

  const get = (path: string) => request(base).get(path).set('Authorization', `Bearer ${ADMIN_TOKEN}`);

  it.each(ENDPOINTS)('GET $path with hostile query strings', async ({ path, names }) => {
    await fc.assert(
      fc.asyncProperty(queryArb(names), async (qs) => {
        const res = await get(`${path}?${qs}`);
        record(res.status);
        expect(res.status).toBeLessThan(500); // fast-check prints the query string that failed
      }),
      fuzzParams(120),
    );
  });

  it('hostile path parameters on the policy and alert-rule routes', async () => {
    const seg = paramValue.filter((s) => s.length > 0).map(encode);
    await fc.assert(
      fc.asyncProperty(seg, seg, async (a, b) => {
        for (const [method, path] of [
          ['get', `/api/v1/policies/${a}/${b}`],
          ['get', `/api/v1/policies/${a}`],
          ['delete', `/api/v1/alert-rules/${a}`],
          ['put', `/api/v1/alert-rules/${a}`],
          ['delete', `/api/v1/silences/${a}`],
        ] as const) {
          const res = await request(base)[method](path).set('Authorization', `Bearer ${ADMIN_TOKEN}`);
          record(res.status);
          if (res.status >= 500) throw new Error(`${method.toUpperCase()} ${path}: ${res.status}`);
        }
      }),
      fuzzParams(80),
    );
  });

  it('an id with a NUL byte names no stored rule or silence: 404, not 500', async () => {
    for (const path of ['/api/v1/alert-rules/%00', '/api/v1/silences/a%00b']) {
      const res = await request(base).delete(path).set('Authorization', `Bearer ${ADMIN_TOKEN}`);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ code: 'NOT_FOUND' });
    }
  });

  const validProbe = { probes: [{ from: 'default/xwing', to: 'default/deathstar', port: 80, protocol: 'TCP' }] };
  const validSilence = {
    matchers: [{ name: 'namespace', value: 'shop', isEqual: true }],
    startsAt: new Date().toISOString(),
    endsAt: new Date(Date.now() + 3600_000).toISOString(),
    comment: 'fuzz',
    createdBy: 'fuzz',
  };
  const validRule = { expr: 'drops > 0', for: '5m', labels: { severity: 'warning' } };
  const validWhatIf = { remove: ['default/rule1'], from: '-1h', to: 'now' };
  const body = (valid: unknown) =>
    fc.oneof(
      hostileValue,
      edits.map((e) => mutate(valid, e)),
      fc.string({ maxLength: 200 }).map((s) => ({ raw: s })),
    );

  it.each([
    ['post', '/api/v1/policy-test', validProbe],
    ['post', '/api/v1/silences', validSilence],
    ['put', '/api/v1/alert-rules/fuzz-rule', validRule],
    ['post', '/api/v1/what-if', validWhatIf],
  ] as const)('%s %s with hostile JSON bodies', async (method, path, valid) => {
    await fc.assert(
      fc.asyncProperty(body(valid), fc.boolean(), async (b, asText) => {
        const req = request(base)[method](path).set('Authorization', `Bearer ${ADMIN_TOKEN}`);
        // raw: bodies JSON cannot carry (truncated, not JSON at all) sent as application/json
        const text = JSON.stringify(b) ?? 'null';
        const res = await req.set('Content-Type', 'application/json').send(asText ? text.slice(0, -1) || '{' : text);
        record(res.status);
        expect(res.status).toBeLessThan(500);
      }),
      fuzzParams(200),
    );
  });
});
