/**
 * A drop isolated by two policies counts for each of them: in summary by=policy, in the policy
 * filter, and in the policy views. Manifests and expected values are written out by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { RunningService } from '../../src/app/service.js';
import type { FlowRecord } from '../../src/flow/flow-record.js';
import { createTestDatabase } from '../support/test-database.js';
import { READ_TOKEN, collectingLogger, startApi } from './api-support.js';

// Two NetworkPolicies select shop/db and admit only app=api on TCP/5432: each isolates its ingress.
const MANIFESTS = `apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Namespace, metadata: {name: shop}}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: db-from-api, namespace: shop}
  spec:
    podSelector: {matchLabels: {app: db}}
    policyTypes: [Ingress]
    ingress:
    - from: [{podSelector: {matchLabels: {app: api}}}]
      ports: [{port: 5432, protocol: TCP}]
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: default-deny-ingress, namespace: shop}
  spec:
    podSelector: {}
    policyTypes: [Ingress]
`;

const FROM = '2025-05-01T10:00:00Z';
const WINDOW = { from: '2025-05-01T00:00:00Z', to: '2025-05-02T00:00:00Z' };

/** web → db on TCP/5432: no policy admits it; the source names none (a default deny). */
function webToDb(i: number): FlowRecord {
  return {
    id: `web-db-${i}`,
    source: 'hubble',
    cluster: 'c1',
    time: new Date(Date.parse(FROM) + i * 1000).toISOString(),
    verdict: 'denied',
    dropReason: 'POLICY_DENIED',
    direction: 'ingress',
    src: { kind: 'pod', namespace: 'shop', pod: 'web-1', labels: { app: 'web' } },
    dst: { kind: 'pod', namespace: 'shop', pod: 'db-0', labels: { app: 'db' } },
    protocol: 'TCP',
    dstPort: 5432,
    count: 1,
    policies: [],
  };
}

describe('a drop isolated by two policies', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let svc: RunningService;
  let base: string;
  let dir: string | undefined;

  const get = (path: string, query: Record<string, string | number>) =>
    request(base).get(path).query(query).set('Authorization', `Bearer ${READ_TOKEN}`).expect(200);

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'dropscope-multi-policy-'));
    const manifests = join(dir, 'shop.yaml');
    writeFileSync(manifests, MANIFESTS);
    svc = await startApi({ DATABASE_URL: db.url, POLICY_MANIFESTS: manifests }, collectingLogger());
    base = `http://127.0.0.1:${svc.port}`;
    // The in-process bus resolves publish once the batch is committed.
    await svc.runtime.bus.publish({ records: [webToDb(0), webToDb(1), webToDb(2)] });
  }, 60_000);

  afterAll(async () => {
    await svc?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('summary by=policy lists both policies, each with all 3 drops', async () => {
    const res = await get('/api/v1/drops/summary', { ...WINDOW, by: 'policy' });
    const items = (res.body as { items: Array<{ policy: string | null; count: number }> }).items;
    expect(items.map((i) => [i.policy, i.count]).sort()).toEqual([
      ['shop/db-from-api', 3],
      ['shop/default-deny-ingress', 3],
    ]);
    // The drops themselves are counted once.
    const total = await get('/api/v1/drops/summary', { ...WINDOW, by: 'namespace' });
    expect((total.body as { items: Array<{ count: number }> }).items).toEqual([
      expect.objectContaining({ namespace: 'shop', count: 3 }),
    ]);
  });

  it.each(['shop/db-from-api', 'shop/default-deny-ingress'])('the policy filter %s returns the 3 drops', async (p) => {
    const drops = await get('/api/v1/drops', { ...WINDOW, policy: p });
    const ids = (drops.body as { items: Array<{ flowId: string }> }).items.map((i) => i.flowId).sort();
    expect(ids).toEqual(['web-db-0', 'web-db-1', 'web-db-2']);
    const summary = await get('/api/v1/drops/summary', { ...WINDOW, by: 'reason', policy: p });
    expect((summary.body as { items: unknown[] }).items).toEqual([
      expect.objectContaining({ verdict: 'denied', reason: 'POLICY_DENIED', count: 3 }),
    ]);
    const [ns, name] = p.split('/');
    const view = await get(`/api/v1/policies/${ns}/${name}`, WINDOW);
    expect((view.body as { drops: { count: number } }).drops.count).toBe(3);
  });
});
