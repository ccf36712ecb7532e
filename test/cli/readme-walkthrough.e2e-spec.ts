/**
 * The README's "Try it on the example cluster" walk-through, as a newcomer runs it: the answers it
 * describes are the answers the service gives. Expected values are the ones the README states,
 * read by hand from examples/flows/hubble-observe.jsonl and examples/cluster/.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import type { RunningService } from '../../src/app/service.js';
import { silentLogger } from '../../src/common/logger.js';
import { READ_TOKEN, startApi } from '../api/api-support.js';
import { runCli } from '../support/cli.js';
import { createTestDatabase } from '../support/test-database.js';

describe('README walk-through on the example cluster', () => {
  let svc: RunningService;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase();
    svc = await startApi({ DATABASE_URL: db.url }, silentLogger);
  });
  afterAll(async () => {
    await svc?.close();
    await db?.drop();
  });

  const get = (path: string) =>
    request(`http://127.0.0.1:${svc.port}`).get(path).set('Authorization', `Bearer ${READ_TOKEN}`).expect(200);

  it('imports the example flows and shows the four denied edges and the isolating policy', async () => {
    const r = await runCli(
      ['import', '--source', 'hubble', '--no-progress', '--retime', 'examples/flows/hubble-observe.jsonl'],
      { DATABASE_URL: db.url, POLICY_MANIFESTS: 'examples/cluster' },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^imported 112 flows \(112 records\) from 1 file\(s\): 46 denied/);

    const edges = (await get('/api/v1/drops/summary?by=edge')).body as {
      items: Array<{ srcWorkload: string; dstWorkload: string; dstPort: number; count: number }>;
    };
    expect(edges.items.map((e) => [e.srcWorkload, e.dstWorkload, e.dstPort, e.count])).toEqual([
      ['Deployment/cart', 'StatefulSet/postgres', 5432, 18],
      ['Deployment/frontend', 'Deployment/payments', 8443, 12],
      ['StatefulSet/prometheus', 'Deployment/cart', 9090, 9],
      ['Deployment/payments', '52.1.2.3', 443, 7],
    ]);

    const policies = (await get('/api/v1/drops/summary?by=policy')).body as {
      items: Array<{ policy: string; count: number }>;
    };
    expect(policies.items[0]).toMatchObject({ policy: 'shop/default-deny', count: 46 });
  });

  it('suggests the fix for all four and what-if shows removing allow-dns breaks the two DNS edges', async () => {
    const s = await runCli([
      'suggest',
      '--cluster',
      'examples/cluster',
      '--flows',
      'examples/flows/hubble-observe.jsonl',
      '--source',
      'hubble',
    ]);
    expect(s.code).toBe(0);
    expect(s.stdout).toContain('kind: NetworkPolicy');
    expect(s.stderr).toContain('all applied together: 4/4 edges admitted end to end');

    const w = await runCli([
      'what-if',
      '--cluster',
      'examples/cluster',
      '--remove',
      'shop/allow-dns',
      '--flows',
      'examples/flows/hubble-observe.jsonl',
      '--source',
      'hubble',
    ]);
    expect(w.code).toBe(0);
    expect(w.stdout).toContain('7 edge(s) observed; 2 newly denied, 0 newly allowed, 5 unchanged, 0 uncertain');
  });
});
