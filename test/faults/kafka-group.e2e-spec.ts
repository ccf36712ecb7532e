import { describe, expect, it } from '@jest/globals';
import type { Consumer } from 'kafkajs';
import { queryRows } from '../support/test-database.js';
import { until } from '../support/wait.js';
import { unexpectedFatalErrors } from '../support/restarting-consumer.js';
import { kafkaFaultFixture, sample, storedFlows, storedOffsets, type Member } from './kafka-members.js';

/**
 * Consumer-group faults, with two aggregator members (real bus, aggregator, roll-up writer and
 * checkpoint store, on real PostgreSQL and the mock broker). The topic holds N flows with ids
 * flow-0..flow-(N-1); every third one (i % 3 === 0) is denied, so N = 300 gives 100 drop events.
 */
const N = 300;
const DENIED = 100;

const fixture = kafkaFaultFixture();

/** A topic holding the N flows, and members of one group. */
async function setUp(partitions: number) {
  const { url, publish, member } = await fixture(partitions);
  await publish(0, N);
  return { url, member };
}

/** Resolves once this member's consumer got its group coordinator: its JoinGroup goes out next. */
function coordinatorFound(m: Member): Promise<void> {
  return new Promise((resolve) => {
    const hook = () => {
      const consumer = (m.bus as unknown as { consumer?: Consumer }).consumer;
      if (!consumer) return void setImmediate(hook);
      consumer.on(consumer.events.REQUEST, (e) => {
        if (/Coordinator/.test(e.payload.apiName)) resolve();
      });
    };
    hook();
  });
}

describe('fault: Kafka consumer group', () => {
  it('a second aggregator joins while the first holds an uncommitted batch: nothing lost, nothing doubled', async () => {
    const { url, member } = await setUp(4);
    const a = await startHolding(member, 'a');
    const held = a.held()!;

    // B joins while A's batch is uncommitted. kafkajs rejoins only between batches, so the
    // rebalance waits for A: A's batch must commit under the generation it claimed.
    const b = await member('b');
    let bJoined = false;
    void b.joined.then(() => (bJoined = true));
    await coordinatorFound(b);
    expect(bJoined).toBe(false);
    held.release();
    expect(await held.settled).toBe('stored');

    await until(
      'both members own partitions',
      async () => a.bus.assignedPartitions().length > 0 && b.bus.assignedPartitions().length > 0,
      45_000,
    );
    await until(`stored positions covering ${N} offsets`, async () => (await storedOffsets(url)) >= N, 30_000);
    expect(await storedFlows(url)).toEqual({ flows: N, events: DENIED, eventIds: DENIED });
    expect(await storedOffsets(url)).toBe(N);
    expect(await sample(a.registry, 'dropscope_kafka_batches_fenced_total')).toBe(0);
    expect(await sample(b.registry, 'dropscope_kafka_batches_fenced_total')).toBe(0);
    expect([...unexpectedFatalErrors(a), ...unexpectedFatalErrors(b)]).toEqual([]);
  }, 60_000);

  it('a zombie member is fenced: its stale batch is refused and counted, the totals stay exact', async () => {
    const { url, member } = await setUp(2);
    const a = await startHolding(member, 'a');
    const held = a.held()!;
    const [{ generation: aGeneration }] = held.checkpoints;
    expect(aGeneration).toBe(1);

    // A's write stalls past the session timeout (no heartbeat meanwhile): the coordinator evicts
    // A, B takes every partition over, claims them and stores the whole topic, A's batch included.
    const b = await member('b');
    await b.joined;
    expect(b.bus.assignedPartitions()).toEqual([0, 1]);
    await until(`B stored positions covering ${N} offsets`, async () => (await storedOffsets(url)) >= N, 30_000);
    expect(await storedFlows(url)).toEqual({ flows: N, events: DENIED, eventIds: DENIED });

    // A wakes up with its batch of generation 1; B claimed generation 2: refused, in its transaction.
    held.release();
    const outcome = await held.settled;
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).name).toBe('StaleGenerationError');
    // The bus counts it once the handler's rejection reaches it.
    await until(
      'A counting the refused batch',
      async () => (await sample(a.registry, 'dropscope_kafka_batches_fenced_total')) > 0,
      10_000,
    );
    expect(await sample(a.registry, 'dropscope_kafka_batches_fenced_total')).toBe(1);
    expect(await sample(a.registry, 'dropscope_batch_write_errors_total', { code: 'stale_generation' })).toBe(1);
    expect(await storedFlows(url)).toEqual({ flows: N, events: DENIED, eventIds: DENIED });

    // A rejoins; whatever it gets, it resumes from what B stored.
    await until('A back in the group with partitions', async () => a.bus.assignedPartitions().length > 0, 45_000);
    const rows = await queryRows<{ position: string; generation: string }>(
      url,
      `SELECT position, generation FROM stream_checkpoints ORDER BY stream`,
    );
    expect(rows.reduce((n, r) => n + Number(r.position), 0)).toBe(N);
    for (const r of rows) expect(Number(r.generation)).toBeGreaterThanOrEqual(2);
    expect(await storedFlows(url)).toEqual({ flows: N, events: DENIED, eventIds: DENIED });
    expect([...unexpectedFatalErrors(a), ...unexpectedFatalErrors(b)]).toEqual([]);
  }, 60_000);
});

/** Starts a member that holds its first write carrying flows, and waits until that write is held. */
async function startHolding(member: (name: string, hold: boolean) => Promise<Member>, name: string): Promise<Member> {
  const m = await member(name, true);
  await m.joined;
  await until(`${name} holding a batch`, async () => m.held() !== undefined, 20_000);
  return m;
}
