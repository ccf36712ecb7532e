import { describe, expect, it } from '@jest/globals';
import { edgesFromStored, type StoredEdge } from './stored-edges.js';

const pod = (namespace: string, workload: string, app: string) => ({
  kind: 'pod',
  namespace,
  workload,
  labels: { 'app.kubernetes.io/name': app, 'pod-template-hash': 'abc123' },
  address: null,
});

const edge = (over: Partial<StoredEdge>): StoredEdge => ({
  src: pod('shop', 'Deployment/frontend', 'frontend'),
  dst: pod('shop', 'Deployment/cart', 'cart'),
  dstPort: 8080,
  protocol: 'TCP',
  verdict: 'denied',
  count: 3,
  firstSeen: '2026-11-29T09:00:00.000Z',
  lastSeen: '2026-11-29T09:10:00.000Z',
  ...over,
});

describe('edgesFromStored', () => {
  it('turns stored workload edges into observed edges with stable labels', () => {
    const { edges, stats } = edgesFromStored([edge({})]);
    expect(edges).toEqual([
      {
        src: {
          kind: 'pod',
          namespace: 'shop',
          workload: 'frontend',
          labels: { 'app.kubernetes.io/name': 'frontend' },
          ips: [],
        },
        dst: {
          kind: 'pod',
          namespace: 'shop',
          workload: 'cart',
          labels: { 'app.kubernetes.io/name': 'cart' },
          ips: [],
        },
        dstPort: 8080,
        protocol: 'TCP',
        verdict: 'denied',
        count: 3,
        firstSeen: '2026-11-29T09:00:00.000Z',
        lastSeen: '2026-11-29T09:10:00.000Z',
      },
    ]);
    expect(stats).toEqual({ records: 1, replies: 0, unsupported: 0, unknownEndpoint: 0, otherVerdict: 0 });
  });

  it('merges rows that differ only in unstable labels, and counts what it leaves out', () => {
    const replica2 = pod('shop', 'Deployment/frontend', 'frontend');
    replica2.labels['pod-template-hash'] = 'def456';
    const { edges, stats } = edgesFromStored([
      edge({}),
      edge({ src: replica2, count: 4, firstSeen: '2026-11-29T08:00:00.000Z', lastSeen: '2026-11-29T09:05:00.000Z' }),
      edge({ dstPort: 45000 }), // the reply side of a connection
      edge({ protocol: 'ICMP', dstPort: null }),
      edge({ verdict: 'other' }),
      edge({ src: { kind: 'pod', namespace: null, workload: null, labels: null, address: null } }),
    ]);
    expect(edges).toHaveLength(1);
    expect(edges[0]).toMatchObject({
      count: 7,
      firstSeen: '2026-11-29T08:00:00.000Z',
      lastSeen: '2026-11-29T09:10:00.000Z',
    });
    expect(stats).toEqual({ records: 6, replies: 1, unsupported: 1, unknownEndpoint: 1, otherVerdict: 1 });
  });

  it('keeps external peers by address', () => {
    const { edges } = edgesFromStored([
      edge({
        dst: { kind: 'world', namespace: null, workload: null, labels: null, address: '52.1.2.3' },
        dstPort: 443,
      }),
    ]);
    expect(edges[0].dst).toEqual({ kind: 'world', labels: {}, ips: ['52.1.2.3'] });
  });
});
