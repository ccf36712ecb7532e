import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { InProcessFlowBus } from '../../src/bus/in-process-flow.bus.js';
import { CalicoFileCollector, parseFilePosition } from '../../src/collector/calico/calico-file.collector.js';
import { calicoRecordId } from '../../src/collector/calico/calico-flow-log.mapper.js';
import { CalicoFlowLogGenerator } from '../../src/synthetic/calico-flow-log.generator.js';
import { silentLogger } from '../../src/common/logger.js';
import { ReadinessChecks } from '../../src/health/readiness.js';
import { collectingLogger, multisetDiff, RecordingConsumer, waitFor } from './support.js';

let dir: string;
let bus: InProcessFlowBus;
let consumer: RecordingConsumer;
let registry: Registry;
const running: CalicoFileCollector[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dropscope-calico-'));
  bus = new InProcessFlowBus(2000);
  consumer = new RecordingConsumer();
  registry = new Registry();
  await bus.consume(consumer.handler, { groupId: 'test', loadCheckpoints: async () => new Map() });
});

afterEach(async () => {
  for (const c of running.splice(0)) await c.kill();
  await bus.close();
  rmSync(dir, { recursive: true, force: true });
});

function collector(
  path: string,
  extra: Partial<ConstructorParameters<typeof CalicoFileCollector>[0]> = {},
): CalicoFileCollector {
  const c = new CalicoFileCollector({
    path,
    bus,
    checkpoints: consumer.reader,
    registry,
    pollIntervalMs: 10,
    rescanIntervalMs: 20,
    batchSize: 7,
    readChunkBytes: 4096,
    retryDelayMs: 5,
    ...extra,
  });
  running.push(c);
  return c;
}

async function metricValue(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const data = await m.get();
  return data.values
    .filter((v) => Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val))
    .reduce((a, v) => a + v.value, 0);
}

