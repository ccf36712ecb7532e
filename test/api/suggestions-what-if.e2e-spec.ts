/**
 * GET /api/v1/suggestions and POST /api/v1/what-if through the real service and PostgreSQL: the
 * example Hubble flows imported (retimed to now) by `dropscope import`, the example cluster as the
 * service's policy inventory (POLICY_MANIFESTS). shop is default-deny; four edges were observed
 * denied (frontend → payments:8443, cart → db/postgres:5432, monitoring/prometheus → cart:9090,
 * payments → 52.1.2.3:443) and three allowed (frontend → cart:8080, DNS from cart and payments).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import request from 'supertest';
import type { RunningService } from '../../src/app/service.js';
import { assertBuilt, ROOT, runCli } from '../support/cli.js';
import { createTestDatabase } from '../support/test-database.js';
import { collectingLogger, READ_TOKEN, startApi } from './api-support.js';

const CLUSTER = join(ROOT, 'examples/cluster');
const HUBBLE = join(ROOT, 'examples/flows/hubble-observe.jsonl');

interface Item {
  src: { namespace?: string; workload?: string };
  dst: { namespace?: string; workload?: string; ip?: string };
  dstPort: number;
  protocol: string;
  before: string;
  after: string;
}

const changed = (items: Item[]): string[] =>
  items
    .filter((i) => i.before !== i.after)
    .map(
      (i) =>
        `${i.src.namespace}/${i.src.workload}>${i.dst.ip ?? `${i.dst.namespace}/${i.dst.workload}`}:${i.dstPort}/${i.protocol} ${i.before}→${i.after}`,
    )
    .sort();

describe('suggestions and what-if over the API', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let svc: RunningService;
  let base: string;

  beforeAll(async () => {
    assertBuilt();
    db = await createTestDatabase();
    svc = await startApi({ DATABASE_URL: db.url, POLICY_MANIFESTS: CLUSTER }, collectingLogger());
    base = `http://127.0.0.1:${svc.port}`;
    const imported = await runCli(['import', '--retime', '--source', 'hubble', HUBBLE], { DATABASE_URL: db.url });
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/^imported 112 flows/);
  }, 120_000);

  afterAll(async () => {
    await svc?.close();
    await db?.drop();
  });

  const whatIf = (body: object) =>
    request(base).post('/api/v1/what-if').set('Authorization', `Bearer ${READ_TOKEN}`).send(body);

  it('GET /suggestions: the fix for shop, verified and replayed over the stored history', async () => {
    const res = await request(base)
      .get('/api/v1/suggestions')
      .query({ namespace: 'shop' })
      .set('Authorization', `Bearer ${READ_TOKEN}`)
      .expect(200);
    const body = res.body as {
      items: Array<{
        namespace: string;
        yaml: string;
        policies: Array<{ metadata: { name: string } }>;
        covers: string[];
        verification: unknown;
      }>;
      coverage: { edges: number };
    };
    expect(body.items.map((i) => i.namespace)).toEqual(['shop']);
    const [shop] = body.items;
    expect(shop.policies.map((p) => p.metadata.name)).toEqual([
      'dropscope-allow-cart',
      'dropscope-allow-frontend',
      'dropscope-allow-payments',
    ]);
    expect(shop.covers).toHaveLength(4);
    expect(shop.verification).toMatchObject({
      claimed: 4,
      admitted: 4,
      overPermission: { podPairs: 0, examples: [] },
      history: { newlyAllowed: 4, newlyDenied: 0 },
    });
    expect(body.coverage.edges).toBe(7);

    // The suggested YAML posted back as a proposal: exactly the four denied edges open.
    const fix = await whatIf({ add: shop.yaml, from: '-7d' }).expect(200);
    expect(changed((fix.body as { items: Item[] }).items)).toEqual([
      'monitoring/prometheus>shop/cart:9090/TCP denied→allowed',
      'shop/cart>db/postgres:5432/TCP denied→allowed',
      'shop/frontend>shop/payments:8443/TCP denied→allowed',
      'shop/payments>52.1.2.3:443/TCP denied→allowed',
    ]);
  });

  it('POST /what-if removing shop/allow-dns: exactly the two DNS edges newly denied', async () => {
    const res = await whatIf({ remove: ['shop/allow-dns'] }).expect(200);
    const body = res.body as { summary: unknown; proposal: unknown; items: Item[] };
    expect(body.summary).toEqual({ edges: 7, newlyDenied: 2, newlyAllowed: 0, unchanged: 5, uncertain: 0 });
    expect(body.proposal).toEqual({ added: [], replaced: [], removed: ['NetworkPolicy shop/allow-dns'] });
    expect(changed(body.items)).toEqual([
      'shop/cart>kube-system/coredns:53/UDP allowed→denied',
      'shop/payments>kube-system/coredns:53/UDP allowed→denied',
    ]);
  });

  it('POST /what-if with objects: a kube-system default-deny breaks DNS; --namespace db sees one edge', async () => {
    const deny = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'default-deny', namespace: 'kube-system' },
      spec: { podSelector: {}, policyTypes: ['Ingress'] },
    };
    const res = await whatIf({ add: [deny] }).expect(200);
    expect(changed((res.body as { items: Item[] }).items)).toEqual([
      'shop/cart>kube-system/coredns:53/UDP allowed→denied',
      'shop/payments>kube-system/coredns:53/UDP allowed→denied',
    ]);
    const db1 = await whatIf({ remove: ['shop/allow-dns'], namespace: 'db' }).expect(200);
    expect((db1.body as { summary: unknown }).summary).toEqual({
      edges: 1,
      newlyDenied: 0,
      newlyAllowed: 0,
      unchanged: 1,
      uncertain: 0,
    });
  });

  it('bad proposals are 400 INVALID_PARAMETER: a removal naming nothing, YAML that is not a policy', async () => {
    const nope = await whatIf({ remove: ['shop/nope'] }).expect(400);
    expect(nope.body).toMatchObject({
      code: 'INVALID_PARAMETER',
      message: 'remove shop/nope: no policy of that namespace and name',
    });
    const yaml = await whatIf({ add: 'kind: NetworkPolicy\nmetadata: {name: x}\nspec: [' }).expect(400);
    expect(yaml.body).toMatchObject({
      code: 'INVALID_PARAMETER',
      message: expect.stringMatching(/^error: add#0: skipped: YAML/),
    });
    const ns = await request(base)
      .get('/api/v1/suggestions')
      .query({ namespace: 'billing' })
      .set('Authorization', `Bearer ${READ_TOKEN}`)
      .expect(400);
    expect(ns.body).toMatchObject({
      code: 'INVALID_PARAMETER',
      message: 'namespace billing is not in the cluster manifests (known: db, kube-system, monitoring, shop)',
    });
  });
});
