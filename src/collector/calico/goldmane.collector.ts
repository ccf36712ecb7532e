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
import { Backoff } from '../../common/backoff.js';
import { metric } from '../../metrics/metrics.registry.js';
import { CollectorHealth } from '../collector-health.js';

/**
 * Follows Goldmane's `Flows.Stream` (Calico OSS >= 3.30) over gRPC with mTLS and publishes the
 * flows as FlowRecords with a checkpoint (stream `goldmane:<addr>`).
 *
 * Checkpoint position `v2:<startTime>`: every flow whose start time is at most that was published.
 * Goldmane sends a 15-second bucket as one burst, buckets in time order, but the flows inside a
 * bucket in Go map order, which differs from one stream to the next. So no prefix, count or
 * bounded digest of a partly published bucket can say which flows the next stream must skip.
 * The collector therefore holds the newest (open) bucket and publishes it whole, in one batch
 * with its position, once it is complete: a flow of a later bucket arrived, or the stream was
 * quiet for `bucketSettleMs` after it. A reconnect or restart asks for `start_time_gte =
 * <startTime>` and drops flows at or before it; an open bucket lost with the stream is sent again
 * in full. The checkpoint has a fixed size however large a bucket is.
 * Older `v1:<startTime>:<id>,...` positions are still read (those ids are skipped once).
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
  /** How often the open bucket is checked for completeness (ms, default 500). */
  flushIntervalMs?: number;
  /** Reconnect backoff: first delay and cap (ms, defaults 500 and 30000), with jitter. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** FlowStreamRequest.aggregation_interval (s, multiple of 15, default 15). */
  aggregationInterval?: number;
  /** start_time_gte without a checkpoint: 0 = the oldest Goldmane holds (default), <0 = relative. */
  initialStartTimeGte?: number;
  /** The open bucket is complete after this long without a flow (ms, default 2000). */
  bucketSettleMs?: number;
  /** Give up publishing a batch after this many failures once stop() was called (default 3). */
  stopPublishAttempts?: number;
  /** Jitter source (tests). */
  random?: () => number;
}

export const GOLDMANE_STREAM_PREFIX = 'goldmane:';

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

export interface GoldmanePosition {
  /** Every flow with a start time at most this was published. */
  start: number;
  /** Read from a v1 position: ids of flows with that start time that were already published. */
  legacy?: { start: number; ids: Set<string> };
}

/** `v2:<start>`, or the older `v1:<start>:<id,id,...>` (flows before start, and those ids at start). */
export function parseGoldmanePosition(s: string | undefined): GoldmanePosition | undefined {
  if (!s) return undefined;
  const v2 = /^v2:(-?\d+)$/.exec(s);
  if (v2) return { start: Number(v2[1]) };
  const m = /^v1:(-?\d+):([0-9a-f,]*)$/.exec(s);
  if (!m) return undefined;
  const start = Number(m[1]);
  return { start: start - 1, legacy: { start, ids: new Set(m[2] ? m[2].split(',') : []) } };
}

export function formatGoldmanePosition(start: number): string {
  return `v2:${start}`;
}

