import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { Aggregator } from '../../src/aggregator/aggregator.js';
import { AggregatorMetrics } from '../../src/aggregator/aggregator.metrics.js';
import { reportedOnlyAttributor } from '../../src/aggregator/attribution.port.js';
import { InProcessFlowBus } from '../../src/bus/in-process-flow.bus.js';
import { silentLogger } from '../../src/common/logger.js';
import type { FlowRecord } from '../../src/flow/flow-record.js';
import { openDatabase, type Database } from '../../src/storage/database.js';
import { postgresWriteRepositories } from '../../src/storage/repositories.js';
import { createTestDatabase } from '../support/test-database.js';

function good(i: number): FlowRecord {
  return {
    id: `ok-${i}`,
    source: 'calico',
    cluster: 'c1',
    time: new Date(Date.now() - i * 1000).toISOString(),
    verdict: i % 2 === 0 ? 'denied' : 'allowed',
    dropReason: i % 2 === 0 ? 'POLICY_DENY' : undefined,
    direction: 'ingress',
    src: { kind: 'pod', namespace: 'a', workload: { kind: 'Deployment', name: 'web' }, labels: { app: 'web' } },
    dst: { kind: 'pod', namespace: 'b', workload: { kind: 'Deployment', name: 'db' } },
    protocol: 'TCP',
    dstPort: 5432,
    count: 3,
    policies: [],
  };
}

