import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli.js';
import { createTestDatabase } from '../support/test-database.js';
import { forwardedFlows, importedFlows, storedFlows } from './import-support.js';

describe('dropscope import: resuming identifies the file, not just its path', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'ds-import-resume-'));
  });
  afterAll(async () => {
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const importFile = async (file: string) => {
    const r = await runCli(['import', '--source', 'hubble', '--no-progress', file], { DATABASE_URL: db.url });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    return r;
  };

  it('imports a replaced file from its start and only the appended part of a grown one', async () => {
    const file = join(dir, 'flows.jsonl');
    writeFileSync(file, forwardedFlows(3000, 10_000));
    expect(importedFlows((await importFile(file)).stdout)).toBe(3000);
    expect(await storedFlows(db.url)).toBe(3000);

    // Same path, different and smaller file (rewritten in place: same inode).
    writeFileSync(file, forwardedFlows(500, 20_000));
    const smaller = await importFile(file);
    expect(importedFlows(smaller.stdout)).toBe(500);
    expect(smaller.stderr).not.toMatch(/resumed/);
    expect(await storedFlows(db.url)).toBe(3500);

    // Same path, different and larger file than the first one.
    writeFileSync(file, forwardedFlows(4000, 30_000));
    const larger = await importFile(file);
    expect(importedFlows(larger.stdout)).toBe(4000);
    expect(larger.stderr).not.toMatch(/resumed/);
    expect(await storedFlows(db.url)).toBe(7500);

    // The same file grown by appending: only the new flows.
    appendFileSync(file, forwardedFlows(700, 40_000));
    const grown = await importFile(file);
    expect(importedFlows(grown.stdout)).toBe(700);
    expect(grown.stderr).toMatch(/resumed at byte \d+/);
    expect(await storedFlows(db.url)).toBe(8200);

    // Unchanged: nothing more.
    expect(importedFlows((await importFile(file)).stdout)).toBe(0);
    expect(await storedFlows(db.url)).toBe(8200);
  }, 120_000);
});
