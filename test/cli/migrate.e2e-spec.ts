import { describe, expect, it } from '@jest/globals';
import { runCli } from '../support/cli.js';
import { createTestDatabase } from '../support/test-database.js';

describe('dropscope migrate', () => {
  it('says which migrations it applied, that the database is up to date, and which one it reverted', async () => {
    const db = await createTestDatabase();
    try {
      const env = { DATABASE_URL: db.url };
      const first = await runCli(['migrate'], env);
      expect(first.code).toBe(0);
      expect(first.stdout).toContain(
        'applied 14 migration(s): InitialSchema1763770000000, ApiIndexes1763900000000, PolicyArrays1764000000000, Alerts1764100000000, CheckpointGenerations1764250000000, HourlyRollups1764300000000, FiveMinuteRollups1764400000000, HourlyTotals1764500000000, FourHourRollups1764600000000, FifteenMinuteRollups1764700000000, DropRowMinuteIndexes1764800000000, EdgeIds1764900000000, RollupGenerations1765000000000, DropRowFiveMinuteIndexes1765100000000',
      );
      const again = await runCli(['migrate'], env);
      expect(again.stdout).toContain('the database is up to date (14 migrations applied)');
      const revert = await runCli(['migrate', '--revert'], env);
      expect(revert.code).toBe(0);
      expect(revert.stdout).toContain('reverted DropRowFiveMinuteIndexes1765100000000');
    } finally {
      await db.drop();
    }
  });
});
