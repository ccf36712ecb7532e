import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/common/logger.js';
import { startEmbeddedPostgres } from '../src/storage/embedded-postgres.js';
import { RESOLUTIONS } from '../src/storage/rollup-closer.js';

/** Every coarser roll-up table, finest first (for the benches that empty or vacuum them). */
export const COARSE_ROLLUP_TABLES = RESOLUTIONS.map((r) => r.table).join(', ');

/**
 * A database bench run on its own: PostgreSQL at DATABASE_URL, or an embedded one started for
 * the run (in a temp folder named by `prefix`) and removed afterwards. An error is printed with
 * its stack and sets the exit code.
 */
export function runWithBenchDatabase(prefix: string, body: (url: string) => Promise<void>): void {
  void (async () => {
    let url = process.env.DATABASE_URL;
    let dir: string | undefined;
    let stop: (() => Promise<void>) | undefined;
    try {
      if (!url) {
        dir = mkdtempSync(join(tmpdir(), prefix));
        const pg = await startEmbeddedPostgres(dir, silentLogger);
        url = pg.url;
        stop = () => pg.stop();
      }
      await body(url);
    } catch (e) {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    } finally {
      await stop?.();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  })();
}
