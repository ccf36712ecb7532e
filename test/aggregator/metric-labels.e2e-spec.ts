/**
 * Metric labels never carry raw input: a drop reason outside the known codes is counted under
 * `reason="other"`, so a producer cannot grow the series count without bound.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import type { RunningService } from '../../src/app/service.js';
import type { FlowRecord } from '../../src/flow/flow-record.js';
import { collectingLogger, startApi } from '../api/api-support.js';
import { createTestDatabase } from '../support/test-database.js';

function drop(id: string, dropReason: string): FlowRecord {
  return {
    id,
    source: 'hubble',
    cluster: 'c1',
    time: '2025-05-01T10:00:00Z',
    verdict: 'dropped',
    dropReason,
    direction: 'egress',
    src: { kind: 'pod', namespace: 'a', pod: 'p' },
    dst: { kind: 'world', ip: '192.0.2.1' },
    protocol: 'TCP',
    dstPort: 443,
    count: 1,
    policies: [],
  };
}

describe('dropscope_drops_total reason label', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let svc: RunningService;
  // 4 KB of random text: what a misbehaving producer or a crafted file can put in dropReason.
  const junk = randomBytes(3072).toString('base64');

  beforeAll(async () => {
    db = await createTestDatabase();
    svc = await startApi({ DATABASE_URL: db.url }, collectingLogger());
    // The in-process bus resolves publish once the batch is committed (and counted).
    await svc.runtime.bus.publish({
      records: [drop('a', junk), drop('b', 'CT_MAP_INSERTION_FAILED'), drop('c', 'NOT_A_CILIUM_CODE')],
    });
  }, 60_000);

  afterAll(async () => {
    await svc?.close();
    await db?.drop();
  });

  it('stores the record with the 4 KB reason (its roll-up key is hashed, not refused by the index)', async () => {
    const rows = (await svc.runtime.db.dataSource.query(
      `SELECT flow_id, length(drop_reason) AS n FROM drop_events ORDER BY 1`,
    )) as Array<{ flow_id: string; n: number }>;
    expect(rows).toEqual([
      { flow_id: 'a', n: 4096 },
      { flow_id: 'b', n: 23 },
      { flow_id: 'c', n: 17 },
    ]);
  });

  it('maps unknown reasons to other and keeps known ones', async () => {
    expect(junk).toHaveLength(4096);
    const text = await svc.runtime.registry.getSingleMetricAsString('dropscope_drops_total');
    expect(text).not.toContain(junk);
    expect(text).not.toContain('NOT_A_CILIUM_CODE');
    expect(text).toContain('dropscope_drops_total{verdict="dropped",direction="egress",reason="other"} 2');
    expect(text).toContain(
      'dropscope_drops_total{verdict="dropped",direction="egress",reason="CT_MAP_INSERTION_FAILED"} 1',
    );
  });
});
