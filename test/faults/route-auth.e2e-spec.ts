import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RequestMethod, type Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import type { ApiDependencies } from '../../src/api/api-dependencies.js';
import { ApiModule } from '../../src/api/api.module.js';
import type { RunningService } from '../../src/app/service.js';
import { HealthController } from '../../src/health/health.controller.js';
import { MetricsController } from '../../src/metrics/metrics.controller.js';
import { createTestDatabase } from '../support/test-database.js';
import { ADMIN_TOKEN, collectingLogger, READ_TOKEN, startApi } from '../api/api-support.js';

interface Route {
  method: string;
  path: string;
  controller: string;
}

/** Every route Nest maps, read from the controllers' own decorator metadata (a new one is covered without editing this test). */
function routesOf(controllers: Array<Type<unknown>>): Route[] {
  const out: Route[] = [];
  for (const c of controllers) {
    const base = String(Reflect.getMetadata(PATH_METADATA, c) ?? '');
    const proto = c.prototype as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(proto)) {
      const handler = proto[name];
      if (name === 'constructor' || typeof handler !== 'function') continue;
      const sub = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      if (sub === undefined || method === undefined) continue;
      const path = `/${[base, sub].filter((p) => p !== '' && p !== '/').join('/')}`.replace(/\/+/g, '/');
      out.push({ method: RequestMethod[method], path, controller: c.name });
    }
  }
  return out;
}

const apiControllers = (ApiModule.register({ serveApi: true } as ApiDependencies).controllers ?? []) as Array<
  Type<unknown>
>;
const routes = routesOf([...apiControllers, HealthController, MetricsController]);
const OPEN = new Set(['GET /healthz', 'GET /readyz']);

async function call(base: string, r: Route, headers: Record<string, string> = {}): Promise<number> {
  const url = base + r.path.replace(/:[A-Za-z]+/g, 'x');
  const body = r.method === 'GET' || r.method === 'DELETE' ? undefined : '{}';
  const res = await fetch(url, {
    method: r.method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

describe('security: every non-public route needs a token', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let svc: RunningService;
  let base: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    svc = await startApi(
      { DATABASE_URL: db.url, METRICS_AUTH: 'true', DROPSCOPE_ROLES: 'aggregator,api,alerts' },
      collectingLogger(),
    );
    base = `http://127.0.0.1:${svc.port}`;
  });
  afterAll(async () => {
    await svc?.close();
    await db?.drop();
  });

  it('enumerates the API routes the OpenAPI document lists, and more', async () => {
    const doc = (await (await fetch(`${base}/docs-json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/\{([^}]+)\}/g, ':$1')}`),
    );
    const enumerated = routes.map((r) => `${r.method} ${r.path}`);
    expect(documented.length).toBeGreaterThanOrEqual(12);
    for (const d of documented) expect(enumerated).toContain(d);
    expect(enumerated).toEqual(expect.arrayContaining(['GET /metrics', 'GET /healthz', 'GET /readyz']));
  });

  it('answers 401 without a token, and with a wrong or malformed one, on every route but the probes', async () => {
    const statuses: string[] = [];
    for (const r of routes) {
      const key = `${r.method} ${r.path}`;
      const none = await call(base, r);
      const wrong = await call(base, r, { authorization: `Bearer ${READ_TOKEN}x` });
      const basic = await call(base, r, {
        authorization: `Basic ${Buffer.from(`u:${READ_TOKEN}`).toString('base64')}`,
      });
      statuses.push(`${key} ${none}/${wrong}/${basic}`);
      if (OPEN.has(key)) expect(none).not.toBe(401);
      else expect([key, none, wrong, basic]).toEqual([key, 401, 401, 401]);
    }
    expect(statuses.length).toBe(routes.length);
  });

  it('refuses a JSON body over 1 MiB with 413, without echoing it, and still serves', async () => {
    const big = JSON.stringify({ matchers: [], comment: 'x'.repeat(2 * 1024 * 1024) });
    const res = await fetch(`${base}/api/v1/silences`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: big,
    });
    expect(res.status).toBe(413);
    expect(await res.text()).not.toContain('xxxx');
    const ok = await fetch(`${base}/api/v1/silences`, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
    expect(ok.status).toBe(200);
  });
});
