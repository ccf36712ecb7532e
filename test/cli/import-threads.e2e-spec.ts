import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateHubbleLines } from '../../src/synthetic/hubble-flow.generator.js';
import { collect, ROOT, spawnCli } from '../support/cli.js';
import { createTestDatabase, queryRows } from '../support/test-database.js';
import { hubbleLine } from './import-support.js';

/**
 * `import --threads N` (worker threads validate and fold segments, the main thread merges and
 * writes) against `--threads 0` (everything on the main thread): the same file must give the
 * same stored tables, dead letters and counts. Workers start only for files over 4 MiB, so the
 * files here are bigger than that.
 */

const MANIFESTS = join(ROOT, 'test', 'policy', 'fixtures', 'hubble-samples-cluster.yaml');
const TABLES = ['edge_rollups', 'edge_rollups_hourly', 'edge_rollups_daily', 'drop_events', 'dead_letters'];

const dbs: Array<{ drop(): Promise<void> }> = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dbs) await d.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Every row of the import's tables as text, sorted (ids and write times left out). */
async function storedTables(url: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const t of [...TABLES, 'stream_checkpoints']) {
    const cols = (
      await queryRows<{ column_name: string }>(
        url,
        `SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
        [t],
      )
    )
      .map((r) => r.column_name)
      .filter((c) => !['id', 'received_at', 'updated_at'].includes(c));
    const rows = await queryRows<Record<string, string | null>>(
      url,
      `SELECT ${cols.map((c) => `${c}::text AS ${c}`).join(', ')} FROM ${t}`,
    );
    out[t] = rows.map((r) => JSON.stringify(cols.map((c) => r[c]))).sort();
  }
  return out;
}

/** Imports `file` with `--threads n` into a new database: the summary lines (timing cut) and the tables. */
async function importWithThreads(file: string | string[], threads: number, env: Record<string, string> = {}) {
  const db = await createTestDatabase();
  dbs.push(db);
  const r = await collect(
    spawnCli(['import', '--source', 'hubble', '--no-progress', '--threads', String(threads), ...[file].flat()], {
      DATABASE_URL: db.url,
      LOG_LEVEL: 'error',
      RETENTION_DAYS: '0',
      DROP_EVENT_RETENTION_DAYS: '0',
      ...env,
    }),
  );
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const summary = r.stdout.replace(/, [\d.]+ s, \d+ flows\/s/, '');
  return { summary, tables: await storedTables(db.url), url: db.url };
}

describe('import in worker threads stores what the single-threaded import stores', () => {
  it('a file of every kind of line, drops attributed with a policy inventory: counts by hand, same tables', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ds-threads-'));
    dirs.push(dir);
    const file = join(dir, 'flows.jsonl');
    // Two whole minutes, ten minutes ago.
    const m0 = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;
    const lines: string[] = [];
    for (let i = 0; i < 8_000; i++) {
      // 4,000 forwarded flows in each minute, one edge (xwing → deathstar:80), source ports vary.
      const forwarded = hubbleLine(new Date(m0 + (i % 2) * 60_000 + (i % 50) * 1000), 1024 + (i % 30_000));
      lines.push(i % 100 === 0 ? `${forwarded}\r` : forwarded); // 80 of them end in CRLF
      if (i % 4 === 0) lines.push(hubbleLine(new Date(m0 + 30_000), 40_000 + i, 'DROPPED')); // 2,000 policy drops in minute 0
      if (i % 16 === 0) lines.push('{not json: ü, ✓'); // 500 malformed lines (multi-byte characters)
      if (i === 4_000) lines.push('x'.repeat(3_000_000)); // one line well over the 1 MiB limit (a dead letter)
      if (i % 80 === 0) lines.push(''); // 100 blank lines
      if (i % 80 === 40)
        lines.push(
          JSON.stringify({
            lost_events: { source: 'HUBBLE_RING_BUFFER', num_events_lost: '1' },
            node_name: 'kind-kind/kind-worker',
            time: new Date(m0).toISOString(),
          }),
        ); // 100 lost_events lines
      if (i % 800 === 0) lines.push(hubbleLine(new Date(Date.now() + 2 * 86_400_000), 7)); // 10 flows two days ahead
    }
    writeFileSync(file, `${lines.join('\n')}\n`);
    expect(statSync(file).size).toBeGreaterThan(4 << 20);

    const threaded = await importWithThreads(file, 2, { POLICY_MANIFESTS: MANIFESTS });
    const single = await importWithThreads(file, 0, { POLICY_MANIFESTS: MANIFESTS });

    // 10,711 lines: 10,010 records (10 of them refused by validation), 100 skipped, 501 malformed, 100 blank.
    expect(threaded.summary).toBe(
      'imported 10000 flows (10010 records) from 1 file(s): 2000 denied, 0 dropped, 0 audit, 511 dead letters, skipped lost_events: 100\n' +
        'lines: 10711 lines = 10010 records + 0 collapsed + 100 skipped (lost_events: 100) + 501 malformed (dead letters) + 100 blank; ' +
        '10 records were invalid FlowRecords (dead letters)\n' +
        // The 2,000 drops are one edge in one minute: the default DROP_EVENTS_PER_EDGE_MINUTE keeps 10
        // events, over both threads; the roll-up counts all 2,000.
        'drop events: 1990 not stored, their edge already had DROP_EVENTS_PER_EDGE_MINUTE=10 that minute ' +
        '(their flows are in the roll-ups; 0 keeps every event)\n',
    );
    const t = threaded.tables;
    const [flows] = await queryRows<{ rows: string; n: string }>(
      threaded.url,
      `SELECT count(*) AS rows, sum(count) AS n FROM edge_rollups`,
    );
    expect(flows).toEqual({ rows: '3', n: '10000' }); // forwarded in minute 0 and 1, denied in minute 0
    expect(t.drop_events).toHaveLength(10);
    const levels = await queryRows<{ attribution_level: string; policies: string[]; n: string }>(
      threaded.url,
      `SELECT attribution_level, policies, count(*) AS n FROM drop_events GROUP BY 1, 2`,
    );
    expect(levels).toEqual([{ attribution_level: 'inferred', policies: ['default/rule1'], n: '10' }]);
    const [denied] = await queryRows<{ n: string }>(
      threaded.url,
      `SELECT sum(count) AS n FROM edge_rollups WHERE verdict = 'denied'`,
    );
    expect(denied.n).toBe('2000');
    expect(t.dead_letters).toHaveLength(511);
    const reasons = await queryRows<{ reason: string; raw: string; n: string }>(
      threaded.url,
      `SELECT regexp_replace(reason, ':.*', '') AS reason, left(raw, 18) AS raw, count(*) AS n FROM dead_letters GROUP BY 1, 2 ORDER BY count(*)`,
    );
    expect(reasons).toEqual([
      { reason: 'line longer than 1048576 bytes', raw: '', n: '1' },
      { reason: 'invalid FlowRecord', raw: '{"schema":1,"id":"', n: '10' }, // two days ahead
      {
        reason: "not valid JSON (Expected property name or '}' in JSON at position 1)",
        raw: '{not json: ü, ✓',
        n: '500',
      },
    ]);

    expect(threaded.summary).toBe(single.summary);
    expect(threaded.tables).toEqual(single.tables);
  }, 120_000);

  it('a generated file (dense service graph), no policy inventory: the same tables and counts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ds-threads-'));
    dirs.push(dir);
    const file = join(dir, 'flows.jsonl');
    const lines: string[] = [];
    for (const l of generateHubbleLines({
      count: 30_000,
      seed: 11,
      shape: 'dense',
      policyDropShare: 0.2,
      otherDropShare: 0.02,
    }))
      lines.push(l);
    writeFileSync(file, `${lines.join('\n')}\n`);

    const threaded = await importWithThreads(file, 2);
    const single = await importWithThreads(file, 0);
    expect(threaded.summary).toMatch(/^imported \d+ flows/);
    expect(threaded.tables.edge_rollups.length).toBeGreaterThan(10_000);
    expect(threaded.tables.drop_events.length).toBeGreaterThan(5_000);
    expect(threaded.summary).toBe(single.summary);
    for (const t of TABLES)
      expect({ table: t, rows: threaded.tables[t] }).toEqual({ table: t, rows: single.tables[t] });
  }, 180_000);

  it('several files share the worker threads: each file its own dead letters and checkpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ds-threads-'));
    dirs.push(dir);
    // Two files over 4 MiB, each with one malformed line, and a small one read on the main thread.
    const files = [11, 12, 13].map((seed) => {
      const file = join(dir, `flows-${seed}.jsonl`);
      const count = seed === 12 ? 100 : 4_000;
      const lines = [...generateHubbleLines({ count, seed, shape: 'sparse', policyDropShare: 0.2, otherDropShare: 0 })];
      lines.splice(count / 2, 0, `{"bad ${seed}`);
      writeFileSync(file, `${lines.join('\n')}\n`);
      // A dead letter's origin: the file's stream and the byte offset just past its line.
      const at = Buffer.byteLength(`${lines.slice(0, count / 2 + 1).join('\n')}\n`);
      return { file, origin: `import:${file}:${at}` };
    });
    const paths = files.map((f) => f.file);
    expect(statSync(paths[0]).size).toBeGreaterThan(4 << 20);
    expect(statSync(paths[1]).size).toBeLessThan(4 << 20);
    expect(statSync(paths[2]).size).toBeGreaterThan(4 << 20);

    const threaded = await importWithThreads(paths, 2);
    const single = await importWithThreads(paths, 0);
    expect(threaded.summary).toMatch(/^imported \d+ flows \(\d+ records\) from 3 file\(s\): .*, 3 dead letters/);
    const dead = await queryRows<{ origin: string; raw: string }>(
      threaded.url,
      `SELECT origin, raw FROM dead_letters ORDER BY raw`,
    );
    expect(dead).toEqual([11, 12, 13].map((seed, i) => ({ origin: files[i].origin, raw: `{"bad ${seed}` })));
    const streams = await queryRows<{ stream: string }>(
      threaded.url,
      `SELECT stream FROM stream_checkpoints ORDER BY stream`,
    );
    expect(streams).toEqual(paths.map((f) => ({ stream: `import:${f}` })));
    expect(threaded.summary).toBe(single.summary);
    for (const t of TABLES)
      expect({ table: t, rows: threaded.tables[t] }).toEqual({ table: t, rows: single.tables[t] });
  }, 180_000);
});
