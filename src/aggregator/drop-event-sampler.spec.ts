import { describe, expect, it } from '@jest/globals';
import { DropEventSampler } from './drop-event-sampler.js';
import { BatchRollup } from './edge-rollup.js';
import type { FlowRecord } from '../flow/flow-record.js';
import type { PrefoldedSegment } from './prefolded-segment.js';

function takes(s: DropEventSampler, key: string, n: number): number {
  let kept = 0;
  for (let i = 0; i < n; i++) if (s.take(key)) kept++;
  return kept;
}

describe('DropEventSampler', () => {
  it('keeps the first `perRow` events of each row, and counts rows apart', () => {
    const s = new DropEventSampler(3);
    expect([s.take('m1|a'), s.take('m1|a'), s.take('m1|a'), s.take('m1|a'), s.take('m1|a')]).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
    expect(takes(s, 'm1|b', 10)).toBe(3);
    expect(takes(s, 'm2|a', 10)).toBe(3);
  });

  it('holds at most `maxKeys` rows, and a row pushed out starts counting again', () => {
    const s = new DropEventSampler(2, 4);
    expect(takes(s, 'a', 5)).toBe(2);
    for (const k of ['b', 'c', 'd', 'e', 'f']) s.take(k);
    expect(s.size).toBeLessThanOrEqual(4);
    // 'a' was in the generation that the last rotation forgot.
    expect(takes(s, 'a', 5)).toBe(2);
  });

  it('remembers a row of the older generation across one rotation', () => {
    const s = new DropEventSampler(2, 4);
    expect(takes(s, 'a', 2)).toBe(2); // current: a
    s.take('b'); // current: a, b: full, it becomes the older generation
    expect(s.take('a')).toBe(false);
  });

  it('keeps counting a row at its cap that comes again, however many other rows pass', () => {
    const s = new DropEventSampler(2, 4);
    expect(takes(s, 'flood', 2)).toBe(2);
    for (let i = 0; i < 50; i++) {
      s.take(`other-${i}`);
      expect(s.take('flood')).toBe(false);
    }
    expect(s.size).toBeLessThanOrEqual(4);
  });

  it('forgets every count on reset', () => {
    const s = new DropEventSampler(1);
    expect(takes(s, 'a', 3)).toBe(1);
    s.reset();
    expect(takes(s, 'a', 3)).toBe(1);
    expect(s.size).toBe(1);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses %p events per row', (n) => {
    expect(() => new DropEventSampler(n)).toThrow(`events per roll-up row must be an integer ≥ 1, got ${n}`);
  });
});

function drop(id: string, time: string, dstPort = 5432): FlowRecord {
  return {
    id,
    source: 'hubble',
    cluster: 'c1',
    time,
    verdict: 'denied',
    dropReason: 'POLICY_DENIED',
    direction: 'ingress',
    src: { kind: 'pod', namespace: 'a', pod: `web-${id}`, workload: { kind: 'Deployment', name: 'web' } },
    dst: { kind: 'pod', namespace: 'b', workload: { kind: 'Deployment', name: 'db' } },
    protocol: 'TCP',
    dstPort,
    count: 1,
    policies: [],
  };
}

describe('BatchRollup with a sampler', () => {
  it('keeps the first events of each edge and minute, and counts every flow in the roll-up', () => {
    const b = new BatchRollup(new DropEventSampler(2));
    for (let i = 0; i < 5; i++) b.add(drop(`x${i}`, `2026-03-10T11:30:0${i}Z`), undefined);
    for (let i = 0; i < 3; i++) b.add(drop(`y${i}`, `2026-03-10T11:31:0${i}Z`), undefined);
    b.add(drop('z0', '2026-03-10T11:30:09Z', 6379), undefined);
    expect(b.events.map((e) => e.flow_id)).toEqual(['x0', 'x1', 'y0', 'y1', 'z0']);
    expect(b.eventsSampledOut).toBe(4);
    expect(b.drops).toBe(9);
    expect([...b.rollups.values()].map((r) => r.count)).toEqual([5, 3, 1]);
  });

  it('without one keeps every event', () => {
    const b = new BatchRollup();
    for (let i = 0; i < 5; i++) b.add(drop(`x${i}`, `2026-03-10T11:30:0${i}Z`), undefined);
    expect(b.events).toHaveLength(5);
    expect(b.eventsSampledOut).toBe(0);
  });

  it('applies its bound across merged segments that each kept their own', () => {
    // Lines of two roll-up rows of one minute: 'e…' of row 0, 'f…' of row 1.
    const segment = (lines: string[], sampledOut: number): PrefoldedSegment => ({
      records: lines.length,
      rows: {
        keys: ['m|e', 'm|f'],
        heads: ['e', 'f'],
        labels: [],
        srcLabels: Int32Array.of(-1, -1),
        dstLabels: Int32Array.of(-1, -1),
        numbers: new Float64Array(10),
      },
      events: new TextEncoder().encode(lines.join('')),
      eventEnds: Int32Array.from(lines, (_, i) => lines.slice(0, i + 1).join('').length),
      eventRows: Int32Array.from(lines, (l) => (l.startsWith('e') ? 0 : 1)),
      eventsSampledOut: sampledOut,
      unattributed: [],
      days: [],
      flows: 0,
      drops: 0,
      byVerdict: {},
      recordsBySource: new Map(),
      processed: new Map(),
      dropLabels: new Map(),
      invalid: [],
      byDay: [],
    });
    const b = new BatchRollup(new DropEventSampler(2));
    b.merge(segment(['e1\n', 'e2\n', 'f1\n'], 3));
    b.merge(segment(['e3\n', 'f2\n', 'f3\n'], 1));
    // Runs of kept lines, as views of each segment's bytes.
    expect(b.eventChunks.map((c) => new TextDecoder().decode(c))).toEqual(['e1\ne2\nf1\n', 'f2\n']);
    expect(b.eventChunkEvents).toBe(4);
    expect(b.eventsSampledOut).toBe(3 + 1 + 2);

    // Without a sampler each segment's bytes are passed on whole.
    const all = new BatchRollup();
    all.merge(segment(['e1\n', 'e2\n', 'f1\n'], 0));
    expect(all.eventChunks.map((c) => new TextDecoder().decode(c))).toEqual(['e1\ne2\nf1\n']);
    expect(all.eventChunkEvents).toBe(3);
  });
});
