import { afterAll, describe, expect, it } from '@jest/globals';
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { CalicoFlowLogGenerator } from '../../src/synthetic/calico-flow-log.generator.js';
import { CalicoLineMapper } from '../../src/collector/calico/calico-flow-log.mapper.js';
import { collect, spawnCli, waitForOutput } from '../support/cli.js';
import { createTestDatabase } from '../support/test-database.js';
import { until } from '../support/wait.js';

async function stored(url: string): Promise<{ flows: number; checkpoints: string[] }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const [r] = (
      await c.query(`SELECT coalesce(sum(count), 0)::bigint AS n FROM edge_rollups`).catch(() => ({
        rows: [{ n: 0 }],
      }))
    ).rows as Array<{ n: string }>;
    const cps = (await c.query(`SELECT stream FROM stream_checkpoints ORDER BY stream`).catch(() => ({ rows: [] })))
      .rows as Array<{ stream: string }>;
    return { flows: Number(r.n), checkpoints: cps.map((x) => x.stream) };
  } finally {
    await c.end();
  }
}

describe('serve with CALICO_FLOWLOG_PATH: tail, crash, rotate, restart', () => {
  const dbs: Array<{ drop(): Promise<void> }> = [];
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dbs) await d.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('stores every flow-log line exactly once in PostgreSQL across a SIGKILL and a rotation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ds-calico-serve-'));
    dirs.push(dir);
    const log = join(dir, 'flows.log');
    const gen = new CalicoFlowLogGenerator({
      seed: 3,
      startTime: Math.floor(Date.now() / 1000) - 3600,
      linesPerInterval: 500,
    });
    const all: string[] = [];
    const take = (n: number) => {
      const lines = gen.lines(n);
      all.push(...lines);
      return lines.map((l) => `${l}\n`).join('');
    };
    writeFileSync(log, take(3000));

    const db = await createTestDatabase();
    dbs.push(db);
    const env = {
      DATABASE_URL: db.url,
      CALICO_FLOWLOG_PATH: log,
      DROPSCOPE_ROLES: 'collector,aggregator',
      PORT: '0',
      LOG_LEVEL: 'info',
    };
    const first = spawnCli(['serve'], env);
    const firstDone = collect(first);
    await waitForOutput(first, /"msg":"dropscope started"/, 60_000);
    await until('the first lines stored', async () => (await stored(db.url)).flows > 0, 60_000);
    appendFileSync(log, take(2000));
    first.kill('SIGKILL');
    await firstDone;

    // While it is down: more lines, then a rotation and a new file.
    appendFileSync(log, take(1000));
    renameSync(log, `${log}.1`);
    writeFileSync(log, take(1500));

    // The ground truth: the same lines through the same mapper.
    const mapper = new CalicoLineMapper({});
    let expected = 0;
    for (const l of all) {
      const r = mapper.map(l);
      if (r.kind === 'flows') for (const f of r.records) expected += f.count;
    }
    expect(expected).toBeGreaterThan(all.length);

    const second = spawnCli(['serve'], env);
    const secondDone = collect(second);
    try {
      await waitForOutput(second, /"msg":"dropscope started"/, 60_000);
      await until('every line stored', async () => (await stored(db.url)).flows >= expected, 90_000);
      appendFileSync(log, take(500)); // still tailing after the restart
      for (const l of all.slice(-500)) {
        const r = mapper.map(l);
        if (r.kind === 'flows') for (const f of r.records) expected += f.count;
      }
      await until('the appended lines stored', async () => (await stored(db.url)).flows >= expected, 60_000);
    } finally {
      second.kill('SIGTERM');
      expect((await secondDone).code).toBe(0);
    }
    // After a clean stop everything read is stored: the count is final, and nothing came twice.
    const s = await stored(db.url);
    expect(s.flows).toBe(expected);
    expect(s.checkpoints).toEqual([`calico-file:${log}`]);
  }, 240_000);
});
