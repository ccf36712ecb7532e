import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { CheckpointConflictError, EarlierWriteFailedError } from '../bus/flow-bus.js';
import { InMemoryRollupWriter } from '../storage/in-memory.repositories.js';
import { silentLogger } from '../common/logger.js';
import type { FlowRecord } from '../flow/flow-record.js';
import { Aggregator, type CarryOptions } from './aggregator.js';
import { AggregatorMetrics } from './aggregator.metrics.js';
import { reportedOnlyAttributor, type FlowAttributor } from './attribution.port.js';

const NOW = Date.parse('2026-03-10T12:00:00Z');
const clock = { now: () => NOW };

function flow(id: string, verdict: FlowRecord['verdict'], time = '2026-03-10T11:30:15Z'): FlowRecord {
  return {
    id,
    source: 'calico',
    cluster: 'c1',
    time,
    verdict,
    dropReason: verdict === 'denied' ? 'POLICY_DENY' : undefined,
    direction: 'ingress',
    src: { kind: 'pod', namespace: 'a', workload: { kind: 'Deployment', name: 'web' } },
    dst: { kind: 'pod', namespace: 'b', workload: { kind: 'Deployment', name: 'db' } },
    protocol: 'TCP',
    dstPort: 5432,
    count: 2,
    policies: [],
  };
}

function setup(attributor: FlowAttributor = reportedOnlyAttributor, carry?: CarryOptions, groupCommit = false) {
  const writer = new InMemoryRollupWriter();
  const registry = new Registry();
  const metrics = new AggregatorMetrics(registry);
  const aggregator = new Aggregator(writer, attributor, metrics, silentLogger, clock, carry, groupCommit);
  return { writer, registry, aggregator };
}

/** `a`'s write failed and `b` was prepared behind it: both fail, nothing is stored or counted. */
async function expectNeitherStored(
  a: Promise<unknown>,
  b: Promise<unknown>,
  writer: InMemoryRollupWriter,
  registry: Registry,
): Promise<void> {
  await expect(a).rejects.toThrow('connection lost');
  await expect(b).rejects.toThrow('an earlier batch failed to store; this one is retried with it');
  // Typed, so the bus logs it as a retry rather than as a second failure.
  await expect(b).rejects.toBeInstanceOf(EarlierWriteFailedError);
  expect(writer.storedFlows()).toBe(0);
  expect(writer.checkpoints.positions.has('s')).toBe(false);
  expect(await counter(registry, 'dropscope_flows_processed_total')).toBe(0);
}

/** Carrying with no flush by time within a test: only the budget and flush hints write. */
function carrying(maxEntries: number) {
  return setup(reportedOnlyAttributor, { maxEntries, maxDelayMs: 3_600_000 });
}