describe('dead letters in the embedded pipeline', () => {
  let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: Database;
  let ds: DataSource;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = await openDatabase({ url: testDb.url, dataDir: '/nonexistent' }, silentLogger);
    ds = db.dataSource;
  });
  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  it('stores bad records with their reason, counts them, and keeps storing the good ones', async () => {
    const registry = new Registry();
    const repos = postgresWriteRepositories(ds, silentLogger);
    const agg = new Aggregator(repos.rollups, reportedOnlyAttributor, new AggregatorMetrics(registry), silentLogger);
    const bus = new InProcessFlowBus(1000, silentLogger);
    await bus.consume((b) => agg.handle(b).then(() => undefined), {
      groupId: 'g',
      loadCheckpoints: (s) => repos.checkpoints.loadMany(s),
    });

    const huge = 'x'.repeat(100_000);
    const bad: Array<[unknown, RegExp]> = [
      ['not even an object', /record: must be a JSON object/],
      [{ ...good(100), verdict: 'blocked' }, /verdict: must be one of allowed\|denied\|dropped\|audit\|other/],
      [{ ...good(101), count: '7' }, /count: must be an integer/],
      [{ ...good(102), dstPort: 70000 }, /dstPort: must be an integer in \[0, 65535\]/],
      [{ ...good(103), time: 'yesterday' }, /time: must be an RFC 3339 time/],
      [{ ...good(104), src: { kind: 'pod', pod: huge } }, /src\.pod: is longer than 253 characters/],
      [{ ...good(105), dst: { kind: 'pod', namespace: 'a\u0000b' } }, /dst\.namespace: contains a NUL character/],
      [
        { ...good(106), policies: [{ kind: 'NetworkPolicy', name: 'p', action: 'maybe', stage: 'enforced' }] },
        /policies\[0\]\.action/,
      ],
      [{ ...good(107), schema: 2 }, /unsupported schema 2/],
      [{ ...good(108), time: '2999-01-01T00:00:00Z' }, /time: 2999-01-01T00:00:00Z is more than a day in the future/],
      // Longer than PostgreSQL can index: before the cap these failed their whole batch on every retry.
      [
        { ...good(109), dst: { kind: 'pod', namespace: 'n'.repeat(3000) } },
        /dst\.namespace: is longer than 253 characters/,
      ],
      [
        {
          ...good(110),
          policies: [{ kind: 'NetworkPolicy', name: 'p'.repeat(3000), action: 'deny', stage: 'enforced' }],
        },
        /policies\[0\]\.name: is longer than 253 characters/,
      ],
      [{ ...good(111), id: 'i'.repeat(3000) }, /id: is longer than 253 characters/],
    ];
    const records: unknown[] = [];
    for (let i = 0; i < 20; i++) records.push(good(i));
    for (const [b] of bad) records.push(b);
    await bus.publish({
      records,
      checkpoints: [{ stream: 'test:stream', position: '42' }],
      deadLetters: [{ raw: '{"broken', reason: 'not valid JSON: Unexpected end', origin: 'test:line:7' }],
    });
    await bus.close();

    const letters = (await ds.query(`SELECT origin, reason, raw FROM dead_letters ORDER BY id`)) as Array<{
      origin: string;
      reason: string;
      raw: string;
    }>;
    expect(letters).toHaveLength(bad.length + 1);
    expect(letters[0]).toEqual({ origin: 'test:line:7', reason: 'not valid JSON: Unexpected end', raw: '{"broken' });
    bad.forEach(([, re], i) => {
      expect(letters[i + 1].reason).toMatch(re);
      expect(letters[i + 1].origin).toBe('test:stream');
      expect(letters[i + 1].raw.length).toBeLessThan(17_000); // huge input is truncated, not stored whole
    });
    expect(letters.find((l) => /NUL/.test(l.reason))!.raw).toContain('\\u0000');

    const [{ flows }] = (await ds.query(`SELECT sum(count)::int AS flows FROM edge_rollups`)) as Array<{
      flows: number;
    }>;
    expect(flows).toBe(60);
    const [{ n }] = (await ds.query(`SELECT count(*)::int AS n FROM drop_events`)) as Array<{ n: number }>;
    expect(n).toBe(10);
    expect(await repos.checkpoints.load('test:stream')).toBe('42');

    const metrics = await registry.getMetricsAsJSON();
    const dl = metrics.find((m) => m.name === 'dropscope_dead_letters_total')!;
    expect(dl.values.reduce((s, v) => s + v.value, 0)).toBe(bad.length + 1);
    // The letter that came with the batch was found by its publisher; the rest by the aggregator.
    expect(dl.values.find((v) => v.labels.stage === 'collector')?.value).toBe(1);
    expect(dl.values.find((v) => v.labels.stage === 'aggregator')?.value).toBe(bad.length);
    const received = metrics.find((m) => m.name === 'dropscope_flows_received_total')!;
    expect(received.values.find((v) => v.labels.source === 'calico')?.value).toBe(20);
    expect(received.values.find((v) => v.labels.source === 'invalid')?.value).toBe(bad.length + 1);
    const processed = metrics.find((m) => m.name === 'dropscope_flows_processed_total')!;
    expect(processed.values.find((v) => v.labels.verdict === 'denied')?.value).toBe(30);
  });

  it('stores drop events whose text holds tabs, newlines, backslashes and quotes unchanged (COPY escaping)', async () => {
    const { rollups } = postgresWriteRepositories(ds, silentLogger);
    const agg = new Aggregator(rollups, reportedOnlyAttributor, new AggregatorMetrics(new Registry()), silentLogger);
    const tricky = 'a\tb\nc\\d"e\\N\r';
    const f: FlowRecord = {
      ...good(0),
      id: 'tricky-1',
      node: tricky,
      src: { kind: 'pod', namespace: 'esc', pod: tricky, labels: { 'k\\': tricky } },
    };
    await agg.handle({ records: [f], checkpoints: [] });
    const [row] = (await ds.query(
      `SELECT node, src_pod, record::text AS record FROM drop_events WHERE flow_id = 'tricky-1'`,
    )) as Array<{
      node: string;
      src_pod: string;
      record: string;
    }>;
    expect(row.node).toBe(tricky);
    expect(row.src_pod).toBe(tricky);
    expect((JSON.parse(row.record) as FlowRecord).src).toEqual(f.src);
  });
});
