import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DeadLetter, FlowBus } from '../../bus/flow-bus.js';
import { truncateRaw } from '../../bus/flow-bus.js';
import type { Logger } from '../../common/logger.js';
import { silentLogger } from '../../common/logger.js';
import type { FlowRecord } from '../../flow/flow-record.js';
import type { CheckpointReader, Collector } from '../collector.js';
import { GoldmaneFlowMapper, type GoldmaneFlow } from './goldmane-flow.mapper.js';
import { WakeableSleep } from '../../common/wakeable-sleep.js';

/**
 * Follows Goldmane's `Flows.Stream` (Calico OSS >= 3.30) over gRPC with mTLS and publishes the
 * flows as FlowRecords with a checkpoint (stream `goldmane:<addr>`).
 *
 * Checkpoint position `v1:<startTime>:<id>,<id>,...`: the newest flow start time published and the
 * short ids of the flows already published with exactly that start time. On (re)connect the
 * stream is requested from that start time and those flows are dropped, so a reconnect or a
 * restart neither loses nor repeats flows Goldmane still holds (it keeps about an hour, in memory).
 * Past MAX_IDS_IN_CHECKPOINT flows in one bucket, the position moves to `<startTime + 1>:`.
 */

export interface GoldmaneTlsOptions {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  serverName?: string;
}

export interface GoldmaneCollectorOptions {
  /** `host:port` of Goldmane (in-cluster: goldmane.calico-system.svc:7443). */
  addr: string;
  /** Plain connection when no file is set; TLS with caFile; mTLS with certFile and keyFile. Read at each connect. */
  tls?: GoldmaneTlsOptions;
  bus: FlowBus;
  checkpoints: CheckpointReader;
  cluster?: string;
  registry?: Registry;
  logger?: Logger;
  /** Records per published batch (default 500). */
  batchSize?: number;
  /** A partial batch is published after this long (ms, default 1000). */
  flushIntervalMs?: number;
  /** Reconnect backoff: first delay and cap (ms, defaults 500 and 30000), with jitter. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** FlowStreamRequest.aggregation_interval (s, multiple of 15, default 15). */
  aggregationInterval?: number;
  /** start_time_gte without a checkpoint: 0 = the oldest Goldmane holds (default), <0 = relative. */
  initialStartTimeGte?: number;
  /** Jitter source (tests). */
  random?: () => number;
}

export const GOLDMANE_STREAM_PREFIX = 'goldmane:';
export const MAX_IDS_IN_CHECKPOINT = 1000;

