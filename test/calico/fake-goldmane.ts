import * as grpc from '@grpc/grpc-js';
import { loadGoldmanePackage } from '../../src/collector/calico/goldmane.collector.js';
import type { GoldmaneFlow } from '../../src/collector/calico/goldmane-flow.mapper.js';

/**
 * A real gRPC server implementing Goldmane's `goldmane.Flows` service (Stream and List) from the
 * project's proto/goldmane/api.proto. Flows live in `store`, which survives restart() (Goldmane
 * itself would lose them; keeping them lets the test check de-duplication on replay).
 */
export class FakeGoldmane {
  readonly store: Array<{ id: number; flow: GoldmaneFlow }> = [];
  readonly streamRequests: Array<{ start_time_gte: number; aggregation_interval: number }> = [];
  private server?: grpc.Server;
  private readonly open = new Set<{ gte: number; call: grpc.ServerWritableStream<unknown, unknown> }>();
  port = 0;
  private nextId = 1;

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
        for (const f of this.store) if (Number(f.flow.start_time) >= entry.gte) call.write(f);
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
