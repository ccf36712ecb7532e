/**
 * A fake Hubble Relay (for tests and `dropscope demo`): a real @grpc/grpc-js server implementing
 * observer.Observer from the project's proto/, on 127.0.0.1. Streams a time-ordered history (fixture lines, generated
 * flows) honouring `since`, `follow` and verdict/event_type whitelists, pushes flows added later
 * to followers, emits lost_events / node_status, respects HTTP/2 flow control (waits for
 * 'drain'), can be killed mid-stream and restarted on the same port, plain or TLS/mTLS.
 */
import * as grpc from '@grpc/grpc-js';
import { loadObserverPackage } from '../collector/hubble/hubble-proto.js';
import { protojsonToProtoObject } from '../collector/hubble/hubble-protojson.js';
import { parseTimestamp, timestampParts } from '../collector/hubble/hubble-flow.mapper.js';

export interface FakeRelayTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  /** mTLS: reject clients without a certificate signed by `ca`. */
  requireClientCert: boolean;
}

export interface FakeRelayOptions {
  tls?: FakeRelayTls;
  /** Yield to the event loop every N messages, so a kill can land mid-stream (default 50). */
  chunk?: number;
  /** Pause this long after each chunk (default 0). */
  chunkDelayMs?: number;
  /** Keep at most this many flows for replay, oldest dropped first (default: all; the demo runs for hours). */
  maxHistory?: number;
}

/** A flow response encoded by the caller (see addEncoded). */
export interface EncodedFlow {
  /** GetFlowsResponse bytes. */
  bytes: Buffer;
  seconds: number;
  nanos: number;
  /** Flow.verdict and Flow.event_type.type, for the whitelist filters. */
  verdict: string;
  eventType: number;
}

interface Item {
  json: Record<string, unknown>;
  proto: unknown;
  seconds: number;
  nanos: number;
}

interface Follower {
  call: grpc.ServerWritableStream<Record<string, unknown>, unknown>;
  filters: unknown[];
  /**
   * Messages to send, queue[head] next. Taken by index, not shift(): V8's shift() copies the
   * whole array once it holds tens of thousands, so a backlog made every send slower and the
   * fake Relay fell further behind the more it held (under `npm run load`, from 8,000 flows/s).
   */
  queue: unknown[];
  head: number;
  flushing: boolean;
}

function queuedOf(f: Follower): number {
  return f.queue.length - f.head;
}

