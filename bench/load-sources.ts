/**
 * The inputs `npm run load` drives `serve` with. Each writes N flows per tick with the current
 * time, the first of them a probe deny from a pod of its own (the driver times it to its
 * drop_events row); every flow counts 1 in edge_rollups.
 *  - calico-file: lines appended to the flows.log the Calico file collector tails;
 *  - hubble-relay: flows pushed to the followers of a fake Hubble Relay (gRPC, in this process),
 *    which the Hubble Relay collector streams from (HUBBLE_FILTER=all, so allowed flows count too).
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeHubbleRelay } from '../src/demo/fake-hubble-relay.js';
import { logged, started, type Proc } from './serve-processes.js';

export const LOAD_SOURCES = ['calico-file', 'hubble-relay'] as const;
export type LoadSourceName = (typeof LOAD_SOURCES)[number];

export interface LoadSource {
  /** Settings that point a collector at this source. */
  readonly env: Record<string, string>;
  /** True once the collector reads from the source (flows written from then on reach it). */
  connected(collector: Proc): boolean;
  /** Writes `flows` flows stamped `nowMs`; when `probe` is given, the first is a deny from that pod. */
  write(flows: number, nowMs: number, probe?: string): void;
  /** What the source itself holds back, when it can tell (for the Relay: flows not yet sent, stalls). */
  describeBacklog(): string | undefined;
  stop(): Promise<void>;
}

/** One Calico flows.log line standing for one flow; `seq` makes each distinct. */
function calicoLine(seq: number, action: 'allow' | 'deny', pod: string, epochSeconds: number): string {
  return JSON.stringify({
    start_time: epochSeconds,
    end_time: epochSeconds,
    source_name: pod,
    source_name_aggr: `load-${seq % 50}-*`,
    source_namespace: 'load',
    source_type: 'wep',
    dest_name: '-',
    dest_name_aggr: `svc-${seq % 20}-*`,
    dest_namespace: 'load',
    dest_port: 8080,
    dest_type: 'wep',
    proto: 'tcp',
    action,
    reporter: 'src',
    policies: { all_policies: [`0|default|load/knp.default.p|${action}|-1`] },
    num_flows: 1,
    packets_in: 1,
    packets_out: 1,
    bytes_in: seq,
    bytes_out: 1,
  });
}

class CalicoFileSource implements LoadSource {
  readonly env: Record<string, string>;
  private readonly path: string;
  private seq = 0;

  constructor(dir: string) {
    this.path = join(dir, 'flows.log');
    writeFileSync(this.path, '');
    this.env = { CALICO_FLOWLOG_PATH: this.path };
  }

  connected(collector: Proc): boolean {
    return started(collector);
  }

  write(flows: number, nowMs: number, probe?: string): void {
    const t = Math.floor(nowMs / 1000);
    let chunk = '';
    for (let i = 0; i < flows; i++)
      chunk += `${calicoLine(this.seq++, probe && i === 0 ? 'deny' : 'allow', probe && i === 0 ? probe : 'load', t)}\n`;
    appendFileSync(this.path, chunk);
  }

  describeBacklog(): undefined {
    return undefined;
  }

  async stop(): Promise<void> {}
}

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

class HubbleRelaySource implements LoadSource {
  readonly env: Record<string, string>;
  private seq = 0;

  private constructor(
    private readonly relay: FakeHubbleRelay,
    port: number,
  ) {
    this.env = { HUBBLE_ADDR: `127.0.0.1:${port}`, HUBBLE_FILTER: 'all' };
  }

  static async start(): Promise<HubbleRelaySource> {
    // A small replay history: the collector follows from "now", and memory stays flat.
    const relay = new FakeHubbleRelay({ maxHistory: 1000 });
    return new HubbleRelaySource(relay, await relay.start());
  }

  connected(collector: Proc): boolean {
    return logged(collector, 'Hubble nodes connected') && this.relay.followerCount > 0;
  }

  write(flows: number, nowMs: number, probe?: string): void {
    const out: Array<Record<string, unknown>> = [];
    for (let i = 0; i < flows; i++) {
      // Distinct nanoseconds keep the flows apart and in order within the tick.
      const time = `${new Date(nowMs).toISOString().slice(0, -1)}${String(i).padStart(6, '0')}Z`;
      out.push(hubbleFlow(this.seq++, time, probe && i === 0 ? probe : undefined));
    }
    this.relay.add(out);
  }

  describeBacklog(): string {
    return `${this.relay.queued} flows queued in the Relay unsent, ${this.relay.stalls} flow-control stalls so far`;
  }

  stop(): Promise<void> {
    return this.relay.stop();
  }
}

export async function startLoadSource(name: LoadSourceName, dir: string): Promise<LoadSource> {
  return name === 'calico-file' ? new CalicoFileSource(dir) : HubbleRelaySource.start();
}
