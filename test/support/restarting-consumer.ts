/**
 * A group member for tests on librdkafka's mock broker that is restarted, as a supervisor restarts
 * a pod, after the one fatal consumer error the mock makes up.
 *
 * The mock moves a group to Up as soon as the leader's SyncGroup carries every assignment, and
 * answers a SyncGroup that arrives after that with INVALID_REQUEST (a real broker sends that
 * member its assignment). Two members joining together race for it; kafkajs does not retry
 * INVALID_REQUEST, so the later member's consumer dies (`onFatalError`; `serve` would shut down
 * and be restarted). Any other fatal error is kept and not restarted, so a test sees it.
 */
import type { BatchHandler, ConsumeOptions } from '../../src/bus/flow-bus.js';
import type { KafkaFlowBus } from '../../src/bus/kafka-flow.bus.js';

export interface RestartingConsumer {
  /** The current bus (a new one after each restart). */
  readonly bus: KafkaFlowBus;
  /** The current bus's consume(): resolves once it joined the group. */
  readonly joined: Promise<void>;
  /** Every fatal consumer error, restarted or not. */
  readonly fatalErrors: Error[];
  close(): Promise<void>;
}

/** Whether a fatal consumer error is the mock broker's late-SyncGroup answer (see above). */
export function isMockSyncGroupRace(error: Error): boolean {
  return (error as { type?: string }).type === 'INVALID_REQUEST';
}

/** Fatal errors other than the mock broker's late-SyncGroup answer, as messages. */
export function unexpectedFatalErrors(c: Pick<RestartingConsumer, 'fatalErrors'>): string[] {
  return c.fatalErrors.filter((e) => !isMockSyncGroupRace(e)).map((e) => e.message);
}

/**
 * Consumes with a bus from `makeBus`, which must pass `onFatalError` on to the bus; after the
 * mock's late-SyncGroup error the dead bus is closed and a new one consumes with the same handler.
 */
export function restartingConsumer(
  makeBus: (onFatalError: (error: Error) => void) => KafkaFlowBus,
  handler: BatchHandler,
  options: ConsumeOptions,
): RestartingConsumer {
  const fatalErrors: Error[] = [];
  let closed = false;
  let bus!: KafkaFlowBus;
  let joined!: Promise<void>;
  const start = (): void => {
    const current = makeBus((error) => {
      fatalErrors.push(error);
      if (closed || !isMockSyncGroupRace(error)) return;
      void current.close().finally(() => {
        if (!closed) start();
      });
    });
    bus = current;
    joined = current.consume(handler, options);
    joined.catch(() => undefined);
  };
  start();
  return {
    get bus() {
      return bus;
    },
    get joined() {
      return joined;
    },
    fatalErrors,
    close: async () => {
      closed = true;
      await bus.close();
    },
  };
}
