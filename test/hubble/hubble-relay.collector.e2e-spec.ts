import { describe, it, expect, afterEach } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import type { DeadLetter } from '../../src/bus/flow-bus.js';
import { InProcessFlowBus } from '../../src/bus/in-process-flow.bus.js';
import type { CheckpointReader } from '../../src/collector/collector.js';
import { validateFlowRecord } from '../../src/flow/flow-record.validator.js';
import {
  HubbleRelayCollector,
  type HubbleRelayCollectorOptions,
} from '../../src/collector/hubble/hubble-relay.collector.js';
import { HubbleLineMapper } from '../../src/collector/hubble/hubble-line.mapper.js';
import { generateHubbleResponses } from '../../src/synthetic/hubble-flow.generator.js';
import { parseTimestamp } from '../../src/collector/hubble/hubble-flow.mapper.js';
import { checkpointParts, sinceParts } from './checkpoint-time.js';
import { FakeHubbleRelay } from '../../src/demo/fake-hubble-relay.js';
import { silentLogger } from '../../src/common/logger.js';
import { ReadinessChecks } from '../../src/health/readiness.js';
import { collectingLogger } from '../calico/support.js';
import { makeTestCerts } from '../support/test-certs.js';

const FIXTURE = new URL('../fixtures/hubble/observe-samples.jsonl', import.meta.url);

type Json = Record<string, unknown>;

const sampleResponses: Json[] = readFileSync(FIXTURE, 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as Json);
const sampleFlows = sampleResponses.filter((r) => r.flow !== undefined);

function timeOf(r: Json): { seconds: number; nanos: number } {
  const t = parseTimestamp(String((r.flow as Json).time));
  if (!t) throw new Error('bad time');
  return t;
}

/** What a perfect consumer of these flows, in time order, ends up with (the line mapper's rule). */
function expectedIds(responses: Json[]): string[] {
  const sorted = [...responses].sort((a, b) => {
    const x = timeOf(a);
    const y = timeOf(b);
    return x.seconds - y.seconds || x.nanos - y.nanos;
  });
  const m = new HubbleLineMapper();
  const ids: string[] = [];
  for (const r of sorted) {
    const res = m.map(JSON.stringify(r));
    if (res.kind === 'flows') for (const rec of res.records) ids.push(rec.id);
  }
  for (const rec of m.flush()) ids.push(rec.id);
  return ids;
}

interface Harness {
  bus: InProcessFlowBus;
  received: Json[];
  dead: DeadLetter[];
  stored: Map<string, string>;
  checkpoints: CheckpointReader;
  registry: Registry;
}