/** Whether a promise has settled, after pending callbacks ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setImmediate(r));
  return done;
}

async function counter(registry: Registry, name: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).reduce((s, v) => s + v.value, 0);
}

/** A promise and the function that settles it. */
function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe('Aggregator over in-memory repositories', () => {
  it('folds flows of one edge and minute into one roll-up row, one event per drop, stored with the checkpoint', async () => {
    const { writer, aggregator } = setup();
    const result = await aggregator.handle({
      records: [flow('d1', 'denied'), flow('d2', 'denied', '2026-03-10T11:30:45Z'), flow('a1', 'allowed')],
      checkpoints: [{ stream: 'calico:node-1', position: '300' }],
    });
    // 3 records of count 2: 4 denied flows (one row: same edge, same minute), 2 allowed (another row).
    expect(result).toEqual({
      received: 3,
      flows: 6,
      drops: 4,
      deadLetters: 0,
      dropEventsSampledOut: 0,
      byVerdict: { denied: 4, allowed: 2 },
    });
    expect(writer.rollups.size).toBe(2);
    const denied = [...writer.rollups.values()].find((r) => r.verdict === 'denied')!;
    expect(denied.count).toBe(4);
    expect(denied.bucket).toBe('2026-03-10T11:30:00.000Z');
    expect(denied.src_workload).toBe('Deployment/web');
    expect(writer.events.map((e) => e.flow_id)).toEqual(['d1', 'd2']);
    expect(writer.checkpoints.positions.get('calico:node-1')).toBe('300');
  });

  it.each([
    ['one write per batch', undefined],
    ['carried batches', { maxEntries: 1, maxDelayMs: 3_600_000 }],
  ] as const)(
    'keeps the writer generation of a Kafka checkpoint (%s), so a claimed stream is not fenced',
    async (_, carry) => {
      const { writer, aggregator } = setup(reportedOnlyAttributor, carry);
      await writer.checkpoints.claim(['kafka:t:0']); // generation 1
      await aggregator.handle({
        records: [flow('d1', 'denied')],
        checkpoints: [{ stream: 'kafka:t:0', position: '41', generation: 1 }],
      });
      expect(writer.checkpoints.positions.get('kafka:t:0')).toBe('41');
    },
  );

  it('stores what the attributor says about each drop, and asks nothing about allowed flows', async () => {
    const asked: string[] = [];
    const attributor: FlowAttributor = {
      attribute: (f) => {
        asked.push(f.id);
        return { level: 'inferred', policies: [{ kind: 'NetworkPolicy', namespace: 'b', name: 'deny-all' }] };
      },
    };
    const { writer, aggregator } = setup(attributor);
    await aggregator.handle({ records: [flow('d1', 'denied'), flow('a1', 'allowed')], checkpoints: [] });
    expect(asked).toEqual(['d1']);
    expect(writer.events[0].attribution_level).toBe('inferred');
    expect(writer.events[0].policies).toEqual(['b/deny-all']);
  });

  it('turns invalid records and times more than a day ahead into dead letters naming the stream', async () => {
    const { writer, registry, aggregator } = setup();
    const result = await aggregator.handle({
      records: [
        flow('ok', 'allowed'),
        { ...flow('bad', 'allowed'), count: -1 },
        flow('late', 'allowed', '2026-03-11T12:00:01Z'),
      ],
      checkpoints: [{ stream: 'import:/f', position: '9' }],
      deadLetters: [{ raw: '{', reason: 'not valid JSON', origin: 'import:/f:1' }],
    });
    expect(result.flows).toBe(2);
    expect(result.deadLetters).toBe(3);
    const letters = writer.deadLetters.letters;
    expect(letters.map((l) => l.origin)).toEqual(['import:/f:1', 'import:/f', 'import:/f']);
    expect(letters[1].reason).toMatch(/^invalid FlowRecord: count/);
    expect(letters[2].reason).toBe('invalid FlowRecord: time: 2026-03-11T12:00:01Z is more than a day in the future');
    expect(await counter(registry, 'dropscope_dead_letters_total')).toBe(3);
    expect(await counter(registry, 'dropscope_flows_processed_total')).toBe(2);
  });

  describe('with DROP_EVENTS_PER_EDGE_MINUTE', () => {
    const sampling = (perRow: number) => {
      const writer = new InMemoryRollupWriter();
      const registry = new Registry();
      const metrics = new AggregatorMetrics(registry);
      const aggregator = new Aggregator(
        writer,
        reportedOnlyAttributor,
        metrics,
        silentLogger,
        clock,
        undefined,
        false,
        perRow,
      );
      return { writer, registry, aggregator };
    };
    const denies = (prefix: string, n: number, time = '2026-03-10T11:30:15Z') =>
      Array.from({ length: n }, (_, i) => flow(`${prefix}${i}`, 'denied', time));

    it('stores the first events of each edge and minute across batches, counts the rest, and rolls up every flow', async () => {
      const { writer, registry, aggregator } = sampling(3);
      const first = await aggregator.handle({ records: denies('a', 2), checkpoints: [] });
      const second = await aggregator.handle({
        records: [...denies('b', 4), ...denies('c', 2, '2026-03-10T11:31:00Z')],
        checkpoints: [],
      });
      expect([first.dropEventsSampledOut, second.dropEventsSampledOut]).toEqual([0, 3]);
      expect(writer.events.map((e) => e.flow_id)).toEqual(['a0', 'a1', 'b0', 'c0', 'c1']);
      // Every flow counted: 8 records of count 2, in two minutes.
      expect(writer.storedFlows()).toBe(16);
      expect(await counter(registry, 'dropscope_drop_events_sampled_out_total')).toBe(3);
      expect(await counter(registry, 'dropscope_drops_total')).toBe(16);
    });

    it('keeps the events of a batch whose write failed when the source replays it', async () => {
      const { writer, registry, aggregator } = sampling(2);
      writer.failNext = new Error('connection lost');
      await expect(aggregator.handle({ records: denies('a', 3), checkpoints: [] })).rejects.toThrow('connection lost');
      await aggregator.handle({ records: denies('a', 3), checkpoints: [] });
      expect(writer.events.map((e) => e.flow_id)).toEqual(['a0', 'a1']);
      expect(await counter(registry, 'dropscope_drop_events_sampled_out_total')).toBe(1);
    });

    it('0 keeps every event', async () => {
      const { writer, aggregator } = sampling(0);
      const r = await aggregator.handle({ records: denies('a', 30), checkpoints: [] });
      expect(writer.events).toHaveLength(30);
      expect(r.dropEventsSampledOut).toBe(0);
    });
  });

  it('commits batches in call order: a batch never overtakes an earlier write still in flight', async () => {
    const { writer, aggregator } = setup();
    const first = latch();
    writer.gate = first.promise;
    const a = aggregator.handle({ records: [flow('a', 'allowed')], checkpoints: [{ stream: 's', position: '1' }] });
    const b = aggregator.handle({ records: [flow('b', 'allowed')], checkpoints: [{ stream: 's', position: '2' }] });
    await Promise.resolve();
    expect(writer.commits).toEqual([]);
    first.open();
    await Promise.all([a, b]);
    expect(writer.commits).toEqual(['1', '2']);
    expect(writer.checkpoints.positions.get('s')).toBe('2');
  });

  it('fails a batch prepared while an earlier write was failing, counts neither, and stores later ones', async () => {
    const { writer, registry, aggregator } = setup();
    const first = latch();
    writer.gate = first.promise;
    writer.failNext = new Error('connection lost');
    const a = aggregator.handle({ records: [flow('a', 'allowed')], checkpoints: [{ stream: 's', position: '1' }] });
    const b = aggregator.handle({ records: [flow('b', 'allowed')], checkpoints: [{ stream: 's', position: '2' }] });
    first.open();
    await expectNeitherStored(a, b, writer, registry);

    // The source replays from its last stored position: the retried batch goes through.
    await aggregator.handle({ records: [flow('a', 'allowed')], checkpoints: [{ stream: 's', position: '1' }] });
    expect(writer.storedFlows()).toBe(2);
    expect(writer.checkpoints.positions.get('s')).toBe('1');
    expect(await counter(registry, 'dropscope_flows_processed_total')).toBe(2);
  });

  it('a carried flush continues each stream from its first batch, and is refused whole when that is not stored', async () => {
    const { writer, aggregator } = carrying(1000);
    const a = aggregator.handle({
      records: [flow('a', 'allowed')],
      checkpoints: [{ stream: 's', position: '1', after: null }],
    });
    const b = aggregator.handle({
      records: [flow('b', 'allowed')],
      checkpoints: [{ stream: 's', position: '2', after: '1' }],
      flush: true,
    });
    await Promise.all([a, b]);
    expect(writer.commits).toEqual(['2']); // one write for both
    expect(writer.checkpoints.positions.get('s')).toBe('2');
    // The batch from 2 to 3 was lost: one continuing from 3 must not store, nor move the position.
    const c = aggregator.handle({
      records: [flow('c', 'allowed')],
      checkpoints: [{ stream: 's', position: '4', after: '3' }],
      flush: true,
    });
    await expect(c).rejects.toBeInstanceOf(CheckpointConflictError);
    expect(writer.storedFlows()).toBe(4);
    expect(writer.checkpoints.positions.get('s')).toBe('2');
  });

  it('with group commit, stores the batches that come while a write is in flight together, in the next write', async () => {
    const { writer, registry, aggregator } = setup(reportedOnlyAttributor, undefined, true);
    const first = latch();
    writer.gate = first.promise;
    const a = aggregator.handle({ records: [flow('a', 'allowed')], checkpoints: [{ stream: 'p0', position: '1' }] });
    // Three batches of two streams (Kafka partitions consumed at once) while `a` is being stored.
    const later = [
      aggregator.handle({ records: [flow('b', 'denied')], checkpoints: [{ stream: 'p1', position: '7' }] }),
      aggregator.handle({ records: [flow('c', 'allowed')], checkpoints: [{ stream: 'p0', position: '2' }] }),
      aggregator.handle({ records: [flow('d', 'allowed')], checkpoints: [{ stream: 'p0', position: '3' }] }),
    ];
    await Promise.resolve();
    expect(await settled(later[0])).toBe(false);
    first.open();
    await a;
    const results = await Promise.all(later);
    // One write for `a`, one for the three after it: its first checkpoint is p1's.
    expect(writer.commits).toEqual(['1', '7']);
    expect(writer.checkpoints.positions.get('p0')).toBe('3');
    expect(writer.checkpoints.positions.get('p1')).toBe('7');
    expect(writer.storedFlows()).toBe(8);
    expect(results.map((r) => r.flows)).toEqual([2, 2, 2]);
    expect(results.map((r) => r.drops)).toEqual([2, 0, 0]);
    expect(await counter(registry, 'dropscope_flows_processed_total')).toBe(8);
    // Alone again, a batch is written at once.
    await aggregator.handle({ records: [flow('e', 'allowed')], checkpoints: [{ stream: 'p1', position: '8' }] });
    expect(writer.commits).toEqual(['1', '7', '8']);
  });

  it('fails every batch of a group commit whose write fails; the next batches are stored', async () => {
    const { writer, registry, aggregator } = setup(reportedOnlyAttributor, undefined, true);
    // The write that holds stream p1's checkpoint fails, once.
    const prepare = writer.prepare.bind(writer);
    let failP1 = true;
    writer.prepare = (batch, checkpoints, dead) => {
      const write = prepare(batch, checkpoints, dead);
      return {
        commit: async () => {
          if (failP1 && checkpoints.some((c) => c.stream === 'p1')) {
            failP1 = false;
            throw new Error('connection lost');
          }
          await write.commit();
        },
      };
    };
    const first = latch();
    writer.gate = first.promise;
    const a = aggregator.handle({ records: [flow('a', 'allowed')], checkpoints: [{ stream: 'p0', position: '1' }] });
    const b = aggregator.handle({ records: [flow('b', 'allowed')], checkpoints: [{ stream: 'p1', position: '1' }] });
    const c = aggregator.handle({ records: [flow('c', 'allowed')], checkpoints: [{ stream: 'p2', position: '1' }] });
    first.open();
    await a;
    await expect(b).rejects.toThrow('connection lost');
    await expect(c).rejects.toThrow('connection lost');
    expect(writer.commits).toEqual(['1']);
    expect([...writer.checkpoints.positions.keys()]).toEqual(['p0']);
    expect(await counter(registry, 'dropscope_flows_processed_total')).toBe(2);
    // Their sources replay them: stored.
    await Promise.all([
      aggregator.handle({ records: [flow('b', 'allowed')], checkpoints: [{ stream: 'p1', position: '1' }] }),
      aggregator.handle({ records: [flow('c', 'allowed')], checkpoints: [{ stream: 'p2', position: '1' }] }),
    ]);
    expect(writer.storedFlows()).toBe(6);
    expect([...writer.checkpoints.positions.keys()].sort()).toEqual(['p0', 'p1', 'p2']);
  });

  describe('carrying roll-ups across batches', () => {
    it('stores the batches it carried in one write, with the last checkpoint, when one asks for a flush', async () => {
      const { writer, aggregator } = carrying(100);
      const a = aggregator.handle({ records: [flow('a', 'allowed')], checkpoints: [{ stream: 's', position: '1' }] });
      const b = aggregator.handle({ records: [flow('b', 'allowed')], checkpoints: [{ stream: 's', position: '2' }] });
      expect(await settled(a)).toBe(false);
      expect(writer.commits).toEqual([]);
      const c = aggregator.handle({
        records: [flow('c', 'denied')],
        checkpoints: [{ stream: 's', position: '3' }],
        flush: true,
      });
      // Each batch learns its own counts once the one write that holds all three is stored.
      const one = { received: 1, flows: 2, deadLetters: 0, dropEventsSampledOut: 0 };
      expect(await a).toEqual({ ...one, drops: 0, byVerdict: { allowed: 2 } });
      expect(await b).toEqual({ ...one, drops: 0, byVerdict: { allowed: 2 } });
      expect(await c).toEqual({ ...one, drops: 2, byVerdict: { denied: 2 } });
      expect(writer.commits).toEqual(['3']);
      expect(writer.checkpoints.positions.get('s')).toBe('3');
      // a and b: one allowed row of 4 flows, upserted once; c: one denied row and its event.
      expect([...writer.rollups.values()].map((r) => [r.verdict, r.count])).toEqual([
        ['allowed', 4],
        ['denied', 2],
      ]);
      expect(writer.events.map((e) => e.flow_id)).toEqual(['c']);
    });

    it('writes once the rows, events and dead letters it holds reach the budget', async () => {
      const { writer, aggregator } = carrying(3);
      // One allowed row (1 entry), then a denied row and its event (3 entries): written.
      const a = aggregator.handle({ records: [flow('a', 'allowed')], checkpoints: [{ stream: 's', position: '1' }] });
      expect(await settled(a)).toBe(false);
      const b = aggregator.handle({ records: [flow('b', 'denied')], checkpoints: [{ stream: 's', position: '2' }] });
      await Promise.all([a, b]);
      expect(writer.commits).toEqual(['2']);
      expect(writer.storedFlows()).toBe(4);
    });

    it('fails what it carries when an earlier write fails, and stores what the source replays', async () => {
      const { writer, registry, aggregator } = carrying(100);
      const first = latch();
      writer.gate = first.promise;
      writer.failNext = new Error('connection lost');
      const a = aggregator.handle({
        records: [flow('a', 'allowed')],
        checkpoints: [{ stream: 's', position: '1' }],
        flush: true,
      });
      // Folded while a's write is in flight: it may continue a's stream, so it must not be stored.
      const b = aggregator.handle({ records: [flow('b', 'allowed')], checkpoints: [{ stream: 's', position: '2' }] });
      first.open();
      await expectNeitherStored(a, b, writer, registry);

      const replay = aggregator.handle({
        records: [flow('a', 'allowed'), flow('b', 'allowed')],
        checkpoints: [{ stream: 's', position: '2' }],
        flush: true,
      });
      await replay;
      expect(writer.storedFlows()).toBe(4);
      expect(writer.checkpoints.positions.get('s')).toBe('2');
      expect(await counter(registry, 'dropscope_flows_processed_total')).toBe(4);
    });

    it('lets the bus hand over more only while at most one flush waits behind the one being written', async () => {
      const { writer, aggregator } = carrying(1);
      const first = latch();
      writer.gate = first.promise;
      const a = aggregator.handle({ records: [flow('a', 'allowed')], checkpoints: [{ stream: 's', position: '1' }] });
      expect(await settled(aggregator.ready())).toBe(true);
      const b = aggregator.handle({ records: [flow('b', 'allowed')], checkpoints: [{ stream: 's', position: '2' }] });
      const ready = aggregator.ready();
      expect(await settled(ready)).toBe(false);
      first.open();
      await ready;
      await Promise.all([a, b]);
      expect(writer.commits).toEqual(['1', '2']);
    });
  });
});
