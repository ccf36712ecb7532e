import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli.js';
import { createTestDatabase } from '../support/test-database.js';
import { hubbleLine, importedFlows, storedFlows } from './import-support.js';

const DAY = 86_400_000;

describe('dropscope import: data older than the retention is reported', () => {
  let dir: string;
  let file: string;
  const dbs: Array<Awaited<ReturnType<typeof createTestDatabase>>> = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ds-import-retention-'));
    file = join(dir, 'flows.jsonl');
    const now = Date.now();
    const lines: string[] = [];
    let port = 10_000;
    // 40 forwarded flows and 10 policy drops from 2023: outside both retentions below.
    for (let i = 0; i < 40; i++) lines.push(hubbleLine(new Date(Date.UTC(2023, 2, 1, 12, 0, i)), port++));
    for (let i = 0; i < 10; i++) lines.push(hubbleLine(new Date(Date.UTC(2023, 2, 1, 13, 0, i)), port++, 'DROPPED'));
    // 6 policy drops from 10 days ago: outside 7 days of drop events, inside 30 days of roll-ups.
    for (let i = 0; i < 6; i++) lines.push(hubbleLine(new Date(now - 10 * DAY + i * 1000), port++, 'DROPPED'));
    // 20 forwarded flows from the last hour: inside both.
    for (let i = 0; i < 20; i++) lines.push(hubbleLine(new Date(now - 3_600_000 + i * 1000), port++));
    writeFileSync(file, `${lines.join('\n')}\n`);
  });
  afterAll(async () => {
    for (const d of dbs) await d.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const importWith = async (env: Record<string, string>) => {
    const db = await createTestDatabase();
    dbs.push(db);
    const r = await runCli(['import', '--source', 'hubble', '--no-progress', file], { DATABASE_URL: db.url, ...env });
    expect(r.code).toBe(0);
    expect(importedFlows(r.stdout)).toBe(76);
    expect(await storedFlows(db.url)).toBe(76);
    return r.stdout;
  };

  it('says how many flows and drop events fall outside retention, which setting, and how to keep them', async () => {
    const out = await importWith({ RETENTION_DAYS: '30', DROP_EVENT_RETENTION_DAYS: '7' });
    expect(out).toContain('warning: 50 imported flows are older than RETENTION_DAYS=30 days');
    expect(out).toContain('set RETENTION_DAYS=0 (keep forever) or a larger value');
    expect(out).toContain(
      'warning: the drop events of 16 imported drops are older than DROP_EVENT_RETENTION_DAYS=7 days',
    );
    expect(out).toContain('set DROP_EVENT_RETENTION_DAYS=0 (keep forever) or a larger value');
    expect(out).toMatch(/dropscope serve` deletes them at its next retention pass/);
  }, 60_000);

  it('says nothing when the data is kept forever', async () => {
    const out = await importWith({ RETENTION_DAYS: '0', DROP_EVENT_RETENTION_DAYS: '0' });
    expect(out).not.toMatch(/warning/);
  }, 60_000);
});