async function harness(onBatch?: () => Promise<void>): Promise<Harness> {
  const bus = new InProcessFlowBus(20_000);
  const received: Json[] = [];
  const dead: DeadLetter[] = [];
  const stored = new Map<string, string>();
  await bus.consume(
    async (batch) => {
      if (onBatch) await onBatch();
      for (const r of batch.records) received.push(r as Json);
      dead.push(...(batch.deadLetters ?? []));
      for (const c of batch.checkpoints) stored.set(c.stream, c.position);
    },
    { groupId: 'test', loadCheckpoints: async () => new Map() },
  );
  return { bus, received, dead, stored, checkpoints: { load: async (s) => stored.get(s) }, registry: new Registry() };
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Waits until the collector has taken every flow the relay wrote on the latest stream (a drained
 * counter): `received` is the collector's flow count when that stream began.
 */
async function drained(h: Harness, relay: FakeHubbleRelay, received: number): Promise<void> {
  await waitForAsync(
    async () =>
      relay.idle &&
      (await metricValue(h.registry, 'dropscope_hubble_flows_received_total')) - received ===
        relay.flowsWritten[relay.flowsWritten.length - 1],
    'the collector to take every flow the relay sent',
  );
}

async function waitForAsync(cond: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const data = await m.get();
  let sum = 0;
  for (const v of data.values) {
    if (Object.entries(labels).every(([k, x]) => v.labels[k] === x)) sum += v.value;
  }
  return sum;
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function collector(h: Harness, port: number, extra: Partial<HubbleRelayCollectorOptions> = {}): HubbleRelayCollector {
  const c = new HubbleRelayCollector({
    addr: `127.0.0.1:${port}`,
    bus: h.bus,
    checkpoints: h.checkpoints,
    registry: h.registry,
    filters: 'all',
    startFrom: '1970-01-01T00:00:00Z',
    batchSize: 200,
    batchIntervalMs: 50,
    backoff: { initialMs: 50, maxMs: 200 },
    ...extra,
  });
  cleanup.push(() => c.stop());
  return c;
}

describe('HubbleRelayCollector against a fake Hubble Relay', () => {
  it('plain: survives the Relay being killed and restarted mid-stream: resumes with since, no duplicates, nothing lost', async () => {
    const h = await harness();
    cleanup.push(() => h.bus.close());
    const relay = new FakeHubbleRelay({ chunk: 100, chunkDelayMs: 5 });
    cleanup.push(() => relay.stop());
    const first = [...sampleFlows, ...generateHubbleResponses({ seed: 11, count: 3000, policyDropShare: 0.2 })];
    relay.add(first);
    const port = await relay.start();
    const c = collector(h, port);
    await c.start();

    await waitFor(() => h.received.length >= 600, 15_000, 'the first flows');
    relay.kill();
    const whileDown = [
      ...generateHubbleResponses({
        seed: 12,
        count: 500,
        startMs: Date.parse('2025-08-01T00:00:00Z'),
        policyDropShare: 0.2,
      }),
    ];
    relay.add(whileDown);
    // The collector publishes what it received before it reconnects: that checkpoint is the `since`.
    await waitForAsync(
      async () => (await metricValue(h.registry, 'dropscope_collector_reconnects_total', { collector: 'hubble' })) >= 1,
      'a reconnect attempt',
    );
    const requestsBefore = relay.requests.length;
    const atReconnect = h.stored.get(`hubble:127.0.0.1:${port}`);
    // Nothing can arrive while the relay is down: the count now is the count when the next stream begins.
    const receivedBeforeResume = await metricValue(h.registry, 'dropscope_hubble_flows_received_total');
    await relay.start(port);

    const expected = expectedIds([...first, ...whileDown]);
    const expectedSet = new Set(expected);
    expect(expectedSet.size).toBe(expected.length);
    await waitFor(
      () => h.received.length >= expected.length,
      20_000,
      `${expected.length} flows (have ${h.received.length})`,
    );

    // live flows after the restart, and a lost_events notice
    const live = [...generateHubbleResponses({ seed: 13, count: 50, startMs: Date.parse('2025-09-01T00:00:00Z') })];
    relay.add(live);
    relay.emit({
      lost_events: { source: 'PERF_EVENT_RING_BUFFER', num_events_lost: '7', cpu: 2 },
      node_name: 'fake/node-0',
      time: '2025-09-01T00:00:01Z',
    });
    const all = expectedIds([...first, ...whileDown, ...live]);
    await waitFor(() => h.received.length >= all.length, 10_000, 'live flows');
    await waitFor(() => h.registry.getSingleMetric('dropscope_hubble_lost_events_total') !== undefined, 1000, 'metric');
    expect(relay.requests).toHaveLength(requestsBefore + 1);
    await drained(h, relay, receivedBeforeResume);
    await c.stop();

    const ids = h.received.map((r) => String(r.id));
    expect(ids.length).toBe(new Set(ids).size); // no duplicates
    expect(new Set(ids)).toEqual(new Set(all)); // nothing lost, nothing extra
    for (const r of h.received.slice(0, 200)) validateFlowRecord(r);

    expect(relay.requests.length).toBeGreaterThanOrEqual(2);
    const resumed = relay.requests[requestsBefore];
    expect(resumed.follow).toBe(true);
    expect(sinceParts(resumed.since)).toEqual(checkpointParts(atReconnect));
    const stored = h.stored.get(`hubble:127.0.0.1:${port}`);
    expect(stored).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    expect(
      await metricValue(h.registry, 'dropscope_collector_reconnects_total', { collector: 'hubble' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      await metricValue(h.registry, 'dropscope_hubble_lost_events_total', { source: 'perf_event_ring_buffer' }),
    ).toBe(7);
    expect(await metricValue(h.registry, 'dropscope_hubble_gaps_total', { reason: 'lost_events' })).toBe(1);
    expect(
      await metricValue(h.registry, 'dropscope_hubble_node_status_total', { state: 'node_connected' }),
    ).toBeGreaterThanOrEqual(2);
    expect(
      await metricValue(h.registry, 'dropscope_hubble_flows_skipped_total', { reason: 'duplicate' }),
    ).toBeGreaterThan(0);
  });

  it('resumes from the stored checkpoint after a collector restart without re-delivering', async () => {
    const h = await harness();
    cleanup.push(() => h.bus.close());
    const relay = new FakeHubbleRelay();
    cleanup.push(() => relay.stop());
    const first = [...generateHubbleResponses({ seed: 21, count: 800 })];
    relay.add(first);
    const port = await relay.start();
    const a = collector(h, port);
    await a.start();
    const firstIds = expectedIds(first);
    await waitFor(() => h.received.length >= firstIds.length, 10_000, 'first run');
    await a.stop();
    const checkpointOfA = h.stored.get(`hubble:127.0.0.1:${port}`);

    const second = [...generateHubbleResponses({ seed: 22, count: 300, startMs: Date.parse('2025-02-01T00:00:00Z') })];
    relay.add(second);
    const receivedByA = await metricValue(h.registry, 'dropscope_hubble_flows_received_total');
    const b = collector(h, port);
    await b.start();
    const all = expectedIds([...first, ...second]);
    await waitFor(() => h.received.length >= all.length, 10_000, 'second run');
    await drained(h, relay, receivedByA);
    await b.stop();
    const ids = h.received.map((r) => String(r.id));
    expect(ids.length).toBe(new Set(ids).size);
    expect(new Set(ids)).toEqual(new Set(all));
    const sinceOfB = relay.requests[relay.requests.length - 1].since;
    expect(sinceParts(sinceOfB)).toEqual(checkpointParts(checkpointOfA));
  });

  it('applies backpressure: pauses the stream while the bus is slow, bounded buffer, nothing lost', async () => {
    const ref: { c?: HubbleRelayCollector } = {};
    let maxBuffered = 0;
    const h = await harness(async () => {
      maxBuffered = Math.max(maxBuffered, ref.c?.bufferedRecords ?? 0);
      await new Promise((r) => setTimeout(r, 15));
    });
    cleanup.push(() => h.bus.close());
    const relay = new FakeHubbleRelay({ chunk: 1000 });
    cleanup.push(() => relay.stop());
    const flows = [...generateHubbleResponses({ seed: 31, count: 4000, policyDropShare: 0 })];
    relay.add(flows);
    const port = await relay.start();
    const c = collector(h, port, { batchSize: 100, maxBufferedRecords: 300 });
    ref.c = c;
    await c.start();
    await waitFor(() => h.received.length >= 4000, 30_000, 'all flows');
    await c.stop();
    expect(maxBuffered).toBeLessThanOrEqual(300 + 100);
    expect(relay.stalls).toBeGreaterThan(0); // HTTP/2 flow control reached the server
    expect(new Set(h.received.map((r) => r.id)).size).toBe(4000);
  });

  it('mTLS: connects with CA + client certificate + server name, sends the default whitelist', async () => {
    const certs = makeTestCerts();
    cleanup.push(() => certs.remove()); // runs last: the cleanups run in reverse
    const h = await harness();
    cleanup.push(() => h.bus.close());
    const relay = new FakeHubbleRelay({
      tls: {
        ca: certs.read(certs.caFile),
        cert: certs.read(certs.serverCertFile),
        key: certs.read(certs.serverKeyFile),
        requireClientCert: true,
      },
    });
    cleanup.push(() => relay.stop());
    relay.add(sampleFlows);
    const port = await relay.start();
    const c = collector(h, port, {
      filters: undefined, // default preset `policy`
      tls: {
        caFile: certs.caFile,
        certFile: certs.clientCertFile,
        keyFile: certs.clientKeyFile,
        serverName: 'relay.test',
      },
    });
    await c.start();
    // policy preset: DROPPED/AUDIT or policy-verdict events -> samples 0, 1, 2 and 4
    await waitFor(() => h.received.length >= 4, 10_000, 'flows over mTLS');
    await waitFor(() => relay.idle, 10_000, 'the relay to have written every flow');
    await c.stop(); // stop() publishes what was received: the count below is final
    expect(h.received.map((r) => r.dropReason).sort()).toEqual([
      'INVALID_SOURCE_IP',
      'POLICY_DENIED',
      'POLICY_DENIED',
      'POLICY_DENIED',
    ]);
    expect(relay.requests[0].whitelist).toEqual([{ verdict: ['DROPPED', 'AUDIT'] }, { event_type: [{ type: 5 }] }]);
  });

  it('TLS: refuses a Relay whose certificate does not match, and a client without certificate is refused by mTLS', async () => {
    const certs = makeTestCerts();
    cleanup.push(() => certs.remove()); // runs last: the cleanups run in reverse
    const h = await harness();
    cleanup.push(() => h.bus.close());
    const relay = new FakeHubbleRelay({
      tls: {
        ca: certs.read(certs.caFile),
        cert: certs.read(certs.serverCertFile),
        key: certs.read(certs.serverKeyFile),
        requireClientCert: true,
      },
    });
    cleanup.push(() => relay.stop());
    relay.add(sampleFlows);
    const port = await relay.start();
    const noClientCert = collector(h, port, { tls: { caFile: certs.caFile, serverName: 'relay.test' } });
    const wrongName = collector(h, port, {
      tls: {
        caFile: certs.caFile,
        certFile: certs.clientCertFile,
        keyFile: certs.clientKeyFile,
        serverName: 'evil.test',
      },
    });
    await noClientCert.start();
    await wrongName.start();
    // Both keep failing and retrying: wait for two reconnects each rather than a fixed time.
    await waitForAsync(
      async () => (await metricValue(h.registry, 'dropscope_collector_reconnects_total')) >= 4,
      'both collectors to retry',
      20_000,
    );
    await noClientCert.stop();
    await wrongName.stop();
    expect(h.received).toHaveLength(0);
    expect(() => new HubbleRelayCollector({ addr: '', bus: h.bus, checkpoints: h.checkpoints })).toThrow(/HUBBLE_ADDR/);
  });
  it('sends a message that is not a valid flow to dead letters with its reason, and counts it', async () => {
    const h = await harness();
    cleanup.push(() => h.bus.close());
    const relay = new FakeHubbleRelay();
    cleanup.push(() => relay.stop());
    const port = await relay.start();
    const c = collector(h, port);
    await c.start();
    await waitFor(() => relay.followerCount === 1, 10_000, 'the stream');
    relay.emit({ flow: { verdict: 'DROPPED' }, node_name: 'fake/node-0' });
    await waitFor(() => h.dead.length === 1, 10_000, 'a dead letter');
    await c.stop();
    expect(h.dead[0].origin).toMatch(new RegExp(`^hubble:127\\.0\\.0\\.1:${port}:`));
    expect(h.dead[0].reason.length).toBeGreaterThan(0);
    // Every field of the response, as proto-loader decodes it (its oneof name too), not only what the mapper reads.
    expect(JSON.parse(h.dead[0].raw)).toEqual({
      flow: { verdict: 'DROPPED' },
      node_name: 'fake/node-0',
      response_types: 'flow',
    });
    expect(await metricValue(h.registry, 'dropscope_hubble_flows_skipped_total', { reason: 'invalid' })).toBe(1);
    expect(h.received).toHaveLength(0);
  });

  it('an unreachable Relay shows up=0 and fails readiness after the grace; it recovers when Relay comes back', async () => {
    const h = await harness();
    cleanup.push(() => h.bus.close());
    const relay = new FakeHubbleRelay();
    cleanup.push(() => relay.stop());
    const port = await relay.start();
    await relay.stop();
    const log = collectingLogger();
    const c = collector(h, port, { logger: log, backoff: { initialMs: 20, maxMs: 50 } });
    const readiness = new ReadinessChecks({
      database: async () => true,
      collectors: [c],
      collectorDownGraceMs: 100,
      log: silentLogger,
    });
    const up = (): Promise<number> => metricValue(h.registry, 'dropscope_collector_up', { collector: 'hubble' });
    await c.start();
    await waitForAsync(
      async () => (await metricValue(h.registry, 'dropscope_collector_reconnects_total')) >= 3,
      'several failed attempts',
    );
    expect(await up()).toBe(0);
    await waitForAsync(async () => (await readiness.check())['collector:hubble'] === 'down', 'readiness down');

    relay.add(sampleFlows);
    await relay.start(port);
    await waitForAsync(async () => (await up()) === 1, 'up again');
    expect(await readiness.check()).toEqual({ database: 'ok', 'collector:hubble': 'ok' });
    await c.stop();
    const changes = log.lines.filter((l) => l.msg === 'collector down' || l.msg === 'collector up');
    expect(changes.map((l) => l.msg)).toEqual(['collector down', 'collector up']);
  });
});