/** proto-loader options shared with anything serving or reading the same proto. */
export const GOLDMANE_PROTO_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** `proto/goldmane/api.proto` from src/ (ts-jest, tsx) and from dist/src (compiled). */
export function goldmaneProtoPath(): string {
  for (const rel of ['../../../proto/goldmane/api.proto', '../../../../proto/goldmane/api.proto']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('proto/goldmane/api.proto not found next to the installation');
}

export interface GoldmanePackage {
  Flows: grpc.ServiceClientConstructor;
}

let loaded: GoldmanePackage | undefined;

/** The `goldmane` gRPC package loaded from the project's proto (cached). */
export function loadGoldmanePackage(): GoldmanePackage {
  if (!loaded) {
    const def = protoLoader.loadSync(goldmaneProtoPath(), GOLDMANE_PROTO_OPTIONS);
    const pkg = grpc.loadPackageDefinition(def).goldmane as unknown as GoldmanePackage | undefined;
    if (!pkg?.Flows) throw new Error('goldmane.Flows missing from proto/goldmane/api.proto');
    loaded = pkg;
  }
  return loaded;
}

export interface GoldmaneFlowResult {
  id?: number | string;
  flow?: GoldmaneFlow | null;
}

interface StreamClient extends grpc.Client {
  Stream(req: Record<string, unknown>): grpc.ClientReadableStream<GoldmaneFlowResult>;
}

interface Position {
  start: number;
  ids: Set<string>;
}

/** `v1:<start>:<id,id,...>`. */
export function parseGoldmanePosition(s: string | undefined): Position | undefined {
  if (!s) return undefined;
  const m = /^v1:(-?\d+):([0-9a-f,]*)$/.exec(s);
  if (!m) return undefined;
  return { start: Number(m[1]), ids: new Set(m[2] ? m[2].split(',') : []) };
}

function counter(
  registry: Registry | undefined,
  name: string,
  help: string,
  labelNames: string[] = [],
): Counter<string> {
  const existing = registry?.getSingleMetric(name);
  if (existing) return existing as Counter<string>;
  return new Counter({ name, help, labelNames, registers: registry ? [registry] : [] });
}

export class GoldmaneCollector implements Collector {
  readonly name = 'goldmane';
  readonly stream: string;
  private readonly log: Logger;
  private readonly mapper: GoldmaneFlowMapper;
  private readonly m: {
    flows: Counter<string>;
    skipped: Counter<string>;
    malformed: Counter<string>;
    reconnects: Counter<string>;
    connected: Gauge<string>;
  };
  private pos: Position = { start: 0, ids: new Set() };
  private records: FlowRecord[] = [];
  private dead: DeadLetter[] = [];
  private dirty = false;
  private chain: Promise<void> = Promise.resolve();
  private call?: grpc.ClientReadableStream<GoldmaneFlowResult>;
  private client?: grpc.Client;
  private loop?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private stopping = false;
  private killed = false;
  private readonly sleeper = new WakeableSleep();

  constructor(private readonly opts: GoldmaneCollectorOptions) {
    this.stream = `${GOLDMANE_STREAM_PREFIX}${opts.addr}`;
    this.log = (opts.logger ?? silentLogger).child({ collector: 'goldmane', addr: opts.addr });
    this.mapper = new GoldmaneFlowMapper({ cluster: opts.cluster });
    const r = opts.registry;
    const connected = r?.getSingleMetric('dropscope_goldmane_connected') as Gauge<string> | undefined;
    this.m = {
      flows: counter(r, 'dropscope_goldmane_flows_total', 'Flows received from Goldmane.'),
      skipped: counter(r, 'dropscope_goldmane_flows_skipped_total', 'Goldmane flows not published, by reason.', [
        'reason',
      ]),
      malformed: counter(
        r,
        'dropscope_goldmane_flows_malformed_total',
        'Goldmane flows that could not be mapped (dead letters).',
      ),
      reconnects: counter(
        r,
        'dropscope_goldmane_reconnects_total',
        'Goldmane stream (re)connection attempts after a failure or end.',
      ),
      connected:
        connected ??
        new Gauge({
          name: 'dropscope_goldmane_connected',
          help: '1 while the Goldmane stream is open.',
          registers: r ? [r] : [],
        }),
    };
  }

  async start(): Promise<void> {
    if (this.loop) throw new Error('collector already started');
    const saved = await this.opts.checkpoints.load(this.stream);
    const pos = parseGoldmanePosition(saved);
    if (saved !== undefined && !pos) this.log.warn('ignoring an unreadable checkpoint', { position: saved });
    if (pos) this.pos = pos;
    loadGoldmanePackage();
    this.timer = setInterval(() => void this.flush().catch(() => undefined), this.opts.flushIntervalMs ?? 1000);
    this.timer.unref();
    this.loop = this.run();
  }

  /** Closes the stream and publishes what was received. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.call?.cancel();
    this.sleeper.wake();
    await this.loop;
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }

  /** Simulates a crash: nothing more is published. */
  async kill(): Promise<void> {
    this.killed = true;
    this.stopping = true;
    this.call?.cancel();
    this.sleeper.wake();
    if (this.timer) clearInterval(this.timer);
    await this.loop;
  }

  private credentials(): { creds: grpc.ChannelCredentials; options: grpc.ChannelOptions } {
    const t = this.opts.tls ?? {};
    const options: grpc.ChannelOptions = {};
    if (t.serverName) {
      options['grpc.ssl_target_name_override'] = t.serverName;
      options['grpc.default_authority'] = t.serverName;
    }
    if (!t.caFile && !t.certFile && !t.keyFile) return { creds: grpc.credentials.createInsecure(), options };
    const ca = t.caFile ? readFileSync(t.caFile) : null;
    const key = t.keyFile ? readFileSync(t.keyFile) : null;
    const cert = t.certFile ? readFileSync(t.certFile) : null;
    return { creds: grpc.credentials.createSsl(ca, key, cert), options };
  }

  private backoff(attempt: number): number {
    const initial = this.opts.backoffInitialMs ?? 500;
    const max = this.opts.backoffMaxMs ?? 30_000;
    const base = Math.min(max, initial * 2 ** Math.min(attempt, 30));
    return Math.round(base / 2 + (base / 2) * (this.opts.random ?? Math.random)());
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopping) {
      let received = false;
      try {
        const { creds, options } = this.credentials();
        const Flows = loadGoldmanePackage().Flows;
        const client = new Flows(this.opts.addr, creds, options) as unknown as StreamClient;
        this.client = client;
        const call = client.Stream({
          start_time_gte: this.pos.start > 0 ? this.pos.start : (this.opts.initialStartTimeGte ?? 0),
          aggregation_interval: this.opts.aggregationInterval ?? 15,
        });
        this.call = call;
        if (this.stopping) call.cancel();
        for await (const res of call as AsyncIterable<GoldmaneFlowResult>) {
          if (!received) {
            received = true;
            attempt = 0;
            this.m.connected.set(1);
            this.log.info('Goldmane stream open', { startTimeGte: this.pos.start });
          }
          this.accept(res);
          if (this.records.length >= (this.opts.batchSize ?? 500)) await this.flush();
          if (this.killed) break;
        }
        if (!this.stopping) this.log.warn('Goldmane ended the stream; reconnecting');
      } catch (e) {
        if (!this.stopping)
          this.log.warn('Goldmane stream failed; reconnecting', { error: e instanceof Error ? e.message : String(e) });
      } finally {
        this.m.connected.set(0);
        this.call = undefined;
        this.client?.close();
        this.client = undefined;
      }
      if (this.killed) return;
      await this.flush().catch(() => undefined);
      if (this.stopping) return;
      this.m.reconnects.inc();
      await this.sleep(this.backoff(attempt++));
    }
  }

  private sleep(ms: number): Promise<void> {
    return this.sleeper.sleep(ms);
  }

  /** Maps one result, dropping flows the checkpoint says were published. */
  private accept(res: GoldmaneFlowResult): void {
    this.m.flows.inc();
    const flow = res.flow;
    let json: string;
    try {
      json = JSON.stringify(flow ?? null);
    } catch {
      json = String(flow);
    }
    const start = typeof flow?.start_time === 'number' ? flow.start_time : Number(flow?.start_time ?? 0);
    const shortId = createHash('sha1').update(json).digest('hex').slice(0, 16);
    if (start < this.pos.start || (start === this.pos.start && this.pos.ids.has(shortId))) {
      this.m.skipped.inc({ reason: 'already-published' });
      return;
    }
    if (start > this.pos.start) this.pos = { start, ids: new Set() };
    if (start === this.pos.start) {
      if (this.pos.ids.size < MAX_IDS_IN_CHECKPOINT) this.pos.ids.add(shortId);
      else this.pos = { start: start + 1, ids: new Set() };
    }
    this.dirty = true;
    try {
      if (!flow) throw new Error('FlowResult without a flow');
      const out = this.mapper.map(flow);
      if (out.record) this.records.push(out.record);
      else this.m.skipped.inc({ reason: out.skipped });
    } catch (e) {
      this.m.malformed.inc();
      this.dead.push({
        raw: truncateRaw(json),
        reason: e instanceof Error ? e.message : String(e),
        origin: `${this.stream}:${start}`,
      });
    }
  }

  private position(): string {
    return `v1:${this.pos.start}:${[...this.pos.ids].join(',')}`;
  }

  /** Publishes the pending batch with the current position; serialized; retries until stopped. */
  private flush(): Promise<void> {
    this.chain = this.chain.then(async () => {
      if (this.killed || !this.dirty) return;
      const records = this.records;
      const dead = this.dead;
      const position = this.position();
      this.records = [];
      this.dead = [];
      this.dirty = false;
      let delay = this.opts.backoffInitialMs ?? 500;
      for (;;) {
        if (this.killed) return;
        try {
          if (dead.length > 0) await this.opts.bus.publishDeadLetters(dead.splice(0));
          await this.opts.bus.publish({ records, checkpoints: [{ stream: this.stream, position }] });
          return;
        } catch (e) {
          this.log.warn('publishing Goldmane flows failed; retrying', { error: String(e) });
          if (this.stopping) return;
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, this.opts.backoffMaxMs ?? 30_000);
        }
      }
    });
    return this.chain;
  }
}
