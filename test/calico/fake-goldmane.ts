import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

/** A throwaway CA, a server cert for `goldmane.calico-system.svc` and a client cert, via openssl. */
export function makeCerts(dir: string): {
  caFile: string;
  serverCert: Buffer;
  serverKey: Buffer;
  ca: Buffer;
  clientCertFile: string;
  clientKeyFile: string;
} {
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=dropscope-test-ca');
  writeFileSync(
    join(dir, 'server.ext'),
    'subjectAltName=DNS:goldmane.calico-system.svc,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
  );
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const who of ['server', 'client']) {
    run(
      'req',
      ...ec,
      '-keyout',
      `${who}.key`,
      '-out',
      `${who}.csr`,
      '-subj',
      `/CN=${who === 'server' ? 'goldmane' : 'dropscope'}`,
    );
    run(
      'x509',
      '-req',
      '-in',
      `${who}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${who}.crt`,
      '-days',
      '1',
      '-extfile',
      `${who}.ext`,
    );
  }
  return {
    caFile: join(dir, 'ca.crt'),
    ca: readFileSync(join(dir, 'ca.crt')),
    serverCert: readFileSync(join(dir, 'server.crt')),
    serverKey: readFileSync(join(dir, 'server.key')),
    clientCertFile: join(dir, 'client.crt'),
    clientKeyFile: join(dir, 'client.key'),
  };
}
