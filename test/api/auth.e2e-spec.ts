import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { ApiError } from '../../src/api/api-errors.js';
import { BearerAuthGuard } from '../../src/api/auth.guard.js';
import { TokenVerifier, bearerToken } from '../../src/api/auth.js';
import { loadConfig } from '../../src/config/config.js';
import { createTestDatabase } from '../support/test-database.js';
import { ADMIN_TOKEN, READ_TOKEN, collectingLogger, startApi } from './api-support.js';

type Json = Record<string, unknown>;

describe('API authentication modes and the no-inventory case', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const dirs: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('METRICS_AUTH=true protects /metrics with the read scope; no inventory → policies note and policy-test 409', async () => {
    const svc = await startApi({ DATABASE_URL: db.url, METRICS_AUTH: 'true' }, collectingLogger());
    try {
      const base = `http://127.0.0.1:${svc.port}`;
      await request(base).get('/metrics').expect(401);
      await request(base).get('/metrics').set('Authorization', `Bearer ${READ_TOKEN}`).expect(200);
      await request(base).get('/healthz').expect(200);
      const list = await request(base).get('/api/v1/policies').set('Authorization', `Bearer ${READ_TOKEN}`).expect(200);
      expect(list.body).toMatchObject({ items: [], nextCursor: null });
      expect((list.body as Json).note).toMatch(/POLICY_MANIFESTS/);
      const pt = await request(base)
        .post('/api/v1/policy-test')
        .set('Authorization', `Bearer ${READ_TOKEN}`)
        .send({ probes: [{ from: 'a/b', to: 'c/d', port: 80 }] })
        .expect(409);
      expect(pt.body).toMatchObject({
        code: 'NO_POLICY_INVENTORY',
        message: expect.stringMatching(/no policy inventory .*POLICY_MANIFESTS.*POLICY_KUBERNETES=true/),
      });
      await request(base).get('/api/v1/policies/default/x').set('Authorization', `Bearer ${READ_TOKEN}`).expect(404);
    } finally {
      await svc.close();
    }
  });

  it('AUTH_DISABLED=true serves without tokens and says so loudly', async () => {
    const log = collectingLogger();
    const svc = await startApi(
      { DATABASE_URL: db.url, AUTH_DISABLED: 'true', API_READ_TOKENS: '', API_ADMIN_TOKENS: '' },
      log,
    );
    try {
      await request(`http://127.0.0.1:${svc.port}`).get('/api/v1/drops').expect(200);
      expect(log.lines.some((l) => l.level === 'warn' && /AUTHENTICATION IS DISABLED/.test(l.msg))).toBe(true);
    } finally {
      await svc.close();
    }
  });

  it('without configured tokens, generates an admin token file (0600) at first start, reuses it, never logs it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dropscope-auth-'));
    dirs.push(dataDir);
    const log = collectingLogger();
    const env = { DATABASE_URL: db.url, API_READ_TOKENS: '', API_ADMIN_TOKENS: '', DROPSCOPE_DATA_DIR: dataDir };
    let svc = await startApi(env, log);
    const file = join(dataDir, 'admin-token');
    const token = readFileSync(file, 'utf8').trim();
    try {
      expect(token.length).toBeGreaterThanOrEqual(32);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const base = `http://127.0.0.1:${svc.port}`;
      await request(base).get('/api/v1/drops').expect(401);
      await request(base).get('/api/v1/drops').set('Authorization', `Bearer ${token}`).expect(200);
      expect(log.lines.some((l) => l.fields?.file === file)).toBe(true);
    } finally {
      await svc.close();
    }
    svc = await startApi(env, log);
    try {
      expect(readFileSync(file, 'utf8').trim()).toBe(token);
      await request(`http://127.0.0.1:${svc.port}`)
        .get('/api/v1/drops')
        .set('Authorization', `Bearer ${token}`)
        .expect(200);
      expect(JSON.stringify(log.lines)).not.toContain(token);
    } finally {
      await svc.close();
    }
  });
});

describe('BearerAuthGuard scopes', () => {
  const config = loadConfig({ API_READ_TOKENS: READ_TOKEN, API_ADMIN_TOKENS: ADMIN_TOKEN });
  const guard = new BearerAuthGuard(config.auth);
  class Writes {
    create(): void {}
  }
  const ctx = (method: string, token?: string): ExecutionContext => {
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    return {
      getClass: () => Writes,
      getHandler: () => Writes.prototype.create,
      switchToHttp: () => ({
        getRequest: () => ({ method, headers }),
        getResponse: () => ({ setHeader: () => undefined }),
      }),
    } as unknown as ExecutionContext;
  };

  it('a read token gets 403 on a write (admin) route; an admin token passes', () => {
    let denied: unknown;
    try {
      guard.canActivate(ctx('POST', READ_TOKEN));
    } catch (e) {
      denied = e;
    }
    expect(denied).toBeInstanceOf(ApiError);
    expect(denied).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    expect(guard.canActivate(ctx('POST', ADMIN_TOKEN))).toBe(true);
    expect(guard.canActivate(ctx('GET', READ_TOKEN))).toBe(true);
  });

  it('verifies tokens by digest, whatever their length', () => {
    const v = new TokenVerifier([READ_TOKEN], [ADMIN_TOKEN]);
    expect(v.scopeOf(READ_TOKEN)).toBe('read');
    expect(v.scopeOf(ADMIN_TOKEN)).toBe('admin');
    expect(v.scopeOf(READ_TOKEN.slice(0, -1))).toBeUndefined();
    expect(v.scopeOf('')).toBeUndefined();
    expect(bearerToken(`bearer ${READ_TOKEN}`)).toBe(READ_TOKEN);
    expect(bearerToken(`Basic ${READ_TOKEN}`)).toBeUndefined();
  });
});