/** Takes the next message; drops the sent part of the array once it is half the array. */
function takeNext(f: Follower): unknown {
  const m = f.queue[f.head];
  f.queue[f.head++] = undefined;
  if (f.head === f.queue.length) {
    f.queue = [];
    f.head = 0;
  } else if (f.head >= 1024 && f.head * 2 >= f.queue.length) {
    f.queue = f.queue.slice(f.head);
    f.head = 0;
  }
  return m;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** verdict and event_type only: enough for the collector's presets. */
function matches(filters: unknown[], flow: Record<string, unknown>): boolean {
  if (filters.length === 0) return true;
  return filters.some((f) => {
    const ff = obj(f) ?? {};
    const verdicts = Array.isArray(ff.verdict) ? ff.verdict : undefined;
    const types = Array.isArray(ff.event_type) ? ff.event_type : undefined;
    if (verdicts && verdicts.length > 0 && !verdicts.includes(flow.verdict)) return false;
    if (types && types.length > 0) {
      const et = obj(flow.event_type);
      if (!types.some((t) => obj(t)?.type === et?.type)) return false;
    }
    return true;
  });
}

export class FakeHubbleRelay {
  /** Every GetFlows request received, as decoded. */
  readonly requests: Array<Record<string, unknown>> = [];
  port = 0;
  /** Times a write hit HTTP/2 flow control (the client stopped reading). */
  stalls = 0;
  /** Flow messages written to the stream of each request (same index as `requests`). */
  readonly flowsWritten: number[] = [];
  private readonly requestOf = new WeakMap<object, number>();
  private replaying = 0;
  private readonly history: Item[] = [];
  private readonly followers = new Set<Follower>();
  private server?: grpc.Server;

  constructor(private readonly options: FakeRelayOptions = {}) {}

  /** Adds GetFlowsResponse lines (protojson objects) to the history and sends flows to followers. */
  add(responses: Iterable<Record<string, unknown>>): void {
    const added: Item[] = [];
    for (const json of responses) {
      const flow = obj(json.flow);
      if (!flow) throw new Error('FakeHubbleRelay.add takes flow responses; use emit() for notices');
      const t = typeof flow.time === 'string' ? parseTimestamp(flow.time) : undefined;
      if (!t) throw new Error('flow without time');
      added.push({ json, proto: protojsonToProtoObject(json), ...t });
    }
    this.addItems(added);
  }

  /**
   * Adds flow responses already encoded (GetFlowsResponse bytes, sent as they are), with what
   * the whitelist filters look at; for load generators, where encoding each flow costs more
   * CPU than the collector spends on it.
   */
  addEncoded(flows: Iterable<EncodedFlow>): void {
    const added: Item[] = [];
    for (const f of flows)
      added.push({
        json: { flow: { verdict: f.verdict, event_type: { type: f.eventType } } },
        proto: f.bytes,
        seconds: f.seconds,
        nanos: f.nanos,
      });
    this.addItems(added);
  }

  private addItems(added: Item[]): void {
    added.sort((a, b) => a.seconds - b.seconds || a.nanos - b.nanos);
    for (const it of added) this.history.push(it);
    const max = this.options.maxHistory;
    if (max !== undefined && this.history.length > max) this.history.splice(0, this.history.length - max);
    for (const f of this.followers) {
      for (const it of added) if (matches(f.filters, obj(it.json.flow) ?? {})) f.queue.push(it.proto);
      void this.flush(f);
    }
  }

  /** Sends a non-flow response (lost_events, node_status) to every follower now. */
  emit(response: Record<string, unknown>): void {
    const proto = protojsonToProtoObject(response);
    for (const f of this.followers) {
      f.queue.push(proto);
      void this.flush(f);
    }
  }

  /** Nothing is being written: no history replay running, every follower's queue empty. */
  get idle(): boolean {
    if (this.replaying > 0) return false;
    for (const f of this.followers) if (queuedOf(f) > 0 || f.flushing) return false;
    return true;
  }

  /** Messages waiting in the followers' queues, not yet written to their streams. */
  get queued(): number {
    let n = 0;
    for (const f of this.followers) n += queuedOf(f);
    return n;
  }

  get followerCount(): number {
    return this.followers.size;
  }

  async start(port = this.port): Promise<number> {
    const server = new grpc.Server();
    const pkg = grpc.loadPackageDefinition(loadObserverPackage());
    const observer = pkg.observer as grpc.GrpcObject;
    const service = (observer.Observer as grpc.ServiceClientConstructor).service;
    // Flows given to addEncoded are sent as they are.
    const getFlows = service.GetFlows;
    const passEncoded: grpc.ServiceDefinition = {
      ...service,
      GetFlows: {
        ...getFlows,
        responseSerialize: (v: unknown) => (Buffer.isBuffer(v) ? v : getFlows.responseSerialize(v)),
      },
    };
    server.addService(passEncoded, {
      GetFlows: (call: grpc.ServerWritableStream<Record<string, unknown>, unknown>) => void this.getFlows(call),
      ServerStatus: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) =>
        cb(null, {
          num_flows: String(this.history.length),
          max_flows: '65535',
          seen_flows: String(this.history.length),
          uptime_ns: '1000000000',
          num_connected_nodes: { value: 1 },
          num_unavailable_nodes: { value: 0 },
          version: 'fake-hubble-relay',
        }),
      GetNodes: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) =>
        cb(null, { nodes: [] }),
      GetNamespaces: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) =>
        cb(null, { namespaces: [] }),
    });
    const tls = this.options.tls;
    const creds = tls
      ? grpc.ServerCredentials.createSsl(
          tls.ca,
          [{ cert_chain: tls.cert, private_key: tls.key }],
          tls.requireClientCert,
        )
      : grpc.ServerCredentials.createInsecure();
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, creds, (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.server = server;
    return this.port;
  }

  /** Drops every connection at once, like a crashed Relay pod. */
  kill(): void {
    this.server?.forceShutdown();
    this.server = undefined;
    this.followers.clear();
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    this.followers.clear();
    if (s) await new Promise<void>((resolve) => s.tryShutdown(() => resolve()));
  }

  private async write(
    call: grpc.ServerWritableStream<Record<string, unknown>, unknown>,
    msg: unknown,
  ): Promise<boolean> {
    if (call.cancelled || call.destroyed) return false;
    const idx = this.requestOf.get(call);
    if (idx !== undefined && obj(msg)?.flow !== undefined) this.flowsWritten[idx]++;
    if (!call.write(msg)) {
      this.stalls++;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          call.off('drain', done);
          call.off('close', done);
          call.off('cancelled', done);
          resolve();
        };
        call.on('drain', done);
        call.on('close', done);
        call.on('cancelled', done);
      });
    }
    return !call.cancelled && !call.destroyed;
  }

  private async flush(f: Follower): Promise<void> {
    if (f.flushing) return;
    f.flushing = true;
    try {
      while (queuedOf(f) > 0) {
        const m = takeNext(f);
        if (!(await this.write(f.call, m))) return;
      }
    } finally {
      f.flushing = false;
    }
  }

  private async getFlows(call: grpc.ServerWritableStream<Record<string, unknown>, unknown>): Promise<void> {
    this.replaying++;
    try {
      await this.replay(call);
    } finally {
      this.replaying--;
    }
  }

  private async replay(call: grpc.ServerWritableStream<Record<string, unknown>, unknown>): Promise<void> {
    const req = call.request;
    this.requestOf.set(call, this.requests.length);
    this.flowsWritten.push(0);
    this.requests.push(req);
    const since = timestampParts(req.since);
    const filters = Array.isArray(req.whitelist) ? req.whitelist : [];
    const chunk = this.options.chunk ?? 50;
    call.on('error', () => undefined);
    // Relay opens every stream with the list of connected nodes.
    if (
      !(await this.write(call, {
        node_status: { state_change: 'NODE_CONNECTED', node_names: ['fake/node-0'] },
        time: { seconds: '0', nanos: 0 },
      }))
    )
      return;
    let sent = 0;
    for (let i = 0; i < this.history.length; i++) {
      const it = this.history[i];
      if (since && (it.seconds < since.seconds || (it.seconds === since.seconds && it.nanos < since.nanos))) continue;
      if (!matches(filters, obj(it.json.flow) ?? {})) continue;
      if (!(await this.write(call, it.proto))) return;
      if (++sent % chunk === 0) {
        await new Promise((r) => setTimeout(r, this.options.chunkDelayMs ?? 0));
        if (call.cancelled || call.destroyed || !this.server) return;
      }
    }
    if (!req.follow) {
      call.end();
      return;
    }
    const f: Follower = { call, filters, queue: [], head: 0, flushing: false };
    this.followers.add(f);
    call.on('cancelled', () => this.followers.delete(f));
    call.on('close', () => this.followers.delete(f));
  }
}
