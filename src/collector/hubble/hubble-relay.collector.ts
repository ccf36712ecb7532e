/**
 * Follows Hubble Relay's GetFlows stream and publishes normalized flows to the FlowBus in
 * batches carrying a checkpoint `{stream: 'hubble:<addr>', position: <last flow time>}`.
 * Reconnects with capped exponential backoff and jitter, resumes with `since`, applies the
 * resume rule and the policy-drop de-duplication of docs/HUBBLE.md, and applies backpressure:
 * while a publish is pending and the buffer is full, the gRPC stream is paused (HTTP/2 flow
 * control then stops the server).
 */
import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { abortableSleep, backoffDelay } from '../../common/backoff.js';
import type { Clock } from '../../common/clock.js';
import { systemClock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { silentLogger } from '../../common/logger.js';
import type { DeadLetter, FlowBus } from '../../bus/flow-bus.js';
import { truncateRaw } from '../../bus/flow-bus.js';
import { CollectorHealth } from '../collector-health.js';
import type { CheckpointReader, Collector } from '../collector.js';
import { DropDeduplicator, type DropDedupOptions } from './hubble-drop.dedup.js';
import {
  formatTimestampNanos,
  mapGetFlowsResponse,
  parseTimestamp,
  timestampParts,
  type HubbleFlowRecord,
  type HubbleResponse,
  type HubbleMapperOptions,
} from './hubble-flow.mapper.js';
import { enumLabel, LOST_EVENT_SOURCE_NAMES, NODE_STATE_NAMES } from './hubble-enums.js';
import { hubbleMetrics, type HubbleMetrics } from './hubble-metrics.js';
import { loadObserverPackage } from './hubble-proto.js';
import { fullyDecoded, observerPackageWithFastFlows } from './hubble-flow.decoder.js';

export interface HubbleTlsOptions {
  /** CA bundle that signed Relay's certificate (HUBBLE_TLS_CA_FILE). */
  caFile?: string;
  /** Client certificate for mTLS (HUBBLE_TLS_CERT_FILE); needs keyFile. */
  certFile?: string;
  /** Client key for mTLS (HUBBLE_TLS_KEY_FILE); needs certFile. */
  keyFile?: string;
  /** Name to verify Relay's certificate against (HUBBLE_TLS_SERVER_NAME), e.g. `ui.hubble-relay.cilium.io`. */
  serverName?: string;
}

/** A flow.FlowFilter as protojson (proto field names, enum names), e.g. `{"verdict":["DROPPED"]}`. */
export type HubbleFlowFilter = Record<string, unknown>;

/**
 * Server-side whitelist: `policy` (default) = drops, audits and every policy-verdict event;
 * `drops` = verdicts DROPPED and AUDIT only; `all` = no filter; or raw FlowFilters.
 */
export type HubbleFilterSetting = 'policy' | 'drops' | 'all' | HubbleFlowFilter[];

export interface HubbleBackoffOptions {
  initialMs?: number;
  maxMs?: number;
  multiplier?: number;
  /** 0..1: each delay is randomized between (1 - jitter) and 1 times the delay (default 0.2). */
  jitter?: number;
}

export interface HubbleRelayCollectorOptions extends HubbleMapperOptions {
  /** host:port of Hubble Relay (HUBBLE_ADDR), e.g. `hubble-relay.kube-system.svc:80`. */
  addr: string;
  /** Plain when absent or empty; TLS when any field is set; mTLS when certFile and keyFile are set. */
  tls?: HubbleTlsOptions;
  filters?: HubbleFilterSetting;
  /** Server-side blacklist FlowFilters. */
  blacklist?: HubbleFlowFilter[];
  bus: FlowBus;
  checkpoints: CheckpointReader;
  registry?: Registry;
  logger?: Logger;
  clock?: Clock;
  /** Records per published batch (default 1000). */
  batchSize?: number;
  /** Publish a partial batch after this long (default 1000 ms). */
  batchIntervalMs?: number;
  /** Pause the gRPC stream when this many records wait for the bus (default 5000). */
  maxBufferedRecords?: number;
  backoff?: HubbleBackoffOptions;
  dedup?: DropDedupOptions | false;
  /** Without a checkpoint: `now` (default, live flows only) or an RFC 3339 time to read from. */
  startFrom?: string;
  /** Flows older than the checkpoint by more than this are treated as re-sent history (default 10 s). */
  staleToleranceMs?: number;
  /** Most flow ids remembered for the resume rule (default 100 000). */
  maxRememberedIds?: number;
  /** Give up publishing a batch after this many failures once stop() was called (default 3). */
  stopPublishAttempts?: number;
}

interface TimeParts {
  seconds: number;
  nanos: number;
}

interface Buffered {
  record: HubbleFlowRecord;
  t: TimeParts;
}

type GetFlowsCall = grpc.ClientReadableStream<unknown>;

interface ObserverClient extends grpc.Client {
  GetFlows(request: unknown, metadata?: grpc.Metadata, options?: grpc.CallOptions): GetFlowsCall;
  ServerStatus(
    request: unknown,
    callback: (err: grpc.ServiceError | null, res?: unknown) => void,
  ): grpc.ClientUnaryCall;
}

const PRESETS: Record<'policy' | 'drops', HubbleFlowFilter[]> = {
  drops: [{ verdict: ['DROPPED', 'AUDIT'] }],
  policy: [{ verdict: ['DROPPED', 'AUDIT'] }, { event_type: [{ type: 5 }] }],
};

function cmp(a: TimeParts, b: TimeParts): number {
  return a.seconds !== b.seconds ? a.seconds - b.seconds : a.nanos - b.nanos;
}

function minusOneNano(t: TimeParts): TimeParts {
  return t.nanos > 0 ? { seconds: t.seconds, nanos: t.nanos - 1 } : { seconds: t.seconds - 1, nanos: 999_999_999 };
}

function rawJson(msg: unknown): string {
  try {
    return JSON.stringify(msg) ?? String(msg);
  } catch {
    return String(msg);
  }
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Builds channel credentials and options from the TLS settings (files read here). */
export async function hubbleChannel(
  tls: HubbleTlsOptions | undefined,
): Promise<{ credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions }> {
  // Long-lived follow streams: keepalive detects a dead peer; 5 min is the lowest interval
  // grpc-go servers accept by default without answering "too many pings".
  const options: grpc.ChannelOptions = {
    'grpc.keepalive_time_ms': 300_000,
    'grpc.keepalive_timeout_ms': 20_000,
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
  };
  if (!tls || (!tls.caFile && !tls.certFile && !tls.keyFile && !tls.serverName)) {
    return { credentials: grpc.credentials.createInsecure(), options };
  }
  if (Boolean(tls.certFile) !== Boolean(tls.keyFile)) {
    throw new Error('Hubble mTLS needs both HUBBLE_TLS_CERT_FILE and HUBBLE_TLS_KEY_FILE (only one is set)');
  }
  const [ca, cert, key] = await Promise.all([
    tls.caFile ? readFile(tls.caFile) : undefined,
    tls.certFile ? readFile(tls.certFile) : undefined,
    tls.keyFile ? readFile(tls.keyFile) : undefined,
  ]);
  if (tls.serverName) {
    options['grpc.ssl_target_name_override'] = tls.serverName;
    options['grpc.default_authority'] = tls.serverName;
  }
  return { credentials: grpc.credentials.createSsl(ca ?? null, key ?? null, cert ?? null), options };
}

/**
 * Creates an Observer client from the project's proto/ (also used by tests and tooling).
 * `flows: 'fast'` decodes GetFlows flows with hubble-flow.decoder.ts: only what the mapper
 * reads (the collector's client); `full` (default) gives every field, as proto-loader does.
 */
export function createObserverClient(
  addr: string,
  credentials: grpc.ChannelCredentials,
  options: grpc.ChannelOptions,
  flows: 'full' | 'fast' = 'full',
): ObserverClient {
  const pkg = grpc.loadPackageDefinition(flows === 'fast' ? observerPackageWithFastFlows() : loadObserverPackage());
  const observer = pkg.observer;
  const ctor =
    typeof observer === 'object' && observer !== null && 'Observer' in observer ? observer.Observer : undefined;
  if (typeof ctor !== 'function')
    throw new Error('observer.Observer service missing from proto/observer/observer.proto');
  return new (ctor as grpc.ServiceClientConstructor)(addr, credentials, options) as unknown as ObserverClient;
}

export class HubbleRelayCollector implements Collector {
  readonly name: string;
  /** Checkpoint stream name: `hubble:<addr>`. */
  readonly stream: string;
  readonly health: CollectorHealth;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly metrics: HubbleMetrics;
  private readonly dedup?: DropDeduplicator;
  private readonly batchSize: number;
  private readonly batchIntervalMs: number;
  private readonly maxBuffered: number;
  private readonly staleToleranceNs: number;
  private readonly maxRemembered: number;

  private client?: ObserverClient;
  private call?: GetFlowsCall;
  private paused = false;
  private running = false;
  private stopping = false;
  private loop?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private abort = new AbortController();

  private buffer: Buffered[] = [];
  /** Messages that are not valid flows, published with the next batch (or alone at the next tick). */
  private dead: DeadLetter[] = [];
  private publishing?: Promise<void>;
  private readonly dedupOut: HubbleFlowRecord[] = [];
  /** Last published checkpoint (only moves forward). */
  private position?: TimeParts;
  /** ids of flows consumed (published or swallowed as duplicates) with time >= position. */
  private readonly remembered = new Map<string, TimeParts>();
  private received = 0;

  constructor(private readonly options: HubbleRelayCollectorOptions) {
    if (!options.addr) throw new Error('Hubble collector needs an address (HUBBLE_ADDR), e.g. hubble-relay:80');
    this.name = `hubble:${options.addr}`;
    this.stream = `hubble:${options.addr}`;
    this.log = (options.logger ?? silentLogger).child({ collector: 'hubble', addr: options.addr });
    this.clock = options.clock ?? systemClock;
    this.metrics = hubbleMetrics(options.registry);
    this.health = new CollectorHealth('hubble', this.log, options.registry);
    this.batchSize = Math.max(1, options.batchSize ?? 1000);
    this.batchIntervalMs = options.batchIntervalMs ?? 1000;
    this.maxBuffered = Math.max(this.batchSize, options.maxBufferedRecords ?? 5000);
    this.staleToleranceNs = (options.staleToleranceMs ?? 10_000) * 1e6;
    this.maxRemembered = options.maxRememberedIds ?? 100_000;
    if (options.dedup !== false) {
      this.dedup = new DropDeduplicator({
        ...options.dedup,
        clock: options.dedup?.clock ?? this.clock,
        onCollapse: (dropped) => {
          this.metrics.flowsSkipped.inc({ reason: 'duplicate' });
          const t = parseTimestamp(dropped.time);
          if (t) this.remember(dropped.id, t);
        },
      });
    }
  }

  /** Records received and waiting for the bus (bounded by maxBufferedRecords plus one batch). */
  get bufferedRecords(): number {
    return this.buffer.length;
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    const stored = await this.options.checkpoints.load(this.stream);
    if (stored !== undefined) {
      const t = parseTimestamp(stored);
      if (!t)
        throw new Error(
          `stored checkpoint for ${this.stream} is not an RFC 3339 time: ${JSON.stringify(stored.slice(0, 64))}`,
        );
      this.position = t;
    }
    const { credentials, options } = await hubbleChannel(this.options.tls);
    this.client = createObserverClient(this.options.addr, credentials, options, 'fast');
    this.running = true;
    this.stopping = false;
    this.abort = new AbortController();
    this.timer = setInterval(() => this.tick(), this.batchIntervalMs);
    this.timer.unref();
    this.log.info('starting Hubble collector', {
      since: this.position
        ? formatTimestampNanos(this.position.seconds, this.position.nanos)
        : (this.options.startFrom ?? 'now'),
      tls: Boolean(
        this.options.tls && (this.options.tls.caFile || this.options.tls.certFile || this.options.tls.serverName),
      ),
    });
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.abort.abort();
    this.call?.cancel();
    await this.loop;
    this.client?.close();
    this.running = false;
    this.log.info('Hubble collector stopped');
  }

  /** Asks Relay for its status (flows in the rings, connected nodes); for health checks and tooling. */
  serverStatus(timeoutMs = 5000): Promise<unknown> {
    const client = this.client;
    if (!client) return Promise.reject(new Error(`${this.name} is not started`));
    return new Promise((resolve, reject) => {
      client.ServerStatus({}, (err, res) => (err ? reject(err) : resolve(res)));
      setTimeout(() => reject(new Error('ServerStatus timed out')), timeoutMs).unref();
    });
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopping) {
      const before = this.received;
      const err = await this.streamOnce();
      this.metrics.connected.set(0);
      // Whatever was received is published before reconnecting, so `since` covers it.
      await this.drain(false);
      if (this.stopping) break;
      this.health.down(`Hubble stream ended: ${err ?? 'server ended the stream'}`);
      attempt = this.received > before ? 1 : attempt + 1;
      const delay = this.backoff(attempt);
      this.metrics.reconnects.inc({ collector: 'hubble' });
      this.log.warn('Hubble stream ended; reconnecting', {
        error: err,
        delayMs: Math.round(delay),
        since: this.position ? formatTimestampNanos(this.position.seconds, this.position.nanos) : undefined,
      });
      await this.sleep(delay);
    }
    await this.drain(true);
  }

  /** Opens one GetFlows stream and resolves with the error text (or undefined) when it ends. */
  private streamOnce(): Promise<string | undefined> {
    const client = this.client;
    if (!client) return Promise.resolve('no client');
    return new Promise((resolve) => {
      let call: GetFlowsCall;
      try {
        call = client.GetFlows(this.request());
      } catch (e) {
        resolve(errorMessage(e));
        return;
      }
      this.call = call;
      this.paused = false;
      let error: string | undefined;
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        if (this.call === call) this.call = undefined;
        resolve(error);
      };
      call.on('metadata', () => {
        this.metrics.connected.set(1);
        this.health.up();
      });
      call.on('data', (msg: unknown) => {
        if (this.call !== call) return;
        this.health.up();
        this.onMessage(msg, call);
      });
      call.on('error', (e: Error) => {
        error = errorMessage(e);
      });
      call.on('status', (s: grpc.StatusObject) => {
        if (s.code !== grpc.status.OK) error ??= `${grpc.status[s.code] ?? s.code}: ${s.details}`;
        else error ??= 'server ended the stream';
        finish();
      });
    });
  }

  private request(): Record<string, unknown> {
    const f = this.options.filters ?? 'policy';
    const whitelist = f === 'all' ? [] : typeof f === 'string' ? PRESETS[f] : f;
    let since: TimeParts | undefined = this.position;
    if (!since) {
      const from = this.options.startFrom;
      if (from && from !== 'now') {
        since = parseTimestamp(from);
        if (!since) throw new Error(`startFrom must be "now" or an RFC 3339 time, got ${JSON.stringify(from)}`);
      } else {
        const ms = this.clock.now();
        // `now` is fixed at the first connection: later reconnects resume from there
        since = { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
        this.position = since;
      }
    }
    return {
      follow: true,
      whitelist,
      blacklist: this.options.blacklist ?? [],
      since: { seconds: String(since.seconds), nanos: since.nanos },
    };
  }

  private onMessage(msg: unknown, call: GetFlowsCall): void {
    this.received++;
    const m = this.map(msg);
    if (!m) return;
    if (m.kind === 'lost_events') {
      this.metrics.lostEvents.inc({ source: enumLabel(m.source, LOST_EVENT_SOURCE_NAMES) }, m.numEventsLost);
      this.metrics.gaps.inc({ reason: 'lost_events' });
      this.log.warn('Hubble lost events: flows are missing from the stream', {
        source: m.source,
        lost: m.numEventsLost,
        node: m.nodeName,
      });
      return;
    }
    if (m.kind === 'node_status') {
      this.metrics.nodeStatus.inc({ state: enumLabel(m.state, NODE_STATE_NAMES) });
      if (m.state === 'NODE_CONNECTED') this.log.info('Hubble nodes connected', { nodes: m.nodeNames.length });
      else {
        this.metrics.gaps.inc({ reason: 'node_unavailable' });
        this.log.warn('Hubble nodes not streaming: their flows are missing until they return', {
          state: m.state,
          nodes: m.nodeNames,
          message: m.message,
        });
      }
      return;
    }
    this.metrics.flowsReceived.inc();
    const record = m.record;
    const flowObj = (msg as { flow?: { time?: unknown } }).flow;
    const t = timestampParts(flowObj?.time) ?? parseTimestamp(record.time);
    if (!t) return; // the mapper already refused flows without a time
    if (this.isResent(record.id, t)) return;

    const out = this.dedupOut;
    out.length = 0;
    if (this.dedup) this.dedup.push(record, m.timeMs, out);
    else out.push(record);
    for (const r of out) this.buffer.push({ record: r, t: r === record ? t : (parseTimestamp(r.time) ?? t) });
    if (this.buffer.length >= this.batchSize) this.kick(false);
    if (this.buffer.length >= this.maxBuffered && !this.paused) {
      this.paused = true;
      call.pause();
    }
  }

  /** One response mapped, or undefined when it went to dead letters. */
  private map(msg: unknown): HubbleResponse | undefined {
    try {
      return mapGetFlowsResponse(msg, this.options);
    } catch (e) {
      // Refused after the fast decoding: map every field's decoding, so the outcome is as before.
      const full = fullyDecoded(msg);
      if (full !== undefined) return this.map(full);
      this.metrics.flowsSkipped.inc({ reason: 'invalid' });
      this.log.debug('a Hubble message that is not a valid flow goes to dead letters', { error: errorMessage(e) });
      this.dead.push({
        raw: truncateRaw(rawJson(msg)),
        reason: errorMessage(e),
        origin: `${this.stream}:${this.received}`,
      });
      return undefined;
    }
  }

  /** The resume rule (docs/HUBBLE.md): true when this flow was already consumed. */
  private isResent(id: string, t: TimeParts): boolean {
    const p = this.position;
    if (this.remembered.has(id)) {
      this.metrics.flowsSkipped.inc({ reason: 'resent' });
      return true;
    }
    if (!p) return false;
    const c = cmp(t, p);
    if (c === 0) {
      // the checkpoint's own flow, re-sent by `since` after a restart (remembered set empty)
      this.metrics.flowsSkipped.inc({ reason: 'resent' });
      return true;
    }
    if (c < 0 && (p.seconds - t.seconds) * 1e9 + (p.nanos - t.nanos) > this.staleToleranceNs) {
      this.metrics.flowsSkipped.inc({ reason: 'stale' });
      this.metrics.gaps.inc({ reason: 'stale_flow' });
      return true;
    }
    return false;
  }

  private remember(id: string, t: TimeParts): void {
    if (!this.position || cmp(t, this.position) >= 0) this.remembered.set(id, t);
  }

  private tick(): void {
    if (this.dedup) {
      const out = this.dedupOut;
      out.length = 0;
      this.dedup.expireIdle(out);
      for (const r of out) {
        const t = parseTimestamp(r.time);
        if (t) this.buffer.push({ record: r, t });
      }
    }
    if (this.buffer.length > 0 || this.dead.length > 0) this.kick(true);
  }

  private kick(partial: boolean): void {
    if (this.publishing) return;
    if (this.buffer.length === 0 && !(partial && this.dead.length > 0)) return;
    if (!partial && this.buffer.length < this.batchSize) return;
    this.publishing = this.publishLoop(partial).finally(() => {
      this.publishing = undefined;
      // more may have arrived while publishing
      if (this.buffer.length >= this.batchSize && !this.stopping) this.kick(false);
    });
  }

  private async publishLoop(partial: boolean): Promise<void> {
    while (this.buffer.length >= this.batchSize || (partial && (this.buffer.length > 0 || this.dead.length > 0))) {
      const batch = this.buffer.splice(0, this.batchSize);
      const ok = await this.publishBatch(batch);
      if (!ok) {
        // stopping and the bus keeps failing: nothing is checkpointed past it, the server re-sends
        this.buffer.length = 0;
        return;
      }
      if (this.paused && this.buffer.length < this.maxBuffered / 2 && this.call) {
        this.paused = false;
        this.call.resume();
      }
    }
  }

  /** Publishes one batch (retrying with backoff), then advances the checkpoint. */
  private async publishBatch(batch: Buffered[]): Promise<boolean> {
    const dead = this.dead.splice(0);
    const deadLetters = dead.length > 0 ? dead : undefined;
    if (batch.length === 0) return this.publishDeadLetters(deadLetters);
    let max = this.position;
    for (const b of batch) if (!max || cmp(b.t, max) > 0) max = b.t;
    let next = max!;
    // Never checkpoint past a held drop: a restart from there would never see it again.
    const held = this.dedup?.oldestHeld();
    const heldT = held ? parseTimestamp(held.time) : undefined;
    if (heldT && cmp(heldT, next) <= 0) next = minusOneNano(heldT);
    if (this.position && cmp(next, this.position) < 0) next = this.position;

    const records: unknown[] = batch.map((b) => b.record);
    const position = formatTimestampNanos(next.seconds, next.nanos);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.options.bus.publish({ records, deadLetters, checkpoints: [{ stream: this.stream, position }] });
        break;
      } catch (e) {
        const giveUp = this.stopping && attempt >= (this.options.stopPublishAttempts ?? 3);
        this.log.error('publishing Hubble flows failed', {
          error: errorMessage(e),
          records: batch.length,
          attempt,
          giveUp,
        });
        if (giveUp) return false;
        await this.sleep(this.backoff(attempt), true);
      }
    }
    this.position = next;
    for (const b of batch) if (cmp(b.t, next) >= 0) this.remembered.set(b.record.id, b.t);
    this.prune();
    this.metrics.lastFlowTime.set(max!.seconds + max!.nanos / 1e9);
    return true;
  }

  /** Dead letters with no flow to travel with: published alone, retried like a batch. */
  private async publishDeadLetters(letters: DeadLetter[] | undefined): Promise<boolean> {
    if (!letters) return true;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.options.bus.publish({ records: [], deadLetters: letters });
        return true;
      } catch (e) {
        const giveUp = this.stopping && attempt >= (this.options.stopPublishAttempts ?? 3);
        this.log.error('publishing Hubble dead letters failed', { error: errorMessage(e), attempt, giveUp });
        if (giveUp) return false;
        await this.sleep(this.backoff(attempt), true);
      }
    }
  }

  private prune(): void {
    const p = this.position;
    if (!p) return;
    for (const [id, t] of this.remembered) if (cmp(t, p) < 0) this.remembered.delete(id);
    if (this.remembered.size > this.maxRemembered && this.dedup) {
      // A held drop pins the checkpoint while traffic flows: release it so the checkpoint moves.
      const out = this.dedup.flush();
      for (const r of out) {
        const t = parseTimestamp(r.time);
        if (t) this.buffer.push({ record: r, t });
      }
    }
  }

  /**
   * Publishes everything received. At a reconnect, held drops are discarded (the server re-sends
   * them: the checkpoint never passed them); at stop they are published.
   */
  private async drain(final: boolean): Promise<void> {
    if (this.publishing) await this.publishing;
    if (final && this.dedup) {
      for (const r of this.dedup.flush()) {
        const t = parseTimestamp(r.time);
        if (t) this.buffer.push({ record: r, t });
      }
    }
    while (this.buffer.length > 0) {
      this.publishing = this.publishLoop(true);
      await this.publishing;
      this.publishing = undefined;
    }
    // Only now: the checkpoints just published were still pinned below the held drops.
    if (!final) this.dedup?.discardHeld();
  }

  /** Delay before retry `attempt` (1-based): the shared schedule, jitter 0.2 unless configured. */
  private backoff(attempt: number): number {
    const b = this.options.backoff ?? {};
    return backoffDelay(attempt - 1, {
      initialMs: b.initialMs,
      maxMs: b.maxMs,
      multiplier: b.multiplier,
      jitter: b.jitter ?? 0.2,
    });
  }

  /** Sleeps, waking early on stop() unless `uninterruptible` (publish retries finish their wait). */
  private sleep(ms: number, uninterruptible = false): Promise<void> {
    if (this.stopping && !uninterruptible) return Promise.resolve();
    return abortableSleep(ms, uninterruptible ? undefined : this.abort.signal);
  }
}
