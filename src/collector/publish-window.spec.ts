import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { Aggregator } from '../aggregator/aggregator.js';
import { AggregatorMetrics } from '../aggregator/aggregator.metrics.js';
import { reportedOnlyAttributor } from '../aggregator/attribution.port.js';
import { CheckpointConflictError, type FlowBus, type PublishBatch } from '../bus/flow-bus.js';
import { InProcessFlowBus } from '../bus/in-process-flow.bus.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { FlowRecord } from '../flow/flow-record.js';
import { InMemoryRollupWriter } from '../storage/in-memory.repositories.js';
import { PublishWindow } from './publish-window.js';

/** One allowed flow of count 1, a/web to b/db:5432. */
function flow(id: number): FlowRecord {
  return {
    id: `f${id}`,
    source: 'calico',
    cluster: 'c1',
    time: '2026-03-10T11:30:15Z',
    verdict: 'allowed',
    direction: 'ingress',
    src: { kind: 'pod', namespace: 'a', workload: { kind: 'Deployment', name: 'web' } },
    dst: { kind: 'pod', namespace: 'b', workload: { kind: 'Deployment', name: 'db' } },
    protocol: 'TCP',
    dstPort: 5432,
    count: 1,
    policies: [],
  };
}

/** The real in-process bus and aggregator over in-memory stores (which check `after` as PostgreSQL does). */
async function pipeline() {
  const writer = new InMemoryRollupWriter();
  const aggregator = new Aggregator(
    writer,
    reportedOnlyAttributor,
    new AggregatorMetrics(new Registry()),
    silentLogger,
    { now: () => Date.parse('2026-03-10T12:00:00Z') },
  );
  const bus = new InProcessFlowBus(50_000);
  await bus.consume((b) => aggregator.handle(b).then(() => undefined), {
    groupId: 'g',
    loadCheckpoints: async () => new Map(),
  });
  return { writer, bus };
}

/** Batch `i` of stream s: one flow, position i, continuing from i - 1 (null for the first). */
function batch(i: number): PublishBatch {
  return {
    records: [flow(i)],
    checkpoints: [{ stream: 's', position: String(i), after: i === 1 ? null : String(i - 1) }],
  };
}

function collectingLog(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const log: Logger & { warnings: string[] } = {
    ...silentLogger,
    warn: (msg) => void warnings.push(msg),
    child: () => log,
    warnings,
  };
  return log;
}

const options = (log: Logger, size = 4) => ({
  size,
  retryDelayMs: 1,
  log,
  stopping: () => false,
  killed: () => false,
});

describe('PublishWindow', () => {
  it('keeps up to `size` batches in flight and reports each stored, in order', async () => {
    const { writer, bus } = await pipeline();
    let release!: () => void;
    writer.gate = new Promise<void>((r) => (release = r)); // the first write waits
    const window = new PublishWindow(bus, options(silentLogger));
    const stored: number[] = [];
    // Three sends return while the first write is held: the reader goes on.
    for (let i = 1; i <= 3; i++) await window.send(batch(i), () => stored.push(i));
    expect(stored).toEqual([]);
    const fourth = window.send(batch(4), () => stored.push(4)); // the window is full: waits for the first
    release();
    await fourth;
    for (let i = 5; i <= 10; i++) await window.send(batch(i), () => stored.push(i));
    await window.drain();
    expect(stored).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(writer.storedFlows()).toBe(10);
    expect(writer.checkpoints.positions.get('s')).toBe('10');
    await bus.close();
  });

  it('with size 1, a send resolves only once its batch is stored', async () => {
    const { writer, bus } = await pipeline();
    let release!: () => void;
    writer.gate = new Promise<void>((r) => (release = r));
    const window = new PublishWindow(bus, options(silentLogger, 1));
    let done = false;
    const sent = window.send(batch(1), () => undefined).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(done).toBe(false);
    release();
    await sent;
    expect(writer.checkpoints.positions.get('s')).toBe('1');
    await bus.close();
  });

  it('sends a failed batch and every one after it again, in order, and stores each once', async () => {
    const { writer, bus } = await pipeline();
    const log = collectingLog();
    let release!: () => void;
    writer.gate = new Promise<void>((r) => (release = r));
    writer.failNext = new Error('connection lost'); // the first write fails once it is let go
    const window = new PublishWindow(bus, options(log));
    const stored: number[] = [];
    for (let i = 1; i <= 3; i++) await window.send(batch(i), () => stored.push(i));
    release();
    for (let i = 4; i <= 8; i++) await window.send(batch(i), () => stored.push(i));
    await window.drain();
    expect(stored).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(writer.storedFlows()).toBe(8);
    expect(writer.checkpoints.positions.get('s')).toBe('8');
    // Warned once, for the batch that failed on its own; the ones behind it went again at once.
    expect(log.warnings).toEqual(['publishing flows failed; retrying the same batch']);
    await bus.close();
  });

  it('throws, instead of retrying for ever, when a batch sent again does not continue the stored position', async () => {
    // A write reported failed that did commit (the connection lost at COMMIT): its resend is
    // refused, since the stored position is its own now. The caller resumes from what is stored.
    const { writer, bus } = await pipeline();
    let lost = false;
    const flaky: FlowBus = {
      kind: 'in-process',
      publish: async (b) => {
        await bus.publish(b);
        if (!lost) {
          lost = true;
          throw new Error('connection lost at commit');
        }
      },
      publishDeadLetters: (l) => bus.publishDeadLetters(l),
      consume: (h, o) => bus.consume(h, o),
      close: () => bus.close(),
    };
    const window = new PublishWindow(flaky, options(silentLogger));
    await window.send(batch(1), () => undefined);
    await expect(window.drain()).rejects.toBeInstanceOf(CheckpointConflictError);
    expect(writer.storedFlows()).toBe(1);
    expect(writer.checkpoints.positions.get('s')).toBe('1');
    await bus.close();
  });
});
