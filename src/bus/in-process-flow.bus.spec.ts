import { describe, expect, it } from '@jest/globals';
import type { ConsumedBatch } from './flow-bus.js';
import { InProcessFlowBus } from './in-process-flow.bus.js';

const noCheckpoints = { groupId: 'g', loadCheckpoints: async () => new Map<string, string>() };

/** A bus whose consumer records each batch, then holds it until `release()`. */
async function gatedBus(): Promise<{ bus: InProcessFlowBus; seen: ConsumedBatch[]; release: () => void }> {
  const seen: ConsumedBatch[] = [];
  const bus = new InProcessFlowBus(100);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  await bus.consume(
    async (b) => {
      seen.push(b);
      await gate;
    },
    { ...noCheckpoints, maxBatch: 10 },
  );
  return { bus, seen, release };
}

describe('InProcessFlowBus', () => {
  it('resolves a publish only once the consumer stored it, merging queued batches and keeping the last checkpoint', async () => {
    const { bus, seen, release } = await gatedBus();
    let firstDone = false;
    const first = bus
      .publish({ records: [1, 2], checkpoints: [{ stream: 's', position: '2' }] })
      .then(() => (firstDone = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(firstDone).toBe(false);
    const second = bus.publish({ records: [3], checkpoints: [{ stream: 's', position: '3' }] });
    const third = bus.publish({ records: [4], checkpoints: [{ stream: 's', position: '4' }] });
    release();
    await Promise.all([first, second, third]);
    expect(seen.map((b) => b.records)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(seen[1].checkpoints).toEqual([{ stream: 's', position: '4' }]);
    await bus.close();
  });

  it('fails the batches queued behind a failed one, so no checkpoint moves past lost data, then carries on', async () => {
    const bus = new InProcessFlowBus(100);
    const stored: unknown[][] = [];
    let failNext = true;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await bus.consume(
      async (b) => {
        await gate;
        if (failNext) {
          failNext = false;
          throw new Error('database down');
        }
        stored.push(b.records);
      },
      { ...noCheckpoints, maxBatch: 1 },
    );
    const a = bus.publish({ records: ['a'] });
    await new Promise((r) => setTimeout(r, 10)); // a is in the handler
    const b = bus.publish({ records: ['b'] });
    const c = bus.publish({ records: ['c'] });
    await new Promise((r) => setTimeout(r, 10));
    release();
    await expect(a).rejects.toThrow('database down');
    // b may already be in the handler (two in flight) and is then stored; c, queued behind, must fail.
    const rb = await b.then(
      () => 'stored',
      (e: Error) => e.message,
    );
    await expect(c).rejects.toThrow(/earlier batch failed to store|database down/);
    expect(stored).toEqual(rb === 'stored' ? [['b']] : []);
    await bus.publish({ records: ['d'] });
    expect(stored[stored.length - 1]).toEqual(['d']);
    await bus.close();
  });

  it('applies backpressure: publish waits while the queue is full', async () => {
    const bus = new InProcessFlowBus(3);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await bus.consume(() => gate, { ...noCheckpoints, maxBatch: 2 });
    const p1 = bus.publish({ records: [1, 2] });
    let p2Accepted = false;
    const p2 = bus.publish({ records: [3, 4] }).then(() => (p2Accepted = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(p2Accepted).toBe(false);
    release();
    await Promise.all([p1, p2]);
    await bus.close();
    await expect(bus.publish({ records: [5] })).rejects.toThrow('bus is closed');
  });

  it('with `ready`, hands over batches before earlier ones are stored and frees queue room at hand-over', async () => {
    const bus = new InProcessFlowBus(2);
    const seen: unknown[][] = [];
    let store!: () => void;
    const stored = new Promise<void>((r) => (store = r));
    let ready = true;
    let readyNow!: () => void;
    await bus.consume(
      async (b) => {
        seen.push(b.records);
        await stored; // a carrying consumer stores later
      },
      {
        ...noCheckpoints,
        maxBatch: 2,
        ready: () => (ready ? Promise.resolve() : new Promise<void>((r) => (readyNow = r))),
      },
    );
    const accepted: number[] = [];
    const p1 = bus.publish({ records: [1, 2], accepted: () => accepted.push(1) });
    const p2 = bus.publish({ records: [3, 4], accepted: () => accepted.push(2) });
    await new Promise((r) => setImmediate(r));
    // Both handed over although neither is stored: the queue (2 records) had room again.
    expect(seen).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(accepted).toEqual([1, 2]);
    // Handed over, and then the consumer is not ready: the next batch stays queued.
    ready = false;
    const p3 = bus.publish({ records: [5], flush: true });
    await new Promise((r) => setImmediate(r));
    const p4 = bus.publish({ records: [6] });
    await new Promise((r) => setImmediate(r));
    expect(seen).toHaveLength(3);
    ready = true;
    readyNow();
    store();
    await Promise.all([p1, p2, p3, p4]);
    expect(seen).toEqual([[1, 2], [3, 4], [5], [6]]);
    await bus.close();
  });

  it('merging checkpoints of a stream keeps the last position and the first `after`', async () => {
    const { bus, seen, release } = await gatedBus();
    const first = bus.publish({ records: [1], checkpoints: [{ stream: 's', position: '1', after: null }] });
    await new Promise((r) => setTimeout(r, 10)); // in the handler alone
    const rest = [
      bus.publish({ records: [2], checkpoints: [{ stream: 's', position: '2', after: '1' }] }),
      bus.publish({
        records: [3],
        checkpoints: [
          { stream: 's', position: '3', after: '2' },
          { stream: 't', position: '9' },
        ],
      }),
      bus.publish({ records: [4], checkpoints: [{ stream: 's', position: '4', after: '3' }] }),
    ];
    release();
    await Promise.all([first, ...rest]);
    expect(seen[0].checkpoints).toEqual([{ stream: 's', position: '1', after: null }]);
    expect(seen[1].records).toEqual([2, 3, 4]);
    expect(seen[1].checkpoints).toEqual([
      { stream: 's', position: '4', after: '1' },
      { stream: 't', position: '9' },
    ]);
    await bus.close();
  });

  it('with `ready`, a publisher waiting for room when a batch fails is let in, not left waiting', async () => {
    const bus = new InProcessFlowBus(2);
    let readyNow!: () => void;
    let fail!: (e: Error) => void;
    const handled: unknown[][] = [];
    await bus.consume(
      (b) => {
        handled.push(b.records);
        if (handled.length === 1) return new Promise<void>((_, reject) => (fail = reject));
        return Promise.resolve();
      },
      { ...noCheckpoints, maxBatch: 2, ready: () => new Promise<void>((r) => (readyNow = r)) },
    );
    const a = bus.publish({ records: ['a'] });
    await new Promise((r) => setImmediate(r)); // a handed over; the consumer is not ready for more
    const b = bus.publish({ records: ['b1', 'b2'] }); // fills the queue
    let cAccepted = false;
    const c = bus.publish({ records: ['c'], accepted: () => (cAccepted = true) }); // waits for room
    await new Promise((r) => setImmediate(r));
    expect(cAccepted).toBe(false);
    fail(new Error('database down'));
    await expect(a).rejects.toThrow('database down');
    await expect(b).rejects.toThrow(/earlier batch failed to store/);
    // The queue emptied when b failed: c gets in and is stored once the consumer is ready.
    await new Promise((r) => setImmediate(r));
    expect(cAccepted).toBe(true);
    readyNow();
    await c;
    expect(handled).toEqual([['a'], ['c']]);
    readyNow(); // the loop waits for the consumer after each hand-over
    await bus.close();
  });

  it("hands dead letters published on their own to the consumer, marked as a collector's", async () => {
    const { bus, seen, release } = await gatedBus();
    release();
    const letter = { raw: 'not json', reason: 'not JSON', origin: 'calico-file:/x:0' };
    await bus.publishDeadLetters([letter]);
    expect(seen).toHaveLength(1);
    expect(seen[0].records).toEqual([]);
    expect(seen[0].deadLetters).toEqual([letter]);
    expect(seen[0].deadLettersFrom).toBe('collector');
    await bus.close();
  });
});