describe('CalicoFileCollector (integration)', () => {
  it('delivers every line exactly once across appends, partial lines, rotation, truncation, a crash and a restart', async () => {
    const file = join(dir, 'flows.log');
    const gen = new CalicoFlowLogGenerator({ seed: 42, denyShare: 0.3 });
    const expected: string[] = [];
    const write = (n: number): void => {
      const lines = gen.lines(n);
      appendFileSync(file, lines.map((l) => `${l}\n`).join(''));
      for (const l of lines) expected.push(calicoRecordId(l));
    };
    const settled = async (): Promise<void> => {
      await waitFor(() => consumer.ids.length >= expected.length, `${expected.length} records`);
      await new Promise((r) => setTimeout(r, 60));
      expect(multisetDiff(consumer.ids, expected)).toEqual({ missing: [], extra: [] });
    };

    write(40);
    const a = collector(file);
    await a.start();
    await settled();
    expect(consumer.checkpoints.get(`calico-file:${file}`)).toMatch(/^\d+:\d+:[0-9a-f]{16}$/);

    // appends while tailing; the database fails twice: the same batch is retried
    consumer.failNext = 2;
    write(30);
    await settled();

    // a line written in two pieces is held until its newline arrives
    const split = gen.next();
    appendFileSync(file, split.slice(0, 100));
    await new Promise((r) => setTimeout(r, 80));
    expect(consumer.ids).not.toContain(calicoRecordId(split));
    appendFileSync(file, `${split.slice(100)}\n`);
    expected.push(calicoRecordId(split));
    await settled();

    // rotation: the last lines of the old file, then rename and a new file
    write(15);
    renameSync(file, `${file}.1`);
    write(20);
    await settled();
    expect(await metricValue('dropscope_calico_file_rotations_total', { kind: 'rename' })).toBeGreaterThanOrEqual(1);

    // truncation (copytruncate) after everything was read
    truncateSync(file, 0);
    write(10);
    await settled();
    expect(await metricValue('dropscope_calico_file_rotations_total', { kind: 'truncate' })).toBeGreaterThanOrEqual(1);

    // crash while a batch is in the aggregator: that batch is not stored
    const held = consumer.holdNext();
    write(50);
    await held;
    const killing = a.kill();
    consumer.release(false);
    await killing;
    const before = consumer.ids.length;
    expect(before).toBeLessThan(expected.length);

    // while down: more lines, a last line without newline, a rotation, a new file
    write(12);
    const tailLine = gen.next();
    appendFileSync(file, tailLine);
    expected.push(calicoRecordId(tailLine));
    renameSync(file, `${file}.1`);
    write(9);

    const b = collector(file);
    await b.start();
    await settled();

    // and keeps tailing after the restart
    write(5);
    await settled();
    await b.stop();
    expect(consumer.ids.length).toBe(expected.length);
    expect(await metricValue('dropscope_calico_file_lines_total')).toBeGreaterThanOrEqual(expected.length);
  });

  it('stop() publishes what it read; a restart repeats nothing', async () => {
    const file = join(dir, 'flows.log');
    const gen = new CalicoFlowLogGenerator({ seed: 3 });
    const lines = gen.lines(25);
    writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
    const a = collector(file, { batchSize: 1000 });
    await a.start();
    await waitFor(() => consumer.ids.length === 25, '25 records');
    await a.stop();
    const b = collector(file);
    await b.start();
    await new Promise((r) => setTimeout(r, 100));
    await b.stop();
    expect(consumer.ids).toHaveLength(25);
    const pos = parseFilePosition(consumer.checkpoints.get(`calico-file:${file}`));
    expect(pos?.offset).toBe(lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0));
  });

  it('dead-letters malformed lines with their byte offset, skips stale zero-packet denies, never stops', async () => {
    const file = join(dir, 'flows.log');
    const gen = new CalicoFlowLogGenerator({ seed: 9, denyShare: 0 });
    const good1 = gen.next();
    const stale = JSON.stringify({
      ...(JSON.parse(gen.next()) as Record<string, unknown>),
      action: 'deny',
      packets_in: 0,
      packets_out: 0,
    });
    const bad = '{"start_time": 1700000000, "action": "allow"';
    const badPolicy = JSON.stringify({
      ...(JSON.parse(gen.next()) as Record<string, unknown>),
      policies: { enforced_policies: ['zero|t|t.p|allow|0'] },
    });
    const good2 = gen.next();
    const content = [good1, stale, bad, badPolicy, '', good2].map((l) => `${l}\n`).join('');
    writeFileSync(file, content);
    const c = collector(file);
    await c.start();
    await waitFor(() => consumer.ids.length === 2, '2 records');
    await waitFor(() => consumer.deadLetters.length === 2, '2 dead letters');
    const offBad = Buffer.byteLength(`${good1}\n${stale}\n`);
    expect(consumer.deadLetters[0]).toEqual({
      raw: bad,
      reason: expect.stringMatching(/^not JSON/),
      origin: `calico-file:${file}:${offBad}`,
    });
    expect(consumer.deadLetters[1].reason).toMatch(
      /bad Calico policy string "zero\|t\|t\.p\|allow\|0": index must be a non-negative integer/,
    );
    expect(consumer.deadLetters[1].origin).toBe(`calico-file:${file}:${offBad + Buffer.byteLength(bad) + 1}`);
    expect(consumer.ids).toEqual([calicoRecordId(good1), calicoRecordId(good2)]);
    expect(await metricValue('dropscope_calico_file_lines_skipped_total', { reason: 'stale-deny-zero-packets' })).toBe(
      1,
    );
    expect(await metricValue('dropscope_calico_file_lines_malformed_total')).toBe(2);
    // the checkpoint covers the whole file, including the skipped and malformed lines
    await waitFor(
      () => parseFilePosition(consumer.checkpoints.get(`calico-file:${file}`))?.offset === Buffer.byteLength(content),
      'checkpoint at end',
    );
  });

  it('stores a dead letter once when the batch that carries it is lost in a crash and read again', async () => {
    const file = join(dir, 'flows.log');
    const gen = new CalicoFlowLogGenerator({ seed: 13 });
    const [good1, good2] = gen.lines(2);
    const bad = '{"start_time": 1700000000';
    writeFileSync(file, `${good1}\n${bad}\n${good2}\n`);
    const held = consumer.holdNext();
    const a = collector(file, { batchSize: 1000 });
    await a.start();
    await held;
    const killing = a.kill();
    consumer.release(false);
    await killing;
    expect(consumer.ids).toHaveLength(0);
    expect(consumer.deadLetters).toHaveLength(0);

    const b = collector(file, { batchSize: 1000 });
    await b.start();
    await waitFor(() => consumer.ids.length === 2, '2 records after the restart');
    await b.stop();
    expect(consumer.ids).toEqual([calicoRecordId(good1), calicoRecordId(good2)]);
    expect(consumer.deadLetters).toEqual([
      { raw: bad, reason: expect.stringMatching(/^not JSON/), origin: `calico-file:${file}:${good1.length + 1}` },
    ]);
  });

  it('dead-letters an over-long line and resumes at the next one', async () => {
    const file = join(dir, 'flows.log');
    const gen = new CalicoFlowLogGenerator({ seed: 11 });
    const ok = gen.lines(2);
    writeFileSync(file, `${ok[0]}\n${'x'.repeat(10_000)}\n${ok[1]}\n`);
    const c = collector(file, { maxLineBytes: 5000 });
    await c.start();
    await waitFor(() => consumer.ids.length === 2, '2 records');
    expect(consumer.deadLetters).toHaveLength(1);
    expect(consumer.deadLetters[0].reason).toBe('line longer than 5000 bytes');
  });

  it('dead-letters a line over the limit whose last piece arrives with its newline in one chunk', async () => {
    const file = join(dir, 'flows.log');
    const gen = new CalicoFlowLogGenerator({ seed: 12 });
    const ok = gen.lines(3);
    // Valid JSON padded to 6,000 bytes: the first 4,096-byte chunk leaves less than 5,000 bytes
    // of it carried, the second chunk holds the rest and its newline.
    const long = ok[1] + ' '.repeat(6000 - ok[1].length);
    // Exactly at the limit, across two chunks: kept.
    const atLimit = ok[2] + ' '.repeat(5000 - ok[2].length);
    writeFileSync(file, `${ok[0]}\n${long}\n${atLimit}\n`);
    const c = collector(file, { maxLineBytes: 5000 });
    await c.start();
    await waitFor(() => consumer.ids.length === 2 && consumer.deadLetters.length === 1, '2 records and a dead letter');
    expect(consumer.ids).toEqual([calicoRecordId(ok[0]), calicoRecordId(atLimit)]);
    expect(consumer.deadLetters[0].reason).toBe('line longer than 5000 bytes');
    expect(consumer.deadLetters[0].origin).toBe(`calico-file:${file}:${ok[0].length + 1}`);
  });

  it('startAt "end" skips existing content of files without a checkpoint, and waits for missing files', async () => {
    const file = join(dir, 'flows.log');
    const gen = new CalicoFlowLogGenerator({ seed: 5 });
    writeFileSync(file, `${gen.lines(5).join('\n')}\n${gen.next().slice(0, 50)}`);
    const c = collector(file, { startAt: 'end' });
    await c.start();
    await new Promise((r) => setTimeout(r, 50));
    const next = gen.next();
    appendFileSync(file, `rest-of-partial\n${next}\n`);
    await waitFor(() => consumer.ids.length === 1, '1 record');
    expect(consumer.ids).toEqual([calicoRecordId(next)]);
    expect(consumer.deadLetters).toHaveLength(0);

    const later = join(dir, 'later.log');
    const c2 = collector(later);
    await c2.start();
    const l = gen.next();
    writeFileSync(later, `${l}\n`);
    await waitFor(() => consumer.ids.includes(calicoRecordId(l)), 'record from a file created after start');
  });

  it('follows every file a glob matches, one checkpoint stream per file', async () => {
    mkdirSync(join(dir, 'node-a'));
    mkdirSync(join(dir, 'node-b'));
    const gen = new CalicoFlowLogGenerator({ seed: 8 });
    const la = gen.lines(4);
    const lb = gen.lines(3);
    writeFileSync(join(dir, 'node-a', 'flows.log'), la.map((l) => `${l}\n`).join(''));
    const c = collector(join(dir, 'node-*', 'flows.log'));
    await c.start();
    writeFileSync(join(dir, 'node-b', 'flows.log'), lb.map((l) => `${l}\n`).join(''));
    await waitFor(() => consumer.ids.length === 7, '7 records');
    expect([...consumer.checkpoints.keys()].sort()).toEqual([
      `calico-file:${join(dir, 'node-a', 'flows.log')}`,
      `calico-file:${join(dir, 'node-b', 'flows.log')}`,
    ]);
  });
});

