import { describe, expect, it } from '@jest/globals';
import { edgeId } from './edge-id.js';

// Expected ids: `printf 'c1\x1fpod\x1f...' | md5sum` of the fields joined by U+001F, written here by hand.
const WEB_TO_PG = {
  cluster: 'c1',
  src_kind: 'pod',
  src_namespace: 'shop',
  src_workload: 'Deployment/web',
  dst_kind: 'pod',
  dst_namespace: 'db',
  dst_workload: 'StatefulSet/pg',
  dst_port: 5432,
  protocol: 'TCP',
  verdict: 'denied',
};

describe('edgeId', () => {
  it('is the MD5 of the ten list fields joined by U+001F, as 32 hex digits', () => {
    expect(edgeId(WEB_TO_PG)).toBe('b12216c22b7447b8243a1e8ba008e7d9');
  });

  it('hashes empty fields, port 0 and non-ASCII names as UTF-8', () => {
    expect(
      edgeId({
        cluster: 'c1',
        src_kind: 'world',
        src_namespace: '',
        src_workload: '203.0.113.7',
        dst_kind: 'pod',
        dst_namespace: 'café',
        dst_workload: 'Deployment/köln',
        dst_port: 0,
        protocol: 'ICMPv4',
        verdict: 'dropped',
      }),
    ).toBe('c3d47c79faf34148647ed7eb7df1f420');
  });

  it('differs when any one field differs, including where a separator would move', () => {
    const ids = new Set([
      edgeId(WEB_TO_PG),
      edgeId({ ...WEB_TO_PG, cluster: 'c2' }),
      edgeId({ ...WEB_TO_PG, src_namespace: 'sho', src_workload: 'pDeployment/web' }),
      edgeId({ ...WEB_TO_PG, dst_port: 543 }),
      edgeId({ ...WEB_TO_PG, verdict: 'allowed' }),
      edgeId({ ...WEB_TO_PG, dst_kind: 'world' }),
    ]);
    expect(ids.size).toBe(6);
  });
});
