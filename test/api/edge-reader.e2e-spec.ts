/**
 * The edge reader over real PostgreSQL, fed through the real roll-up write path: ICMP edges show
 * their type as icmpType (dstPort null), and observedEdges lists a window's edges at workload level
 * for `suggest --from` / `what-if`. (Summaries by edge show ICMP the same way.)
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { BatchRollup } from '../../src/aggregator/edge-rollup.js';
import { PostgresRollupWriter } from '../../src/storage/rollup.writer.js';
import { silentLogger } from '../../src/common/logger.js';
import type { FlowRecord } from '../../src/flow/flow-record.js';
import { createDataSource } from '../../src/storage/data-source.js';
import { PostgresEdgeReader } from '../../src/storage/edge.reader.js';
import { PartitionManager } from '../../src/storage/partition.manager.js';
import { PostgresRollupStatsReader } from '../../src/storage/rollup-stats.reader.js';
import { createTestDatabase } from '../support/test-database.js';

const T0 = Date.parse('2025-03-01T10:00:00Z');

function flow(id: string, minute: number, over: Partial<FlowRecord>): FlowRecord {
  return {
    id,
    source: 'hubble',
    cluster: 'c1',
    time: new Date(T0 + minute * 60_000 + 5_000).toISOString(),
    verdict: 'denied',
    direction: 'egress',
    src: {
      kind: 'pod',
      namespace: 'shop',
      pod: 'web-1',
      workload: { kind: 'Deployment', name: 'web' },
      labels: { app: 'web' },
    },
    dst: {
      kind: 'pod',
      namespace: 'db',
      pod: 'pg-0',
      workload: { kind: 'StatefulSet', name: 'pg' },
      labels: { app: 'pg' },
    },
    protocol: 'TCP',
    dstPort: 5432,
    count: 1,
    policies: [],
    ...over,
  };
}

describe('PostgresEdgeReader', () => {
  let db: { url: string; drop(): Promise<void> };
  let ds: DataSource;
  let reader: PostgresEdgeReader;

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = createDataSource(db.url, 2);
    await ds.initialize();
    await ds.runMigrations({ transaction: 'each' });
    const batch = new BatchRollup();
    // Two TCP flows on one edge (minutes 0 and 2, labels changed in between), allowed.
    batch.add(flow('a', 0, { verdict: 'allowed' }), undefined);
    batch.add(
      flow('b', 2, {
        verdict: 'allowed',
        src: {
          kind: 'pod',
          namespace: 'shop',
          pod: 'web-2',
          workload: { kind: 'Deployment', name: 'web' },
          labels: { app: 'web', v: '2' },
        },
      }),
      undefined,
    );
    // An ICMP echo request (type 8, code 0), denied.
    batch.add(flow('c', 1, { protocol: 'ICMPv4', dstPort: undefined, icmpType: 8, icmpCode: 0 }), undefined);
    // Egress to an address outside the cluster, in another namespace.
    batch.add(
      flow('d', 1, {
        src: { kind: 'pod', namespace: 'batch', pod: 'job-1', workload: { kind: 'Job', name: 'nightly' } },
        dst: { kind: 'world', ip: '203.0.113.7' },
        dstPort: 443,
      }),
      undefined,
    );
    await new PostgresRollupWriter(ds, new PartitionManager(ds, silentLogger)).writeBatch(batch, [], []);
    reader = new PostgresEdgeReader(ds);
  });

  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  const window = { from: T0, to: T0 + 3_600_000 };

  it('lists an ICMP edge with its type as icmpType and dstPort null; other edges keep dstPort', async () => {
    const page = await reader.edges({ ...window, verdict: ['denied'] }, 10, 0);
    const icmp = page.items.find((e) => e.protocol === 'ICMPv4');
    expect(icmp).toMatchObject({ dstPort: null, icmpType: 8, count: 1, verdict: 'denied' });
    const https = page.items.find((e) => e.protocol === 'TCP');
    expect(https).toMatchObject({ dstPort: 443, icmpType: null });
    expect(page.next).toBeNull();
  });

  it('summary by=edge shows the ICMP type the same way', async () => {
    const s = await new PostgresRollupStatsReader(ds).summary({ ...window, verdict: ['denied'] }, 'edge', 10);
    expect(s.items.find((i) => i.protocol === 'ICMPv4')).toMatchObject({ dstPort: null, icmpType: 8, count: 1 });
    expect(s.items.find((i) => i.protocol === 'TCP')).toMatchObject({ dstPort: 443, icmpType: null });
  });

  it('observedEdges: every verdict at workload level, latest labels, addresses for address-only endpoints', async () => {
    const edges = await reader.observedEdges(window);
    expect(edges).toHaveLength(3);
    const web = edges.find((e) => e.dst.workload === 'StatefulSet/pg' && e.protocol === 'TCP');
    expect(web).toEqual({
      cluster: 'c1',
      src: {
        kind: 'pod',
        namespace: 'shop',
        workload: 'Deployment/web',
        labels: { app: 'web', v: '2' },
        address: null,
      },
      dst: { kind: 'pod', namespace: 'db', workload: 'StatefulSet/pg', labels: { app: 'pg' }, address: null },
      dstPort: 5432,
      icmpType: null,
      protocol: 'TCP',
      verdict: 'allowed',
      directions: ['egress'],
      count: 2,
      firstSeen: '2025-03-01T10:00:05.000Z',
      lastSeen: '2025-03-01T10:02:05.000Z',
    });
    const world = edges.find((e) => e.dst.kind === 'world');
    expect(world?.dst).toEqual({
      kind: 'world',
      namespace: null,
      workload: null,
      labels: null,
      address: '203.0.113.7',
    });
    expect(world?.src.workload).toBe('Job/nightly');
  });

  it('observedEdges: a namespace matches either side; the window bounds the minutes', async () => {
    const batchNs = await reader.observedEdges({ ...window, namespace: 'batch' });
    expect(batchNs.map((e) => e.dstPort)).toEqual([443]);
    const dbNs = await reader.observedEdges({ ...window, namespace: 'db' });
    expect(dbNs).toHaveLength(2);
    const late = await reader.observedEdges({ from: T0 + 2 * 60_000, to: T0 + 3 * 60_000 });
    expect(late.map((e) => e.count)).toEqual([1]);
  });
});
