/**
 * Roll-ups reach PostgreSQL through COPY into a staging table, then one upsert: every text
 * field must arrive as it was, whatever characters it holds, and a second write of the same rows
 * adds to them instead of duplicating them.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import type { Attribution } from '../../src/aggregator/attribution.port.js';
import { BatchRollup } from '../../src/aggregator/edge-rollup.js';
import { silentLogger } from '../../src/common/logger.js';
import type { FlowRecord } from '../../src/flow/flow-record.js';
import { createDataSource } from '../../src/storage/data-source.js';
import { PartitionManager } from '../../src/storage/partition.manager.js';
import { PostgresRollupWriter } from '../../src/storage/rollup.writer.js';
import { createTestDatabase } from '../support/test-database.js';

/** Backslash, tab, newline, CR, quotes, braces, a comma and non-ASCII: all that COPY text or a text[] literal escapes. */
const AWKWARD = 'a\\b\tc\nd\re"f\'{g},h ü';

function flow(id: string, second: number): FlowRecord {
  return {
    id,
    source: 'calico',
    cluster: `c-${AWKWARD}`,
    time: `2025-04-01T08:15:${String(second).padStart(2, '0')}Z`,
    verdict: 'denied',
    dropReason: `reason ${AWKWARD}`,
    direction: 'ingress',
    src: {
      kind: 'pod',
      namespace: `ns ${AWKWARD}`,
      workload: { kind: 'Deployment', name: `web ${AWKWARD}` },
      labels: { app: AWKWARD, [`k${AWKWARD}`]: 'v' },
    },
    dst: { kind: 'world', ip: '192.0.2.1' },
    protocol: 'TCP',
    dstPort: 443,
    count: 3,
    packets: 4,
    bytes: 500,
    policies: [],
  };
}

const attribution: Attribution = {
  level: 'reported',
  policies: [{ kind: 'NetworkPolicy', namespace: 'ns', name: `deny ${AWKWARD}`, action: 'deny' }],
};

describe('PostgresRollupWriter: roll-ups through COPY', () => {
  let db: { url: string; drop(): Promise<void> };
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = createDataSource(db.url, 2);
    await ds.initialize();
    await ds.runMigrations({ transaction: 'each' });
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it('stores every text field as it was, and a second write of the same row adds to it', async () => {
    const writer = new PostgresRollupWriter(ds, new PartitionManager(ds, silentLogger));
    for (const [id, second] of [
      ['f1', 10],
      ['f2', 50],
    ] as const) {
      const batch = new BatchRollup();
      batch.add(flow(id, second), attribution);
      await writer.writeBatch(batch, [{ stream: 'test', position: id }], []);
    }
    const rows = (await ds.query(
      `SELECT cluster, src_namespace, src_workload, src_labels, dst_workload, drop_reason, policies,
              count::int AS count, packets::int AS packets, bytes::int AS bytes,
              first_seen = '2025-04-01T08:15:10Z'::timestamptz AS first_ok,
              last_seen = '2025-04-01T08:15:50Z'::timestamptz AS last_ok
       FROM edge_rollups`,
    )) as Array<Record<string, unknown>>;
    expect(rows).toEqual([
      {
        cluster: `c-${AWKWARD}`,
        src_namespace: `ns ${AWKWARD}`,
        src_workload: `Deployment/web ${AWKWARD}`,
        src_labels: { app: AWKWARD, [`k${AWKWARD}`]: 'v' },
        dst_workload: '192.0.2.1',
        drop_reason: `reason ${AWKWARD}`,
        policies: [`ns/deny ${AWKWARD}`],
        // Two flows of count 3, 4 packets and 500 bytes each, in one minute: one row.
        count: 6,
        packets: 8,
        bytes: 1000,
        first_ok: true,
        last_ok: true,
      },
    ]);
  });

  // Pods of one workload differ in labels such as pod-template-hash; the row must not depend on
  // which write came last (nor on whether this process or another stored the first one).
  it('keeps the first labels seen for a minute row, whichever writer stores later flows', async () => {
    const labelled = (id: string, second: number, hash: string): FlowRecord => {
      const f = flow(id, second);
      return {
        ...f,
        cluster: 'labels-first',
        src: { ...f.src, labels: { app: 'web', 'pod-template-hash': hash } },
      };
    };
    const partitions = new PartitionManager(ds, silentLogger);
    const first = new PostgresRollupWriter(ds, partitions);
    const other = new PostgresRollupWriter(ds, partitions);
    for (const [writer, id, second, hash] of [
      [first, 'l1', 10, 'aaa'],
      [first, 'l2', 20, 'bbb'],
      [other, 'l3', 30, 'ccc'],
    ] as const) {
      const batch = new BatchRollup();
      batch.add(labelled(id, second, hash), attribution);
      await writer.writeBatch(batch, [{ stream: 'labels-first', position: id }], []);
    }
    const rows = (await ds.query(
      `SELECT src_labels, count::int AS count FROM edge_rollups WHERE cluster = 'labels-first'`,
    )) as Array<Record<string, unknown>>;
    expect(rows).toEqual([{ src_labels: { app: 'web', 'pod-template-hash': 'aaa' }, count: 9 }]);
  });

  // A writer COPies rows it has not written into a minute that held no rows when it first wrote
  // there; another writer storing the same row meanwhile must not make it fail or count twice.
  it('adds to a row another writer stored in a minute this writer wrote first', async () => {
    const edge = (id: string, second: number, port: number): FlowRecord => ({
      ...flow(id, second),
      cluster: 'two-writers',
      dstPort: port,
    });
    const partitions = new PartitionManager(ds, silentLogger);
    const first = new PostgresRollupWriter(ds, partitions);
    const other = new PostgresRollupWriter(ds, partitions);
    for (const [writer, id, second, port] of [
      [first, 'w1', 5, 80], // the minute's first row: `first` finds it empty
      [other, 'w2', 6, 443], // a row `first` has not written, stored by `other`
      [first, 'w3', 7, 443], // the same row from `first`, which still believes the minute its own
      [first, 'w4', 8, 443],
      [first, 'w5', 9, 8080],
    ] as const) {
      const batch = new BatchRollup();
      batch.add(edge(id, second, port), attribution);
      await writer.writeBatch(batch, [{ stream: 'two-writers', position: id }], []);
    }
    const rows = (await ds.query(
      `SELECT dst_port, count::int AS count,
              extract(second FROM first_seen)::int AS first_second, extract(second FROM last_seen)::int AS last_second
       FROM edge_rollups WHERE cluster = 'two-writers' ORDER BY dst_port`,
    )) as Array<Record<string, unknown>>;
    // Flows of count 3 each: port 80 once, 443 three times (seconds 6 to 8), 8080 once.
    expect(rows).toEqual([
      { dst_port: 80, count: 3, first_second: 5, last_second: 5 },
      { dst_port: 443, count: 9, first_second: 6, last_second: 8 },
      { dst_port: 8080, count: 3, first_second: 9, last_second: 9 },
    ]);
    const [{ position }] = (await ds.query(
      `SELECT position FROM stream_checkpoints WHERE stream = 'two-writers'`,
    )) as Array<{
      position: string;
    }>;
    expect(position).toBe('w5');
  });
});
