/**
 * The inputs `npm run load` drives `serve` with. Each writes N flows per tick with the current
 * time, the first of them a probe deny from a pod of its own (the driver times it to its
 * drop_events row); every flow counts 1 in edge_rollups.
 *  - calico-file: lines appended to the flows.log the Calico file collector tails, over 100 edges
 *    (or `edges`); with a deny share, that share of the other flows are denies too (a flood);
 *  - hubble-relay: flows pushed to the followers of a fake Hubble Relay (gRPC) in a child process
 *    of its own (bench/load-relay-process.ts), which the Hubble Relay collector streams from
 *    (HUBBLE_FILTER=all, so allowed flows count too), over 100 edges (or `edges`); with a deny
 *    share, that share of the other flows are policy denies too.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isFloodDeny } from './load-hubble-flows.js';
import type { FromRelay, ToRelay } from './load-relay-process.js';
import { logged, started, type Proc } from './serve-processes.js';

const RELAY_PROCESS = join(dirname(fileURLToPath(import.meta.url)), 'load-relay-process.js');

export const LOAD_SOURCES = ['calico-file', 'hubble-relay'] as const;
export type LoadSourceName = (typeof LOAD_SOURCES)[number];

export interface LoadSource {
  /** Settings that point a collector at this source. */
  readonly env: Record<string, string>;
  /** A process of the source's own (the fake Relay), for the run's pid list and CPU figures. */
  readonly process?: { name: string; pid: number; kill(): void };
  /** True once the collector reads from the source (flows written from then on reach it). */
  connected(collector: Proc): boolean | Promise<boolean>;
  /** Writes `flows` flows stamped `nowMs`; when `probe` is given, the first is a deny from that pod. */
  write(flows: number, nowMs: number, probe?: string): void;
  /** What the source itself holds back, when it can tell (for the Relay: flows not yet sent, stalls). */
  describeBacklog(): Promise<string | undefined>;
  stop(): Promise<void>;
}

/**
 * One Calico flows.log line standing for one flow; `seq` makes each distinct. A probe (`probe`
 * set) is a deny on an edge of its own (its pod is its aggregated name), so no other deny shares
 * its roll-up row and DROP_EVENTS_PER_EDGE_MINUTE never leaves its event out.
 */
function calicoLine(
  seq: number,
  action: 'allow' | 'deny',
  pod: string,
  epochSeconds: number,
  edges: number,
  probe = false,
): string {
  // Edge e of `edges`: from the 50 source workloads, to destination e / 50 (so each e is one edge).
  const e = seq % edges;
  return JSON.stringify({
    start_time: epochSeconds,
    end_time: epochSeconds,
    source_name: pod,
    source_name_aggr: probe ? pod : `load-${e % 50}-*`,
    source_namespace: 'load',
    source_type: 'wep',
    dest_name: '-',
    dest_name_aggr: `svc-${Math.floor(e / 50)}-*`,
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

  /** `denyShare`: the share of flows (not probes) that are denies, 0 to 1; `edges`: how many the flows spread over. */
  constructor(
    dir: string,
    private readonly denyShare = 0,
    private readonly edges = 100,
  ) {
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
    for (let i = 0; i < flows; i++) {
      const seq = this.seq++;
      if (probe && i === 0) chunk += `${calicoLine(seq, 'deny', probe, t, this.edges, true)}\n`;
      else chunk += `${calicoLine(seq, isFloodDeny(seq, this.denyShare) ? 'deny' : 'allow', 'load', t, this.edges)}\n`;
    }
    appendFileSync(this.path, chunk);
  }

  async describeBacklog(): Promise<undefined> {
    return undefined;
  }

  async stop(): Promise<void> {}
}

class HubbleRelaySource implements LoadSource {
  readonly env: Record<string, string>;
  readonly process: { name: string; pid: number; kill(): void };
  private nextId = 0;
  /** Status requests waiting for their answer; refused when the Relay exits first. */
  private readonly pending = new Map<
    number,
    { resolve: (m: Extract<FromRelay, { kind: 'status' }>) => void; reject: (e: Error) => void }
  >();

  private constructor(
    private readonly child: ChildProcess,
    port: number,
  ) {
    this.env = { HUBBLE_ADDR: `127.0.0.1:${port}`, HUBBLE_FILTER: 'all' };
    this.process = { name: 'relay', pid: child.pid!, kill: () => child.kill('SIGKILL') };
    child.on('message', (m: FromRelay) => {
      if (m.kind !== 'status') return;
      this.pending.get(m.id)?.resolve(m);
      this.pending.delete(m.id);
    });
    child.on('exit', (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`the fake Relay exited (${code ?? signal})`));
      this.pending.clear();
    });
  }

  /** Forks the Relay process and resolves once it listens (a CPU profile too, like `serve`'s). */
  static async start(denyShare = 0, edges = 100): Promise<HubbleRelaySource> {
    const prof = process.env.DROPSCOPE_BENCH_CPU_PROF;
    const child = fork(RELAY_PROCESS, [String(denyShare), String(edges)], {
      execArgv: prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`, '--cpu-prof-name=relay.cpuprofile'] : [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      child.on('message', (m: FromRelay) => {
        if (m.kind === 'ready') resolve(m.port);
      });
      child.once('exit', (code, signal) =>
        reject(new Error(`the fake Relay exited (${code ?? signal}) before it listened`)),
      );
      child.once('error', reject);
    });
    return new HubbleRelaySource(child, port);
  }

  private send(m: ToRelay): void {
    if (this.child.connected) this.child.send(m);
  }

  private status(): Promise<Extract<FromRelay, { kind: 'status' }>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (!this.child.connected) return reject(new Error('the fake Relay has exited'));
      this.pending.set(id, { resolve, reject });
      this.send({ kind: 'status', id });
    });
  }

  async connected(collector: Proc): Promise<boolean> {
    return logged(collector, 'Hubble nodes connected') && (await this.status()).followers > 0;
  }

  write(flows: number, nowMs: number, probe?: string): void {
    this.send({ kind: 'write', flows, nowMs, ...(probe ? { probe } : {}) });
  }

  async describeBacklog(): Promise<string> {
    const s = await this.status();
    return `${s.queued} flows queued in the Relay unsent, ${s.stalls} write stalls so far`;
  }

  /** Asks the Relay to stop; SIGKILL when it has not exited after 10 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = once(this.child, 'exit');
    this.send({ kind: 'stop' });
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(killer);
  }
}

/**
 * `denyShare`: the share of flows that are denies (a flood over the source's edges); `edges`: how
 * many edges the flows spread over.
 */
export async function startLoadSource(
  name: LoadSourceName,
  dir: string,
  denyShare = 0,
  edges = 100,
): Promise<LoadSource> {
  return name === 'calico-file'
    ? new CalicoFileSource(dir, denyShare, edges)
    : HubbleRelaySource.start(denyShare, edges);
}
