import { afterEach, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { InProcessFlowBus } from '../../src/bus/in-process-flow.bus.js';
import { GoldmaneCollector } from '../../src/collector/calico/goldmane.collector.js';
import { silentLogger } from '../../src/common/logger.js';
import { ReadinessChecks } from '../../src/health/readiness.js';
import { FakeGoldmane } from './fake-goldmane.js';
import { collectingLogger, RecordingConsumer, waitFor } from './support.js';
import { denyKey, flow } from './goldmane-flows.js';

/** `client-<i>-7d4b9c8f5-*` for i in [from, to]: the source name goldmane-flows.ts gives flow i. */
function names(from: number, to: number): string[] {
  const out: string[] = [];
  for (let i = from; i <= to; i++) out.push(`client-${i}-7d4b9c8f5-*`);
  return out;
}

function sourceNames(records: unknown[]): string[] {
  return records.map((r) => (r as { src: { nameAggr: string } }).src.nameAggr);
}

async function counterValue(registry: Registry, name: string): Promise<number> {
  const m = registry.getSingleMetric(name);
  return m ? ((await m.get()).values[0]?.value ?? 0) : 0;
}

async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('GoldmaneCollector with buckets of thousands of flows', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function setup(): Promise<{
    server: FakeGoldmane;
    consumer: RecordingConsumer;
    registry: Registry;
    bus: InProcessFlowBus;
    make: () => GoldmaneCollector;
  }> {
    const server = new FakeGoldmane(grpc.ServerCredentials.createInsecure());
    await server.start();
    cleanup.push(() => server.stop());
    const bus = new InProcessFlowBus();
    const consumer = new RecordingConsumer();
    await bus.consume(consumer.handler, { groupId: 't', loadCheckpoints: async () => new Map() });
    cleanup.push(() => bus.close());
    const registry = new Registry();
    const make = (): GoldmaneCollector =>
      new GoldmaneCollector({
        addr: `127.0.0.1:${server.port}`,
        bus,
        checkpoints: consumer.reader,
        registry,
        flushIntervalMs: 20,
        bucketSettleMs: 300,
        backoffInitialMs: 20,
        backoffMaxMs: 200,
      });
    return { server, consumer, registry, bus, make };
  }

  it('publishes all 3,000 distinct flows of one bucket streamed live, with a fixed-size checkpoint', async () => {
    const { server, consumer, make } = await setup();
    const c = make();
    await c.start();
    cleanup.push(() => c.stop());
    await waitFor(() => server.openStreams === 1, 'the stream open');
    for (let i = 1; i <= 3000; i++) server.push(flow(2000, i, denyKey));

    await waitFor(() => consumer.ids.length >= 3000, '3,000 records', 20_000);
    const got = sourceNames(consumer.batches.flatMap((b) => b.records));
    expect(got).toHaveLength(3000);
    expect(new Set(got)).toEqual(new Set(names(1, 3000)));
    expect(consumer.checkpoints.get(c.stream)).toBe('v2:2000');
  }, 30_000);

  it('a crash in the middle of a bucket loses and repeats nothing: the restart publishes that bucket once, in full', async () => {
    const { server, consumer, registry, make } = await setup();
    const a = make();
    await a.start();
    await waitFor(() => server.openStreams === 1, 'the stream open');
    for (let i = 1; i <= 10; i++) server.push(flow(1985, i, denyKey));
    for (let i = 11; i <= 1510; i++) server.push(flow(2000, i, denyKey));
    // The 1985 bucket is complete once a 2000 flow arrived; 1,500 of the 2000 bucket are in.
    await until(
      async () => (await counterValue(registry, 'dropscope_goldmane_flows_total')) === 1510,
      '1,510 flows received',
    );
    await waitFor(() => consumer.ids.length === 10, 'the 1985 bucket');
    await a.kill();
    expect(consumer.checkpoints.get(a.stream)).toBe('v2:1985');

    // The rest of the 2000 bucket; Goldmane replays the bucket in a new order on the next stream.
    for (let i = 1511; i <= 3010; i++) server.push(flow(2000, i, denyKey));
    const before = consumer.batches.length;
    const b = make();
    await b.start();
    cleanup.push(() => b.stop());
    await waitFor(() => consumer.ids.length >= 3010, '3,010 records', 20_000);
    // Received by b: 10 (1985, skipped) + 3,000 (2000).
    await until(
      async () => (await counterValue(registry, 'dropscope_goldmane_flows_total')) === 1510 + 3010,
      'the replay received',
    );
    await b.stop();

    const all = sourceNames(consumer.batches.flatMap((x) => x.records));
    expect(all).toHaveLength(3010);
    expect(new Set(all)).toEqual(new Set(names(1, 3010)));
    const afterRestart = sourceNames(consumer.batches.slice(before).flatMap((x) => x.records));
    expect(new Set(afterRestart)).toEqual(new Set(names(11, 3010)));
    expect(afterRestart).toHaveLength(3000);
    const position = consumer.checkpoints.get(b.stream)!;
    expect(position).toBe('v2:2000');
    expect(position.length).toBeLessThanOrEqual(24);
  }, 40_000);

  it('retries a failed publish of a bucket and counts the failures; the bucket is stored once', async () => {
    const { server, consumer, registry, make } = await setup();
    consumer.failNext = 2;
    const c = make();
    await c.start();
    cleanup.push(() => c.stop());
    for (let i = 1; i <= 5; i++) server.push(flow(3000, i, denyKey));
    await waitFor(() => consumer.ids.length === 5, 'the bucket after two failed publishes');
    expect(await counterValue(registry, 'dropscope_goldmane_publish_errors_total')).toBe(2);
    expect(new Set(sourceNames(consumer.batches.flatMap((b) => b.records)))).toEqual(new Set(names(1, 5)));
    expect(consumer.checkpoints.get(c.stream)).toBe('v2:3000');
  });

  it('a publish still failing at stop is logged as an error and leaves the checkpoint for a replay', async () => {
    const { server, consumer, registry, bus } = await setup();
    const lines = collectingLogger();
    const c = new GoldmaneCollector({
      addr: `127.0.0.1:${server.port}`,
      bus,
      checkpoints: consumer.reader,
      registry,
      logger: lines,
      flushIntervalMs: 20,
      bucketSettleMs: 100,
      backoffInitialMs: 20,
      backoffMaxMs: 40,
      stopPublishAttempts: 2,
    });
    consumer.failNext = 1_000;
    server.push(flow(3015, 1, denyKey));
    await c.start();
    await until(
      async () => (await counterValue(registry, 'dropscope_goldmane_publish_errors_total')) >= 1,
      'a failed publish',
    );
    await c.stop();
    expect(consumer.ids).toHaveLength(0);
    expect(consumer.checkpoints.has(c.stream)).toBe(false);
    const errors = lines.lines.filter((l) => l.level === 'error');
    expect(errors.map((l) => l.msg)).toEqual([
      'publishing Goldmane flows failed at shutdown; Goldmane sends them again on the next start',
    ]);
    // Retries while running log once, not once per attempt.
    expect(lines.lines.filter((l) => l.msg === 'publishing Goldmane flows failed; retrying')).toHaveLength(1);
  });
  it('an unreachable Goldmane shows up=0 and fails readiness after the grace; it recovers when Goldmane comes back', async () => {
    const { server, consumer, registry, bus } = await setup();
    const port = server.port;
    await server.stop();
    const log = collectingLogger();
    const c = new GoldmaneCollector({
      addr: `127.0.0.1:${port}`,
      bus,
      checkpoints: consumer.reader,
      registry,
      logger: log,
      flushIntervalMs: 20,
      bucketSettleMs: 100,
      backoffInitialMs: 20,
      backoffMaxMs: 50,
    });
    const readiness = new ReadinessChecks({
      database: async () => true,
      collectors: [c],
      collectorDownGraceMs: 100,
      log: silentLogger,
    });
    const up = async (): Promise<number> => {
      const m = registry.getSingleMetric('dropscope_collector_up');
      return (await m!.get()).values.find((v) => v.labels.collector === 'goldmane')?.value ?? -1;
    };
    await c.start();
    cleanup.push(() => c.stop());
    await until(
      async () => (await counterValue(registry, 'dropscope_goldmane_reconnects_total')) >= 3,
      'several failed attempts',
    );
    expect(await up()).toBe(0);
    await until(async () => (await readiness.check())['collector:goldmane'] === 'down', 'readiness down');

    server.push(flow(4000, 1, denyKey));
    await server.start(port);
    await until(async () => (await up()) === 1, 'up again');
    await waitFor(() => consumer.ids.length === 1, 'the flow after recovery');
    expect(await readiness.check()).toEqual({ database: 'ok', 'collector:goldmane': 'ok' });
    const changes = log.lines.filter((l) => l.msg === 'collector down' || l.msg === 'collector up');
    expect(changes.map((l) => l.msg)).toEqual(['collector down', 'collector up']);
  });
});
