import { describe, expect, it } from '@jest/globals';
import { judgeStep, percentile, type LagSample } from '../../bench/load-holds.js';

/** Lag samples every 250 ms: `troughs[k]` right after the commit in second k, a saw-tooth above it. */
function sawTooth(troughs: number[], peak: number): LagSample[] {
  const out: LagSample[] = [];
  troughs.forEach((t, k) => {
    out.push(
      { atMs: k * 1000, lag: t + peak },
      { atMs: k * 1000 + 250, lag: t },
      { atMs: k * 1000 + 500, lag: t + peak / 2 },
    );
    out.push({ atMs: k * 1000 + 750, lag: t + peak });
  });
  return out;
}

describe('when a load step holds', () => {
  it('holds when the trough stays flat, however high the saw-tooth goes between commits', () => {
    // 1000 flows/s, 5 s: troughs 300 flows (0.3 s) every second, peaks 1.5 s of flows.
    const v = judgeStep(sawTooth([0, 300, 300, 300, 300], 1500), 1000, 5000);
    expect(v.endLagSeconds).toBe(0.3);
    expect(v.growth).toBe(0);
    expect(v.held).toBe(true);
  });

  it('does not hold when the trough rises more than 0.1 s per second', () => {
    // Troughs 200, 400, 600, 800 from second 1 to 4: (800 - 200) / 1000 / 3 = 0.2 s per second.
    const v = judgeStep(sawTooth([0, 200, 400, 600, 800], 100), 1000, 5000);
    expect(v.endLagSeconds).toBe(0.8);
    expect(v.growth).toBeCloseTo(0.2, 10);
    expect(v.held).toBe(false);
  });

  it('does not hold when the lag left at the end is over 1 s of flows, even if flat', () => {
    const v = judgeStep(sawTooth([0, 2400, 2400, 2400, 2400], 100), 2000, 5000);
    expect(v.endLagSeconds).toBe(1.2);
    expect(v.held).toBe(false);
  });

  it('ignores the first second (the ramp from an empty pipeline) and the last partial second', () => {
    // Second 0 trough 0, second 5 is cut short at 5.4 s with a high sample: neither counts.
    const samples = [...sawTooth([0, 500, 500, 500, 500], 0), { atMs: 5200, lag: 9000 }];
    const v = judgeStep(samples, 1000, 5400);
    expect(v.growth).toBe(0);
    expect(v.endLagSeconds).toBe(0.5);
    expect(v.held).toBe(true);
  });

  it('refuses a step too short to judge', () => {
    expect(() => judgeStep(sawTooth([0, 0], 0), 1000, 2900)).toThrow('at least 3 s');
  });
});

describe('percentile (nearest rank)', () => {
  it('picks the value at rank ceil(n p / 100)', () => {
    const xs = [50, 10, 40, 20, 30, 60, 70, 80, 90, 100];
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
});
