import { afterAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { collect, spawnCli, waitForOutput } from '../support/cli.js';
import { makeTestCerts } from '../support/test-certs.js';
import { createTestDatabase, pollRows } from '../support/test-database.js';
import { until } from '../support/wait.js';
import { checkpointParts, sinceParts } from './checkpoint-time.js';
import { FakeHubbleRelay } from '../../src/demo/fake-hubble-relay.js';

const FIXTURE = new URL('../fixtures/hubble/observe-samples.jsonl', import.meta.url);
const sampleFlows = readFileSync(FIXTURE, 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as Record<string, unknown>)
  .filter((r) => r.flow !== undefined);

describe('serve with HUBBLE_ADDR over mTLS (the environment wiring, end to end)', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('streams drops from Hubble Relay into PostgreSQL and resumes from its checkpoint', async () => {
    const certs = makeTestCerts();
    cleanup.push(async () => certs.remove()); // runs last: the cleanups run in reverse
    const relay = new FakeHubbleRelay({
      tls: {
        ca: certs.read(certs.caFile),
        cert: certs.read(certs.serverCertFile),
        key: certs.read(certs.serverKeyFile),
        requireClientCert: true,
      },
    });
    cleanup.push(() => relay.stop());
    const port = await relay.start();
    const db = await createTestDatabase();
    cleanup.push(() => db.drop());
    const env = {
      DATABASE_URL: db.url,
      DROPSCOPE_ROLES: 'collector,aggregator',
      HUBBLE_ADDR: `127.0.0.1:${port}`,
      HUBBLE_TLS_CA_FILE: certs.caFile,
      HUBBLE_TLS_CERT_FILE: certs.clientCertFile,
      HUBBLE_TLS_KEY_FILE: certs.clientKeyFile,
      HUBBLE_TLS_SERVER_NAME: 'relay.test',
      PORT: '0',
      LOG_LEVEL: 'info',
    };
    const serve = spawnCli(['serve'], env);
    cleanup.push(async () => void serve.kill('SIGKILL'));
    const done = collect(serve);
    await waitForOutput(serve, /"msg":"Hubble nodes connected"/, 60_000);
    // A collector with no checkpoint starts from now: feed the samples as live flows.
    const now = Date.now();
    relay.add(
      sampleFlows.map((r, i) => {
        const time = new Date(now + i).toISOString();
        return { ...r, time, flow: { ...(r.flow as Record<string, unknown>), time } };
      }),
    );
    const events = () =>
      pollRows<{ drop_reason: string; src_pod: string }>(
        db.url,
        `SELECT drop_reason, src_pod FROM drop_events ORDER BY time`,
      );
    // The default `policy` filter: the sample drops and policy verdicts (4 records after de-dup).
    await until('the sample drops stored', async () => (await events()).length >= 4, 30_000);
    await until('the relay to have written every flow', async () => relay.idle, 30_000);
    // A clean stop stores everything the collector received, so what is stored after it is final.
    serve.kill('SIGTERM');
    expect((await done).code).toBe(0);
    expect((await events()).map((e) => e.drop_reason).sort()).toEqual([
      'INVALID_SOURCE_IP',
      'POLICY_DENIED',
      'POLICY_DENIED',
      'POLICY_DENIED',
    ]);
    const cps = await pollRows<{ stream: string; position: string }>(
      db.url,
      `SELECT stream, position FROM stream_checkpoints`,
    );
    expect(cps.map((c) => c.stream)).toEqual([`hubble:127.0.0.1:${port}`]);
    expect(Date.parse(cps[0].position)).toBeGreaterThanOrEqual(now);

    const [storedAtStop] = await pollRows<{ position: string }>(db.url, `SELECT position FROM stream_checkpoints`);

    // A restart asks Relay for flows since the stored position and stores nothing twice.
    const again = spawnCli(['serve'], env);
    cleanup.push(async () => void again.kill('SIGKILL'));
    const againDone = collect(again);
    await waitForOutput(again, /"msg":"dropscope started"/, 60_000);
    await until('the relay to see the resumed request', async () => relay.requests.length >= 2, 30_000);
    await until('the relay to have written all it replays', async () => relay.idle, 30_000);
    const since = (relay.requests[relay.requests.length - 1] as { since?: unknown }).since;
    expect(sinceParts(since)).toEqual(checkpointParts(storedAtStop.position));
    // A clean stop stores everything the collector received, so the count after it is final.
    again.kill('SIGTERM');
    expect((await againDone).code).toBe(0);
    expect(await events()).toHaveLength(4);
  }, 120_000);
});
