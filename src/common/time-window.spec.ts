import { describe, expect, it } from '@jest/globals';
import { parseTime, parseTimeRange, TimeInputError } from './time-window.js';

const NOW = Date.parse('2025-03-08T12:00:00Z');

describe('time window', () => {
  it('reads now, relative times and RFC 3339 with a zone', () => {
    expect(parseTime('from', 'now', NOW)).toBe(NOW);
    expect(parseTime('from', '-7d', NOW)).toBe(Date.parse('2025-03-01T12:00:00Z'));
    expect(parseTime('from', '-30m', NOW)).toBe(Date.parse('2025-03-08T11:30:00Z'));
    expect(parseTime('to', '2025-03-01T00:00:00+01:00', NOW)).toBe(Date.parse('2025-02-28T23:00:00Z'));
  });

  it('refuses other forms with an error naming the parameter', () => {
    expect(() => parseTime('from', 'yesterday', NOW)).toThrow(TimeInputError);
    expect(() => parseTime('from', '2025-03-01T00:00:00', NOW)).toThrow(
      /^from: "2025-03-01T00:00:00" is not an RFC 3339/,
    );
  });

  it('defaults to the given span before to, and refuses from after to', () => {
    expect(parseTimeRange({}, NOW, 86_400_000)).toEqual({ from: Date.parse('2025-03-07T12:00:00Z'), to: NOW });
    expect(parseTimeRange({ to: '-1d' }, NOW, 3_600_000)).toEqual({
      from: Date.parse('2025-03-07T11:00:00Z'),
      to: Date.parse('2025-03-07T12:00:00Z'),
    });
    expect(() => parseTimeRange({ from: '-1d', to: '-2d' }, NOW, 1)).toThrow(/^from: .* is after to=/);
  });
});
