import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { InProcessFlowBus } from '../../src/bus/in-process-flow.bus.js';
import type { GoldmaneFlow } from '../../src/collector/calico/goldmane-flow.mapper.js';
import { GoldmaneCollector, parseGoldmanePosition } from '../../src/collector/calico/goldmane.collector.js';
import { makeTestCerts, type TestCerts } from '../support/test-certs.js';
import { FakeGoldmane } from './fake-goldmane.js';
import { RecordingConsumer, waitFor } from './support.js';
import { denyKey, flow } from './goldmane-flows.js';

describe('GoldmaneCollector over mTLS against a real gRPC Flows server', () => {
  let dir: string;
  let certs: TestCerts;
  let server: FakeGoldmane;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dropscope-goldmane-'));
    certs = makeTestCerts(['goldmane.calico-system.svc']);
    server = new FakeGoldmane(
      grpc.ServerCredentials.createSsl(
        certs.read(certs.caFile),
        [{ cert_chain: certs.read(certs.serverCertFile), private_key: certs.read(certs.serverKeyFile) }],
        true,
      ),
    );
    await server.start();
  });

  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    certs?.remove();
  });

  it('streams, maps, checkpoints, survives a server restart and a collector restart with each flow once', async () => {
    const bus = new InProcessFlowBus();
    const consumer = new RecordingConsumer();
    await bus.consume(consumer.handler, { groupId: 't', loadCheckpoints: async () => new Map() });
    const registry = new Registry();
    const addr = `127.0.0.1:${server.port}`;
    const make = (): GoldmaneCollector =>
      new GoldmaneCollector({
        addr,
        tls: {
          caFile: certs.caFile,
          certFile: certs.clientCertFile,
          keyFile: certs.clientKeyFile,
          serverName: 'goldmane.calico-system.svc',
        },
        bus,
        checkpoints: consumer.reader,
        cluster: 'oss-lab',
        registry,
        flushIntervalMs: 20,
        bucketSettleMs: 100,
        backoffInitialMs: 20,
        backoffMaxMs: 200,
      });

    const all: GoldmaneFlow[] = [];
    const push = (f: GoldmaneFlow): void => {
      all.push(f);
      server.push(f);
    };
    push(flow(1000, 1));
    push(flow(1000, 2));
    push(flow(1015, 3, denyKey));
    push(flow(1015, 4));

    const a = make();
    await a.start();
    await waitFor(() => consumer.ids.length === 4, '4 records');

    const recs = consumer.batches.flatMap((b) => b.records) as Array<Record<string, unknown>>;
    const denied = recs.find((r) => r.verdict === 'denied')!;
    expect(denied).toMatchObject({
      source: 'calico',
      cluster: 'oss-lab',
      verdict: 'denied',
      dropReason: 'POLICY_DENY',
      direction: 'ingress',
      reporter: 'dst',
      protocol: 'TCP',
      dstPort: 8080,
      count: 2,
      packets: 21,
      bytes: 1800,
      time: new Date(1015_000).toISOString(),
      endTime: new Date(1030_000).toISOString(),
      src: {
        kind: 'pod',
        namespace: 'shop',
        nameAggr: 'client-3-7d4b9c8f5-*',
        workload: { kind: 'Deployment', name: 'client-3' },
        labels: { app: 'client', 'pod-template-hash': '7d4b9c8f5' },
      },
      dst: {
        kind: 'pod',
        namespace: 'shop',
        nameAggr: 'checkout-6b8f9d7c45-*',
        service: { namespace: 'shop', name: 'checkout', port: 80 },
      },
      policies: [
        {
          kind: 'GlobalNetworkPolicy',
          name: 'baseline',
          tier: 'security',
          action: 'pass',
          ruleIndex: 0,
          stage: 'enforced',
        },
        {
          kind: 'CalicoNetworkPolicy',
          namespace: 'shop',
          name: 'checkout',
          tier: 'app',
          action: 'deny',
          ruleIndex: -1,
          stage: 'enforced',
        },
      ],
    });
    expect((recs.find((r) => r.verdict === 'allowed')!.policies as unknown[]).length).toBe(1);

    // Goldmane restarts (the fake keeps its flows, so the replay must be de-duplicated)
    await server.restart();
    push(flow(1030, 5));
    push(flow(1030, 6));
    await waitFor(() => consumer.ids.length === 6, '6 records after the server restart');
    const resumedFrom = server.streamRequests[server.streamRequests.length - 1];
    expect(resumedFrom.start_time_gte).toBe(1015);
    expect(resumedFrom.aggregation_interval).toBe(15);

    // collector crash and restart from the stored checkpoint
    await a.kill();
    push(flow(1045, 7));
    push(flow(1060, 8));
    const pos = parseGoldmanePosition(consumer.checkpoints.get(`goldmane:${addr}`));
    expect(pos?.start).toBe(1030);
    const b = make();
    await b.start();
    await waitFor(() => consumer.ids.length === 8, '8 records after the collector restart');
    // Received in all: 4 at first, 4 replayed from 1015 after the server restart (two skipped), 4
    // replayed from 1030 after the collector restart (two skipped). Once all 12 are in, nothing
    // else can be published.
    const received = async (): Promise<number> =>
      (await registry.getSingleMetric('dropscope_goldmane_flows_total')!.get()).values[0]?.value ?? 0;
    const deadline = Date.now() + 10_000;
    while ((await received()) < 12 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(await received()).toBe(12);
    await b.stop();

    expect(consumer.ids).toHaveLength(8);
    expect(new Set(consumer.ids).size).toBe(8);
    const reconnects = await registry.getSingleMetric('dropscope_goldmane_reconnects_total')!.get();
    expect(reconnects.values[0].value).toBeGreaterThanOrEqual(1);
    await bus.close();
  });

  it('a client without a certificate is refused by the mTLS server and keeps retrying with backoff', async () => {
    const bus = new InProcessFlowBus();
    const consumer = new RecordingConsumer();
    await bus.consume(consumer.handler, { groupId: 't', loadCheckpoints: async () => new Map() });
    const registry = new Registry();
    const c = new GoldmaneCollector({
      addr: `127.0.0.1:${server.port}`,
      tls: { caFile: certs.caFile, serverName: 'goldmane.calico-system.svc' },
      bus,
      checkpoints: consumer.reader,
      registry,
      backoffInitialMs: 10,
      backoffMaxMs: 40,
    });
    await c.start();
    const reconnects = async (): Promise<number> =>
      (await registry.getSingleMetric('dropscope_goldmane_reconnects_total')!.get()).values[0]?.value ?? 0;
    const deadline = Date.now() + 10_000;
    while ((await reconnects()) < 2) {
      if (Date.now() > deadline) throw new Error('no reconnect attempts');
      await new Promise((r) => setTimeout(r, 10));
    }
    await c.stop();
    expect(consumer.ids).toHaveLength(0);
    await bus.close();
  });
});