/** The newest bucket, received but not yet published. */
interface OpenBucket {
  start: number;
  records: FlowRecord[];
  dead: DeadLetter[];
  flows: number;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class GoldmaneCollector implements Collector {
  readonly name = 'goldmane';
  readonly stream: string;
  readonly health: CollectorHealth;
  private readonly log: Logger;
  private readonly mapper: GoldmaneFlowMapper;
  private readonly settleMs: number;
  private readonly m: {
    flows: Counter<string>;
    skipped: Counter<string>;
    malformed: Counter<string>;
    reconnects: Counter<string>;
    publishErrors: Counter<string>;
    connected: Gauge<string>;
  };
  /** Start time of the newest bucket published (undefined: none yet). */
  private done?: number;
  /** Start time of the newest bucket closed (published or being published). */
  private closedUpTo?: number;
  /** Newest bucket closed during the current stream: a flow at or before it came late. */
  private closedThisStream?: number;
  private legacy?: { start: number; ids: Set<string> };
  private open?: OpenBucket;
  private lastFlowAt = 0;
  /** The stream loop is waiting on a publish: the quiet time is ours, not Goldmane's. */
  private busy = false;
  private publishFailing = false;
  private chain: Promise<void> = Promise.resolve();
  private call?: grpc.ClientReadableStream<GoldmaneFlowResult>;
  private loop?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private stopping = false;
  private killed = false;
  private readonly abort = new AbortController();

  constructor(private readonly opts: GoldmaneCollectorOptions) {
    this.stream = `${GOLDMANE_STREAM_PREFIX}${opts.addr}`;
    this.log = (opts.logger ?? silentLogger).child({ collector: 'goldmane', addr: opts.addr });
    this.health = new CollectorHealth('goldmane', this.log, opts.registry);
    this.mapper = new GoldmaneFlowMapper({ cluster: opts.cluster });
    this.settleMs = opts.bucketSettleMs ?? 2000;
    const r = opts.registry;
    const registers = r ? [r] : [];
    const get = <T extends Counter<string> | Gauge<string>>(name: string, make: () => T): T =>
      r ? metric(r, name, make) : make();
    const counter = (name: string, help: string, labelNames: string[] = []): Counter<string> =>
      get(name, () => new Counter({ name, help, labelNames, registers }));
    this.m = {
      flows: counter('dropscope_goldmane_flows_total', 'Flows received from Goldmane.'),
      skipped: counter('dropscope_goldmane_flows_skipped_total', 'Goldmane flows not published, by reason.', [
        'reason',
      ]),
      malformed: counter(
        'dropscope_goldmane_flows_malformed_total',
        'Goldmane flows that could not be mapped (dead letters).',
      ),
      reconnects: counter(
        'dropscope_goldmane_reconnects_total',
        'Goldmane stream (re)connection attempts after a failure or end.',
      ),
      publishErrors: counter(
        'dropscope_goldmane_publish_errors_total',
        'Failed attempts to publish a Goldmane bucket to the bus (each is retried).',
      ),
      connected: get(
        'dropscope_goldmane_connected',
        () =>
          new Gauge({ name: 'dropscope_goldmane_connected', help: '1 while the Goldmane stream is open.', registers }),
      ),
    };
  }

  async start(): Promise<void> {
    if (this.loop) throw new Error('collector already started');
    const saved = await this.opts.checkpoints.load(this.stream);
    const pos = parseGoldmanePosition(saved);
    if (saved !== undefined && !pos) this.log.warn('ignoring an unreadable checkpoint', { position: saved });
    if (pos) {
      this.done = pos.start;
      this.closedUpTo = pos.start;
      this.legacy = pos.legacy;
    }
    loadGoldmanePackage();
    const tick = Math.max(10, Math.min(this.opts.flushIntervalMs ?? 500, this.settleMs));
    this.timer = setInterval(() => this.settle(), tick);
    this.timer.unref();
    this.loop = this.run();
  }

  /** Closes the stream and publishes the complete buckets; an open one is sent again on the next start. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    this.call?.cancel();
    await this.loop;
    if (this.timer) clearInterval(this.timer);
    await this.chain;
  }

  /** Simulates a crash: nothing more is published. */
  async kill(): Promise<void> {
    this.killed = true;
    this.stopping = true;
    this.abort.abort();
    this.call?.cancel();
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

  private async run(): Promise<void> {
    const backoff = new Backoff(
      { initialMs: this.opts.backoffInitialMs, maxMs: this.opts.backoffMaxMs, random: this.opts.random },
      this.abort.signal,
    );
    while (!this.stopping) {
      let client: StreamClient | undefined;
      let cause = 'Goldmane ended the stream';
      this.closedThisStream = undefined;
      try {
        const { creds, options } = this.credentials();
        const Flows = loadGoldmanePackage().Flows;
        client = new Flows(this.opts.addr, creds, options) as unknown as StreamClient;
        const startTimeGte = this.done ?? this.opts.initialStartTimeGte ?? 0;
        const call = client.Stream({
          start_time_gte: startTimeGte,
          aggregation_interval: this.opts.aggregationInterval ?? 15,
        });
        this.call = call;
        if (this.stopping) call.cancel();
        let received = false;
        // Goldmane may send no header until it has a flow: the connected channel is what says "up".
        this.onReady(client, call);
        for await (const res of call as AsyncIterable<GoldmaneFlowResult>) {
          if (!received) {
            received = true;
            backoff.reset();
            this.connected();
            this.log.info('Goldmane stream open', { startTimeGte });
          }
          const closed = this.accept(res);
          if (closed) {
            // Backpressure: the next flows wait until the bus has taken this bucket.
            this.busy = true;
            await closed;
            this.busy = false;
            this.lastFlowAt = Date.now();
          }
          if (this.killed) break;
        }
      } catch (e) {
        cause = `Goldmane stream failed: ${errorMessage(e)}`;
      } finally {
        this.busy = false;
        this.m.connected.set(0);
        this.call = undefined;
        client?.close();
      }
      if (this.killed) return;
      // Goldmane sends a bucket cut short by the stream's end again in full on the next stream.
      this.open = undefined;
      await this.chain;
      this.closedUpTo = this.done;
      if (this.stopping) return;
      this.health.down(cause);
      this.m.reconnects.inc();
      await backoff.next();
    }
  }

  /** Marks the collector up once the channel is connected, even before Goldmane sends a flow. */
  private onReady(client: StreamClient, call: grpc.ClientReadableStream<GoldmaneFlowResult>): void {
    client.waitForReady(Infinity, (err) => {
      if (!err && this.call === call) this.connected();
    });
  }

  private connected(): void {
    this.m.connected.set(1);
    this.health.up();
  }

  /** Closes the open bucket when Goldmane has been quiet for settleMs (it sends a bucket as one burst). */
  private settle(): void {
    if (this.busy || !this.open || Date.now() - this.lastFlowAt < this.settleMs) return;
    void this.closeOpen();
  }

  private closeOpen(): Promise<void> {
    const b = this.open;
    if (!b) return this.chain;
    this.open = undefined;
    this.closedUpTo = Math.max(this.closedUpTo ?? b.start, b.start);
    this.closedThisStream = this.closedUpTo;
    this.chain = this.chain.then(() => this.publishBucket(b));
    return this.chain;
  }

  /**
   * Maps one result into the open bucket, dropping flows the checkpoint covers. Returns the
   * publish of the previous bucket when this flow opened a newer one.
   */
  private accept(res: GoldmaneFlowResult): Promise<void> | undefined {
    this.m.flows.inc();
    const flow = res.flow;
    let json: string;
    try {
      json = JSON.stringify(flow ?? null);
    } catch {
      json = String(flow);
    }
    const start = typeof flow?.start_time === 'number' ? flow.start_time : Number(flow?.start_time ?? 0);
    if (this.closedUpTo !== undefined && start <= this.closedUpTo) {
      const late =
        this.closedThisStream !== undefined && start <= this.closedThisStream && start > (this.done ?? -Infinity);
      this.m.skipped.inc({ reason: late ? 'late' : 'already-published' });
      if (late) this.log.warn('a Goldmane flow arrived after its bucket was published; it is not counted', { start });
      return undefined;
    }
    const legacy = this.legacy;
    if (legacy && start === legacy.start) {
      const shortId = createHash('sha1').update(json).digest('hex').slice(0, 16);
      if (legacy.ids.has(shortId)) {
        this.m.skipped.inc({ reason: 'already-published' });
        return undefined;
      }
    }
    let closed: Promise<void> | undefined;
    if (this.open && start > this.open.start) closed = this.closeOpen();
    // A flow older than the open bucket (not expected from Goldmane) is still unpublished: it goes
    // out with the open bucket, whose position covers it.
    this.open ??= { start, records: [], dead: [], flows: 0 };
    const bucket = this.open;
    bucket.flows++;
    this.lastFlowAt = Date.now();
    try {
      if (!flow) throw new Error('FlowResult without a flow');
      const out = this.mapper.map(flow);
      if (out.record) bucket.records.push(out.record);
      else this.m.skipped.inc({ reason: out.skipped });
    } catch (e) {
      this.m.malformed.inc();
      bucket.dead.push({ raw: truncateRaw(json), reason: errorMessage(e), origin: `${this.stream}:${start}` });
    }
    return closed;
  }

  /**
   * Publishes one whole bucket with its position, in one batch (a crash stores all of it or none).
   * Retries with backoff; once stop() was called, gives up after stopPublishAttempts and leaves
   * the checkpoint where it was, so the next start asks Goldmane for the bucket again.
   */
  private async publishBucket(b: OpenBucket): Promise<void> {
    const position = formatGoldmanePosition(b.start);
    const backoff = new Backoff({
      initialMs: this.opts.backoffInitialMs,
      maxMs: this.opts.backoffMaxMs,
      random: this.opts.random,
    });
    for (let attempt = 1; ; attempt++) {
      if (this.killed) return;
      try {
        await this.opts.bus.publish({
          records: b.records,
          deadLetters: b.dead.length > 0 ? b.dead : undefined,
          checkpoints: [{ stream: this.stream, position }],
        });
        if (this.publishFailing) this.log.info('publishing Goldmane flows works again', { start: b.start });
        this.publishFailing = false;
        this.done = b.start;
        if (this.legacy && b.start >= this.legacy.start) this.legacy = undefined;
        return;
      } catch (e) {
        this.m.publishErrors.inc();
        const giveUp = this.stopping && attempt >= (this.opts.stopPublishAttempts ?? 3);
        if (giveUp) {
          this.log.error('publishing Goldmane flows failed at shutdown; Goldmane sends them again on the next start', {
            error: errorMessage(e),
            start: b.start,
            flows: b.flows,
          });
          return;
        }
        if (!this.publishFailing)
          this.log.warn('publishing Goldmane flows failed; retrying', { error: errorMessage(e), start: b.start });
        this.publishFailing = true;
        await backoff.next();
      }
    }
  }
}
