/**
 * The fake Relay's follow queue: a backlog of thousands of flows (a load step the collector
 * cannot keep up with) reaches a follower whole and in order, also while flows are added
 * during the send. The queue is consumed by index and compacted as it goes.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { createObserverClient } from '../../src/collector/hubble/hubble-relay.collector.js';
import { FakeHubbleRelay } from '../../src/demo/fake-hubble-relay.js';
import { until } from '../support/wait.js';

type Json = Record<string, unknown>;

/** Flow number `i`: 2026-01-01T00:00:00 plus i microseconds, so time order is number order. */
function flow(i: number): Json {
  const time = `2026-01-01T00:00:${String(Math.floor(i / 1e6)).padStart(2, '0')}.${String(i % 1e6).padStart(6, '0')}000Z`;
  return { flow: { time, verdict: 'FORWARDED', node_name: 'fake/node-0', uuid: `flow-${i}` }, time };
}

describe('FakeHubbleRelay follow queue', () => {
  let relay: FakeHubbleRelay | undefined;
  let client: grpc.Client | undefined;
  afterEach(async () => {
    client?.close();
    await relay?.stop();
  });

  it('sends a backlog of 12,000 flows whole and in order, with more added while it sends', async () => {
    relay = new FakeHubbleRelay({ maxHistory: 10 });
    const port = await relay.start();
    const c = createObserverClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {});
    client = c;
    const uuids: string[] = [];
    const call = c.GetFlows({ follow: true, since: { seconds: '0', nanos: 0 } });
    call.on('data', (m: Json) => {
      const f = m.flow as Json | undefined;
      if (f) uuids.push(String(f.uuid));
    });
    call.on('error', () => undefined);
    await until('the client to follow', async () => relay!.followerCount === 1, 10_000);

    relay.add(Array.from({ length: 8000 }, (_, i) => flow(i)));
    expect(relay.queued).toBeGreaterThan(1024); // the backlog the compaction is for
    relay.add(Array.from({ length: 4000 }, (_, i) => flow(8000 + i)));
    await until('every flow received', async () => uuids.length >= 12_000, 60_000);
    await until('the relay idle', async () => relay!.idle, 10_000);

    expect(uuids.length).toBe(12_000);
    expect(uuids[0]).toBe('flow-0');
    expect(uuids[11_999]).toBe('flow-11999');
    expect(uuids.every((u, i) => u === `flow-${i}`)).toBe(true);
    expect(relay.queued).toBe(0);
    call.cancel();
  }, 90_000);
});
