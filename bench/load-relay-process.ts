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
import { FakeHubbleRelay } from '../src/demo/fake-hubble-relay.js';

/** Driver → Relay. */
export type ToRelay =
  { kind: 'write'; flows: number; nowMs: number; probe?: string } | { kind: 'status'; id: number } | { kind: 'stop' };

/** Relay → driver. */
export type FromRelay =
  { kind: 'ready'; port: number } | { kind: 'status'; id: number; followers: number; queued: number; stalls: number };

/** One Hubble flow (protojson GetFlowsResponse): a forwarded trace, or a policy-verdict deny. */
function hubbleFlow(seq: number, time: string, probe?: string): Record<string, unknown> {
  const src = probe ?? `load-${seq % 50}`;
  const dst = `svc-${seq % 20}`;
  const endpoint = (pod: string, workload: string, id: number) => ({
    ID: id,
    identity: 10000 + id,
    cluster_name: 'load',
    namespace: 'load',
    labels: [`k8s:app=${workload}`, 'k8s:io.kubernetes.pod.namespace=load'],
    pod_name: pod,
    workloads: [{ name: workload, kind: 'Deployment' }],
  });
  const flow: Record<string, unknown> = {
    time,
    // Cilium 1.12 and later give every flow a uuid; without one the collector hashes the flow for an id.
    uuid: `00000000-0000-4000-8000-${seq.toString(16).padStart(12, '0')}`,
    IP: { source: `10.1.0.${seq % 50}`, destination: `10.2.0.${seq % 20}`, ipVersion: 'IPv4' },
    l4: { TCP: { source_port: 30000 + (seq % 30000), destination_port: 8080, flags: { SYN: true } } },
    source: endpoint(src, probe ? 'probe' : `load-${seq % 50}`, 100 + (seq % 50)),
    destination: endpoint(dst, dst, 200 + (seq % 20)),
    Type: 'L3_L4',
    node_name: 'load/node-0',
    traffic_direction: 'INGRESS',
    is_reply: false,
  };
  if (probe)
    Object.assign(flow, {
      verdict: 'DROPPED',
      drop_reason: 133,
      drop_reason_desc: 'POLICY_DENIED',
      event_type: { type: 5 },
    });
  else Object.assign(flow, { verdict: 'FORWARDED', event_type: { type: 4 }, trace_observation_point: 'TO_ENDPOINT' });
  return { flow, node_name: 'load/node-0', time };
}

/** `flows` flows stamped `nowMs`, numbered from `seq`; the first is a deny from `probe` when given. */
function hubbleFlows(seq: number, flows: number, nowMs: number, probe?: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  const ms = new Date(nowMs).toISOString().slice(0, -1);
  for (let i = 0; i < flows; i++) {
    // Distinct nanoseconds keep the flows apart and in order within the tick.
    out.push(hubbleFlow(seq + i, `${ms}${String(i).padStart(6, '0')}Z`, probe && i === 0 ? probe : undefined));
  }
  return out;
}

async function main(): Promise<void> {
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
      relay.add(hubbleFlows(seq, m.flows, m.nowMs, m.probe));
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
