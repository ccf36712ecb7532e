import { describe, expect, it } from '@jest/globals';
import { HttpException } from '@nestjs/common';
import type { Collector } from '../collector/collector.js';
import { CollectorHealth } from '../collector/collector-health.js';
import type { Logger } from '../common/logger.js';
import { HealthController } from './health.controller.js';
import { ReadinessChecks } from './readiness.js';

function logger(lines: Array<{ msg: string; fields?: Record<string, unknown> }>): Logger {
  const log: Logger = {
    debug: (msg, fields) => void lines.push({ msg, fields }),
    info: (msg, fields) => void lines.push({ msg, fields }),
    warn: (msg, fields) => void lines.push({ msg, fields }),
    error: (msg, fields) => void lines.push({ msg, fields }),
    child: () => log,
  };
  return log;
}

function controller(checks: ReadinessChecks): HealthController {
  return new HealthController(() => checks.check());
}

async function body(c: HealthController): Promise<{ code: number; text: string }> {
  try {
    return { code: 200, text: JSON.stringify(await c.readyz()) };
  } catch (e) {
    if (!(e instanceof HttpException)) throw e;
    return { code: e.getStatus(), text: JSON.stringify(e.getResponse()) };
  }
}

describe('/readyz', () => {
  it('answers a generic state for a database error and logs the details once', async () => {
    const lines: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
    const secret = 'connect ECONNREFUSED db.internal.example:5432 (user dropscope, password hunter2)';
    const checks = new ReadinessChecks({
      database: () => Promise.reject(new Error(secret)),
      collectors: [],
      collectorDownGraceMs: 60_000,
      log: logger(lines),
    });
    const c = controller(checks);
    const first = await body(c);
    const second = await body(c);
    expect(first.code).toBe(503);
    expect(JSON.parse(first.text)).toEqual({ status: 'not ready', checks: { database: 'down' } });
    expect(first.text).not.toContain('hunter2');
    expect(first.text).not.toContain('db.internal.example');
    expect(second.text).toBe(first.text);
    expect(lines.filter((l) => l.fields?.error === secret)).toHaveLength(1);
  });

  it('fails a collector only after it has been down longer than the grace period', async () => {
    let now = 1_000_000;
    const health = new CollectorHealth('goldmane', logger([]), undefined, () => now);
    const collector = { name: 'goldmane', health, start: async () => {}, stop: async () => {} } as Collector;
    const checks = new ReadinessChecks({
      database: async () => true,
      collectors: [collector],
      collectorDownGraceMs: 60_000,
      log: logger([]),
      now: () => now,
    });
    const c = controller(checks);
    expect(await body(c)).toEqual({
      code: 200,
      text: JSON.stringify({ status: 'ok', checks: { database: 'ok', 'collector:goldmane': 'ok' } }),
    });
    now += 60_000;
    expect(await body(c)).toEqual({
      code: 503,
      text: JSON.stringify({ status: 'not ready', checks: { database: 'ok', 'collector:goldmane': 'down' } }),
    });
    health.up();
    expect((await body(c)).code).toBe(200);
    health.down('stream failed');
    now += 59_999;
    expect((await body(c)).code).toBe(200);
    now += 1;
    expect((await body(c)).code).toBe(503);
  });
});