describe('CalicoFileCollector health', () => {
  it('keeps retrying a path that fails to read (not ENOENT): up=0, readiness down after the grace, one log line per change, then recovers', async () => {
    const file = join(dir, 'flows.log');
    mkdirSync(file); // reading a directory fails with EISDIR
    const log = collectingLogger();
    const c = collector(file, { logger: log, retryDelayMs: 10 });
    const readiness = new ReadinessChecks({
      database: async () => true,
      collectors: [c],
      collectorDownGraceMs: 100,
      log: silentLogger,
    });
    const up = (): Promise<number> => metricValue('dropscope_collector_up', { collector: 'calico-file' });
    await c.start();
    await waitForAsync(async () => (await readiness.check())['collector:calico-file'] === 'down', 'readiness down');
    expect(await up()).toBe(0);
    // Several retries have failed by now, and each logged nothing new.
    await waitForAsync(async () => log.lines.filter((l) => l.msg === 'collector down').length >= 1, 'the down line');

    rmSync(file, { recursive: true });
    const gen = new CalicoFlowLogGenerator({ seed: 5, denyShare: 0.5 });
    const lines = gen.lines(3);
    writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
    await waitFor(() => consumer.ids.length === 3, 'the three lines after recovery');
    await waitForAsync(async () => (await up()) === 1, 'up again');
    expect(await readiness.check()).toEqual({ database: 'ok', 'collector:calico-file': 'ok' });
    await c.stop();
    expect(new Set(consumer.ids)).toEqual(new Set(lines.map((l) => calicoRecordId(l))));
    const changes = log.lines.filter((l) => l.msg === 'collector down' || l.msg === 'collector up');
    expect(changes.map((l) => l.msg)).toEqual(['collector down', 'collector up']);
    expect(String(changes[0].fields.cause)).toMatch(/^EISDIR/);
  });
});

async function waitForAsync(cond: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
