import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { RunningService } from '../../src/app/service.js';
import { silentLogger } from '../../src/common/logger.js';
import { READ_TOKEN, startApi } from '../api/api-support.js';
import { ROOT, runCli } from '../support/cli.js';
import { createTestDatabase } from '../support/test-database.js';
import { hubbleLine, storedFlows } from './import-support.js';

describe('dropscope import options and summary', () => {
  let dir: string;
  const dbs: Array<Awaited<ReturnType<typeof createTestDatabase>>> = [];
  const newDb = async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    return db;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ds-import-options-'));
  });
  afterAll(async () => {
    for (const d of dbs) await d.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('--config FILE is read as for serve (here: the database to import into)', async () => {
    const db = await newDb();
    const file = join(dir, 'config-flows.jsonl');
    const now = Date.now();
    writeFileSync(
      file,
      `${[0, 1, 2].map((i) => hubbleLine(new Date(now - 60_000 + i * 1000), 20_000 + i)).join('\n')}\n`,
    );
    const config = join(dir, 'dropscope.yaml');
    writeFileSync(config, `DATABASE_URL: ${db.url}\n`);
    // No DATABASE_URL in the environment: only the file can name the database.
    const r = await runCli(['import', '--source', 'hubble', '--no-progress', '--config', config, file], {
      DROPSCOPE_DATA_DIR: join(dir, 'unused-data-dir'),
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await storedFlows(db.url)).toBe(3);
  });

  it('counts audit flows and skipped lines by kind in the summary', async () => {
    const db = await newDb();
    const t = new Date(Date.now() - 60_000);
    const audit = (port: number) => hubbleLine(t, port).replace('"verdict":"FORWARDED"', '"verdict":"AUDIT"');
    const lost = (n: number) =>
      JSON.stringify({
        lost_events: { source: 'HUBBLE_RING_BUFFER', num_events_lost: String(n) },
        node_name: 'kind-kind/kind-worker',
        time: t.toISOString(),
      });
    const file = join(dir, 'audit-and-lost.jsonl');
    writeFileSync(file, `${[hubbleLine(t, 1), audit(2), audit(3), lost(5), lost(1), hubbleLine(t, 4)].join('\n')}\n`);
    const r = await runCli(['import', '--source', 'hubble', '--no-progress', file], { DATABASE_URL: db.url });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^imported 4 flows \(4 records\) from 1 file\(s\): 0 denied, 0 dropped, 2 audit, 0 dead letters, skipped lost_events: 2, /,
    );
    expect(r.stdout).not.toMatch(/warning/);
  });

  it('says a file is probably not of --source kind when every line is a dead letter', async () => {
    const db = await newDb();
    // Calico samples wrapped in JSON objects (sample_id, raw, ...): not flows.log lines.
    const wrapped = join(ROOT, 'test/fixtures/calico/flowlog-samples.jsonl');
    const r = await runCli(['import', '--source', 'calico', '--no-progress', wrapped], { DATABASE_URL: db.url });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/0 flows \(0 records\).* 19 dead letters/);
    expect(r.stdout).toContain(
      `warning: all 19 lines of ${wrapped} were dead letters: it is probably not a calico file ` +
        `(--source calico expects one record per line; the first line: `,
    );
  });

  it('--threads takes a whole number of worker threads up to the core count', async () => {
    // A usage error, found before the (embedded) database is opened.
    const dataDir = join(dir, 'threads-data-dir');
    const r = await runCli(
      ['import', '--source', 'hubble', '--threads', 'many', 'examples/flows/hubble-observe.jsonl'],
      { DROPSCOPE_DATA_DIR: dataDir },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--threads must be an integer from 0 to \d+, got "many"/);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('--retime refuses standard input with a usage error', async () => {
    const r = await runCli(['import', '--source', 'hubble', '--retime', '-'], {}, '');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--retime reads each file twice and cannot read standard input');
  });

  describe('--retime on the example flows', () => {
    let svc: RunningService;
    let db: Awaited<ReturnType<typeof createTestDatabase>>;
    beforeAll(async () => {
      db = await newDb();
      svc = await startApi({ DATABASE_URL: db.url }, silentLogger);
    });
    afterAll(async () => {
      await svc?.close();
    });

    it("moves the file's newest flow to the time of import, so its drops are in the API's default 24 h", async () => {
      const before = Date.now();
      const r = await runCli(
        ['import', '--source', 'hubble', '--no-progress', '--retime', 'examples/flows/hubble-observe.jsonl'],
        { DATABASE_URL: db.url },
      );
      const after = Date.now();
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^imported 112 flows/);

      const res = await request(`http://127.0.0.1:${svc.port}`)
        .get('/api/v1/drops')
        .set('Authorization', `Bearer ${READ_TOKEN}`)
        .expect(200);
      const items = (res.body as { items: Array<{ time: string }> }).items;
      expect(items.length).toBeGreaterThan(0);
      // In the file the newest flow is at 09:23:31.040Z and the newest drop at 09:21:40.000006Z,
      // 111.039994 s earlier: after --retime, that drop sits that long before the import time.
      const newestDrop = Date.parse(items[0].time);
      expect(newestDrop).toBeGreaterThanOrEqual(before - 111_040 - 1);
      expect(newestDrop).toBeLessThanOrEqual(after - 111_040 + 1);
    });
  });
});
