/**
 * The fake Hubble Relay of `npm run load -- --source hubble-relay`, in a process of its own:
 * forked by bench/load-sources.ts, so that the driver's own work (timing the steps, polling
 * PostgreSQL) does not take CPU from the Relay's encoding and sending, and the Relay's CPU is
 * counted apart. The driver sends `write` messages (N flows at a time, with an optional probe);
 * this process makes the flows and pushes them to the followers of a FakeHubbleRelay (real
 * gRPC, the project's proto/).
 *
 * It ends on a `stop` message, on SIGINT, SIGTERM or SIGHUP, and when the IPC channel to the
 * driver closes: a driver killed with SIGKILL leaves no Relay behind.
 */
import { FakeHubbleRelay, type EncodedFlow } from '../src/demo/fake-hubble-relay.js';
import { HubbleFlowEncoder, isFloodDeny, TEMPLATES } from './load-hubble-flows.js';

/** Driver → Relay. */
export type ToRelay =
  { kind: 'write'; flows: number; nowMs: number; probe?: string } | { kind: 'status'; id: number } | { kind: 'stop' };

/** Relay → driver. */
export type FromRelay =
  { kind: 'ready'; port: number } | { kind: 'status'; id: number; followers: number; queued: number; stalls: number };

/** The share of flows that are denies (`npm run load -- --deny-share`), the process's first argument. */
const DENY_SHARE = Number(process.argv[2] ?? '0');
/** The edges the flows spread over (`--edges`), its second. */
const EDGES = Number(process.argv[3] ?? String(TEMPLATES));

/**
 * `flows` flows stamped `nowMs`, numbered from `seq`; the first is a deny from `probe` when
 * given; of every 1,000 others in a row, the first DENY_SHARE × 1,000 are denies. Distinct
 * nanoseconds keep the flows apart and in order within the tick.
 */
function hubbleFlows(
  encoder: HubbleFlowEncoder,
  seq: number,
  flows: number,
  nowMs: number,
  probe?: string,
): EncodedFlow[] {
  const out: EncodedFlow[] = [];
  const seconds = Math.floor(nowMs / 1000);
  for (let i = 0; i < flows; i++) {
    const nanos = (nowMs % 1000) * 1e6 + i;
    const deny = isFloodDeny(seq + i, DENY_SHARE);
    out.push(
      probe && i === 0
        ? {
            bytes: encoder.encodeWhole(seq + i, seconds, nanos, probe),
            seconds,
            nanos,
            verdict: 'DROPPED',
            eventType: 5,
          }
        : deny
          ? { bytes: encoder.encode(seq + i, seconds, nanos, true), seconds, nanos, verdict: 'DROPPED', eventType: 5 }
          : { bytes: encoder.encode(seq + i, seconds, nanos), seconds, nanos, verdict: 'FORWARDED', eventType: 4 },
    );
  }
  return out;
}

async function main(): Promise<void> {
  const encoder = new HubbleFlowEncoder(EDGES);
  // Every edge's forwarded template before the first step (about 33 µs each: 4 s for 120,000
  // edges), so that building them does not take the steps' CPU.
  for (let e = 0; e < EDGES; e++) encoder.encode(e, 0, 0);
  const send = (m: FromRelay): void => {
    process.send?.(m);
  };
  // A small replay history: the collector follows from "now", and memory stays flat.
  const relay = new FakeHubbleRelay({ maxHistory: 1000 });
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    // Graceful first (the collector has usually gone already), then drop what is left.
    await Promise.race([relay.stop(), new Promise((r) => setTimeout(r, 2000))]);
    relay.kill();
    process.exit(0);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void stop());
  process.on('disconnect', () => void stop());
  let seq = 0;
  process.on('message', (m: ToRelay) => {
    if (m.kind === 'write') {
      relay.addEncoded(hubbleFlows(encoder, seq, m.flows, m.nowMs, m.probe));
      seq += m.flows;
    } else if (m.kind === 'status')
      send({ kind: 'status', id: m.id, followers: relay.followerCount, queued: relay.queued, stalls: relay.stalls });
    else void stop();
  });
  send({ kind: 'ready', port: await relay.start() });
}

if (!process.send) {
  process.stderr.write('load-relay-process: run by the load driver (forked with an IPC channel)\n');
  process.exit(2);
}
await main();
