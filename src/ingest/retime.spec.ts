import { describe, expect, it } from '@jest/globals';
import { shiftTime } from './retime.js';

describe('shiftTime', () => {
  it('moves a time by whole milliseconds and keeps the digits finer than a millisecond', () => {
    expect(shiftTime('2026-11-29T09:00:07.001000Z', 3_600_000)).toBe('2026-11-29T10:00:07.001000Z');
    expect(shiftTime('2025-09-28T08:25:44.749505064Z', 1)).toBe('2025-09-28T08:25:44.750505064Z');
    expect(shiftTime('2026-01-01T00:00:00Z', -1)).toBe('2025-12-31T23:59:59.999Z');
  });

  it('writes times with an offset in UTC', () => {
    expect(shiftTime('2026-11-29T10:00:00+02:00', 0)).toBe('2026-11-29T08:00:00.000Z');
  });
});
