import { afterAll, describe, expect, it } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { collect, spawnCli, waitForOutput } from '../support/cli.js';
import { makeTestCerts } from '../support/test-certs.js';
import { createTestDatabase, pollRows } from '../support/test-database.js';
import { until } from '../support/wait.js';
import { FakeGoldmane } from './fake-goldmane.js';
import { denyKey, flow } from './goldmane-flows.js';

describe('serve with GOLDMANE_ADDR over mTLS (the environment wiring, end to end)', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('stores Goldmane flows in PostgreSQL once each, across a service restart', async () => {
    const certs = makeTestCerts(['goldmane.calico-system.svc']);
    cleanup.push(async () => certs.remove()); // runs last: the cleanups run in reverse
    const server = new FakeGoldmane(
      grpc.ServerCredentials.createSsl(
        certs.read(certs.caFile),
        [{ cert_chain: certs.read(certs.serverCertFile), private_key: certs.read(certs.serverKeyFile) }],
        true,
      ),
    );
    const port = await server.start();
    cleanup.push(() => server.stop());
    const start = Math.floor(Date.now() / 1000) - 120;
    server.push(flow(start, 1));
    server.push(flow(start, 2, denyKey));
    server.push(flow(start + 15, 3));

    const db = await createTestDatabase();
    cleanup.push(() => db.drop());
    const env = {
      DATABASE_URL: db.url,
      DROPSCOPE_ROLES: 'collector,aggregator',
      GOLDMANE_ADDR: `127.0.0.1:${port}`,
      GOLDMANE_TLS_CA_FILE: certs.caFile,
      GOLDMANE_TLS_CERT_FILE: certs.clientCertFile,
      GOLDMANE_TLS_KEY_FILE: certs.clientKeyFile,
      GOLDMANE_TLS_SERVER_NAME: 'goldmane.calico-system.svc',
      PORT: '0',
      LOG_LEVEL: 'info',
    };
    const flows = async () =>
      Number(
        (await pollRows<{ n: string }>(db.url, `SELECT coalesce(sum(count), 0) AS n FROM edge_rollups`))[0]?.n ?? 0,
      );
    const denied = () =>
      pollRows<{ verdict: string; policies: string[] }>(db.url, `SELECT verdict, policies FROM drop_events`);

    const first = spawnCli(['serve'], env);
    cleanup.push(async () => void first.kill('SIGKILL'));
    const firstDone = collect(first);
    await waitForOutput(first, /"msg":"dropscope started"/, 60_000);
    // The checkpoint names the newest bucket stored whole: once it is start + 15, all three flows are in.
    const position = async (): Promise<string | undefined> =>
      (await pollRows<{ position: string }>(db.url, `SELECT position FROM stream_checkpoints`))[0]?.position;
    await until('both buckets stored', async () => (await position()) === `v2:${start + 15}`, 30_000);
    expect(await denied()).toHaveLength(1);
    expect((await denied())[0].verdict).toBe('denied');
    first.kill('SIGTERM');
    expect((await firstDone).code).toBe(0);
    // Each test flow stands for the same number of connections (its count).
    const perFlow = (await flows()) / 3;
    expect(Number.isInteger(perFlow) && perFlow >= 1).toBe(true);
    const cps = await pollRows<{ stream: string }>(db.url, `SELECT stream FROM stream_checkpoints`);
    expect(cps.map((c) => c.stream)).toEqual([`goldmane:127.0.0.1:${port}`]);

    // Goldmane replays what it holds on every Stream; the stored checkpoint keeps each flow once.
    server.push(flow(start + 30, 4));
    const second = spawnCli(['serve'], env);
    cleanup.push(async () => void second.kill('SIGKILL'));
    const secondDone = collect(second);
    await waitForOutput(second, /"msg":"dropscope started"/, 60_000);
    await until('the third bucket stored', async () => (await position()) === `v2:${start + 30}`, 30_000);
    expect(await flows()).toBe(4 * perFlow);
    expect(await denied()).toHaveLength(1);
    expect(server.streamRequests.length).toBeGreaterThanOrEqual(2);
    second.kill('SIGTERM');
    expect((await secondDone).code).toBe(0);
  }, 120_000);
});
