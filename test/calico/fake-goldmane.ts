import * as grpc from '@grpc/grpc-js';
import { loadGoldmanePackage } from '../../src/collector/calico/goldmane.collector.js';
import type { GoldmaneFlow } from '../../src/collector/calico/goldmane-flow.mapper.js';
import { seededRandom } from '../../src/common/prng.js';

/**
 * A real gRPC server implementing Goldmane's `goldmane.Flows` service (Stream and List) from the
 * project's proto/goldmane/api.proto. Flows live in `store`, which survives restart() (Goldmane
 * itself would lose them; keeping them lets the test check de-duplication on replay).
 * Like Goldmane, a replay sends buckets oldest first but the flows inside a bucket in an order
 * that differs from one stream to the next (Go map iteration); `shuffle = false` keeps push order.
 */
export class FakeGoldmane {
  readonly store: Array<{ id: number; flow: GoldmaneFlow }> = [];
  readonly streamRequests: Array<{ start_time_gte: number; aggregation_interval: number }> = [];
  private server?: grpc.Server;
  private readonly open = new Set<{ gte: number; call: grpc.ServerWritableStream<unknown, unknown> }>();
  port = 0;
  private nextId = 1;
  shuffle = true;
  private readonly random = seededRandom(7);

  constructor(private readonly creds: grpc.ServerCredentials) {}

  async start(port = 0): Promise<number> {
    const server = new grpc.Server();
    const { Flows } = loadGoldmanePackage();
    server.addService(Flows.service, {
      Stream: (call: grpc.ServerWritableStream<{ start_time_gte: number; aggregation_interval: number }, unknown>) => {
        const req = call.request;
        this.streamRequests.push({
          start_time_gte: req.start_time_gte,
          aggregation_interval: req.aggregation_interval,
        });
        const entry = { gte: req.start_time_gte, call: call as grpc.ServerWritableStream<unknown, unknown> };
        for (const f of this.replay(entry.gte)) call.write(f);
        this.open.add(entry);
        call.on('cancelled', () => this.open.delete(entry));
      },
      List: (
        call: grpc.ServerUnaryCall<{ start_time_gte: number; page: number; page_size: number }, unknown>,
        cb: grpc.sendUnaryData<unknown>,
      ) => {
        const { start_time_gte, page, page_size } = call.request;
        const all = this.store.filter((f) => Number(f.flow.start_time) >= start_time_gte);
        const size = page_size > 0 ? page_size : all.length || 1;
        cb(null, {
          meta: { totalPages: Math.ceil(all.length / size), totalResults: all.length },
          flows: all.slice(page * size, page * size + size),
        });
      },
    });
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, this.creds, (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.server = server;
    return this.port;
  }

  /** The stored flows from `gte`: by bucket, oldest first; within a bucket shuffled unless `shuffle` is off. */
  private replay(gte: number): Array<{ id: number; flow: GoldmaneFlow }> {
    const buckets = new Map<number, Array<{ id: number; flow: GoldmaneFlow }>>();
    for (const f of this.store) {
      const start = Number(f.flow.start_time);
      if (start < gte) continue;
      const b = buckets.get(start) ?? [];
      b.push(f);
      buckets.set(start, b);
    }
    const out: Array<{ id: number; flow: GoldmaneFlow }> = [];
    for (const start of [...buckets.keys()].sort((a, b) => a - b)) {
      const b = buckets.get(start)!;
      if (this.shuffle)
        for (let i = b.length - 1; i > 0; i--) {
          const j = Math.floor(this.random() * (i + 1));
          [b[i], b[j]] = [b[j], b[i]];
        }
      out.push(...b);
    }
    return out;
  }

  /** Streams currently open. */
  get openStreams(): number {
    return this.open.size;
  }

  /** Adds a flow and sends it to open streams. */
  push(flow: GoldmaneFlow): void {
    const f = { id: this.nextId++, flow };
    this.store.push(f);
    for (const o of this.open) if (Number(flow.start_time) >= o.gte) o.call.write(f);
  }

  /** Kills the server like a pod restart: open streams fail with UNAVAILABLE/CANCELLED. */
  async stop(): Promise<void> {
    this.open.clear();
    this.server?.forceShutdown();
    this.server = undefined;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start(this.port);
  }
}
