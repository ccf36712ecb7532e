import { describe, expect, it } from '@jest/globals';
import { logLevel } from 'kafkajs';
import type { Logger } from '../common/logger.js';
import { kafkaLogCreator } from './kafka-flow.bus.js';

function capture(): { log: Logger; lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> } {
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  const log: Logger = {
    debug: (msg, fields) => lines.push({ level: 'debug', msg, fields }),
    info: (msg, fields) => lines.push({ level: 'info', msg, fields }),
    warn: (msg, fields) => lines.push({ level: 'warn', msg, fields }),
    error: (msg, fields) => lines.push({ level: 'error', msg, fields }),
    child: () => log,
  };
  return { log, lines };
}

describe('kafkajs log levels', () => {
  it('logs group rebalances at info and real errors at error, never a password', () => {
    const { log, lines } = capture();
    const write = kafkaLogCreator(log)!(logLevel.INFO);
    const entry = (namespace: string, level: logLevel, l: Record<string, unknown>) =>
      write({ namespace, level, label: 'ERROR', log: { timestamp: 'now', logger: 'kafkajs', ...l } as never });
    // The shapes kafkajs 2.2 emits during a rebalance (Runner, then a heartbeat response).
    entry('Runner', logLevel.ERROR, {
      message: 'The group is rebalancing, re-joining',
      groupId: 'g',
      error: 'The group is rebalancing, so a rejoin is needed',
    });
    entry('Connection', logLevel.ERROR, {
      message: 'Response Heartbeat(key: 12, version: 3)',
      error: 'The group is rebalancing, so a rejoin is needed',
      type: 'REBALANCE_IN_PROGRESS',
    });
    entry('Connection', logLevel.ERROR, { message: 'Connection error: connect ECONNREFUSED', password: 'hunter2' });
    entry('Producer', logLevel.WARN, { message: 'Failed to send messages' });
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['info', 'kafkajs: The group is rebalancing, re-joining'],
      ['info', 'kafkajs: Response Heartbeat(key: 12, version: 3)'],
      ['error', 'kafkajs: Connection error: connect ECONNREFUSED'],
      ['warn', 'kafkajs: Failed to send messages'],
    ]);
    expect(JSON.stringify(lines)).not.toContain('hunter2');
  });
});
