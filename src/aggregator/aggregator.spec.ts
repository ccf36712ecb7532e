import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { InMemoryRollupWriter } from '../storage/in-memory.repositories.js';
import { silentLogger } from '../common/logger.js';
import type { FlowRecord } from '../flow/flow-record.js';
import { Aggregator } from './aggregator.js';
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

function setup(attributor: FlowAttributor = reportedOnlyAttributor) {
  const writer = new InMemoryRollupWriter();
  const registry = new Registry();
  const aggregator = new Aggregator(writer, attributor, new AggregatorMetrics(registry), silentLogger, clock);
  return { writer, registry, aggregator };
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
    expect(result).toEqual({ received: 3, flows: 6, drops: 4, deadLetters: 0, byVerdict: { denied: 4, allowed: 2 } });
    expect(writer.rollups.size).toBe(2);
    const denied = [...writer.rollups.values()].find((r) => r.verdict === 'denied')!;
    expect(denied.count).toBe(4);
    expect(denied.bucket).toBe('2026-03-10T11:30:00.000Z');
    expect(denied.src_workload).toBe('Deployment/web');
    expect(writer.events.map((e) => e.flow_id)).toEqual(['d1', 'd2']);
    expect(writer.checkpoints.positions.get('calico:node-1')).toBe('300');
  });

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
    await expect(a).rejects.toThrow('connection lost');
    await expect(b).rejects.toThrow('an earlier batch failed to store; this one is retried with it');
    expect(writer.storedFlows()).toBe(0);
    expect(writer.checkpoints.positions.has('s')).toBe(false);
    expect(await counter(registry, 'dropscope_flows_processed_total')).toBe(0);

    // The source replays from its last stored position: the retried batch goes through.
    await aggregator.handle({ records: [flow('a', 'allowed')], checkpoints: [{ stream: 's', position: '1' }] });
    expect(writer.storedFlows()).toBe(2);
    expect(writer.checkpoints.positions.get('s')).toBe('1');
    expect(await counter(registry, 'dropscope_flows_processed_total')).toBe(2);
  });
});
