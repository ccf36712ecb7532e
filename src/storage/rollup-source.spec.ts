import { describe, expect, it } from '@jest/globals';
import type { Marks } from './rollup-closer.js';
import { rollupSegments, windowUnits, type RollupSegment } from './rollup-source.js';

const t = (hhmm: string) => Date.parse(`2025-03-01T${hhmm}:00Z`);
const MARKS: Marks = new Map([
  ['5m', t('21:40')],
  ['15m', t('21:30')],
  ['hour', t('21:00')],
  ['4h', t('20:00')],
  ['day', t('00:00')],
]);
const W = { from: t('01:07') + 30_000, to: t('21:50') + 10_000 };
const seg = (table: RollupSegment['table'], from: string, to: string): RollupSegment => ({
  table,
  from: t(from),
  to: t(to),
});

describe('rollupSegments', () => {
  it('takes whole closed 4-hour units inside a window, then hours, 15-minute units, 5-minute units and minutes at the ends', () => {
    expect(rollupSegments(W, MARKS)).toEqual([
      seg('edge_rollups', '01:07', '01:10'),
      seg('edge_rollups_5m', '01:10', '01:15'),
      seg('edge_rollups_15m', '01:15', '02:00'),
      seg('edge_rollups_hourly', '02:00', '04:00'),
      seg('edge_rollups_4h', '04:00', '20:00'),
      seg('edge_rollups_hourly', '20:00', '21:00'),
      seg('edge_rollups_15m', '21:00', '21:30'),
      seg('edge_rollups_5m', '21:30', '21:40'),
      seg('edge_rollups', '21:40', '21:51'),
    ]);
  });

  it('uses 4-hour units for a step they divide (1d), not for 1h; 15-minute units for 1h', () => {
    expect(rollupSegments(W, MARKS, 3_600_000)).toEqual([
      seg('edge_rollups', '01:07', '01:10'),
      seg('edge_rollups_5m', '01:10', '01:15'),
      seg('edge_rollups_15m', '01:15', '02:00'),
      seg('edge_rollups_hourly', '02:00', '21:00'),
      seg('edge_rollups_15m', '21:00', '21:30'),
      seg('edge_rollups_5m', '21:30', '21:40'),
      seg('edge_rollups', '21:40', '21:51'),
    ]);
    // A day is a whole number of every unit: the same split as without a step.
    expect(rollupSegments(W, MARKS, 86_400_000)).toEqual(rollupSegments(W, MARKS));
  });

  it('a 15-minute step reads 15-minute units and no hours; a 5-minute step reads neither', () => {
    expect(rollupSegments(W, MARKS, 900_000)).toEqual([
      seg('edge_rollups', '01:07', '01:10'),
      seg('edge_rollups_5m', '01:10', '01:15'),
      seg('edge_rollups_15m', '01:15', '21:30'),
      seg('edge_rollups_5m', '21:30', '21:40'),
      seg('edge_rollups', '21:40', '21:51'),
    ]);
    expect(rollupSegments(W, MARKS, 300_000)).toEqual([
      seg('edge_rollups', '01:07', '01:10'),
      seg('edge_rollups_5m', '01:10', '21:40'),
      seg('edge_rollups', '21:40', '21:51'),
    ]);
  });

  it('reads no 4-hour unit past its mark', () => {
    const marks: Marks = new Map([...MARKS, ['4h', t('08:00')]]);
    expect(
      rollupSegments(W, marks).filter((s) => ['edge_rollups_hourly', 'edge_rollups_4h'].includes(s.table)),
    ).toEqual([
      seg('edge_rollups_hourly', '02:00', '04:00'),
      seg('edge_rollups_4h', '04:00', '08:00'),
      seg('edge_rollups_hourly', '08:00', '21:00'),
    ]);
  });

  it('reads no 15-minute unit past its mark: 5-minute units from there', () => {
    const end = (marks: Marks) => rollupSegments(W, marks).filter((s) => s.from >= t('21:00'));
    expect(end(new Map([...MARKS, ['15m', t('21:15')]]))).toEqual([
      seg('edge_rollups_15m', '21:00', '21:15'),
      seg('edge_rollups_5m', '21:15', '21:40'),
      seg('edge_rollups', '21:40', '21:51'),
    ]);
    // Not one closed past the hour mark yet.
    expect(end(new Map([...MARKS, ['15m', t('21:00')]]))).toEqual([
      seg('edge_rollups_5m', '21:00', '21:40'),
      seg('edge_rollups', '21:40', '21:51'),
    ]);
  });
});

describe('windowUnits', () => {
  const unit = (table: string, from: string, to: string) => ({ table, start: t(from), end: t(to) });

  it('splits coarse segments into their units and minutes before the 5-minute mark into single minutes', () => {
    const w = windowUnits(
      [
        seg('edge_rollups', '01:07', '01:10'),
        seg('edge_rollups_15m', '01:15', '01:45'),
        seg('edge_rollups_4h', '04:00', '12:00'),
        seg('edge_rollups', '21:38', '21:43'),
      ],
      t('21:40'),
    );
    expect(w.units).toEqual([
      unit('edge_rollups', '01:07', '01:08'),
      unit('edge_rollups', '01:08', '01:09'),
      unit('edge_rollups', '01:09', '01:10'),
      unit('edge_rollups_15m', '01:15', '01:30'),
      unit('edge_rollups_15m', '01:30', '01:45'),
      unit('edge_rollups_4h', '04:00', '08:00'),
      unit('edge_rollups_4h', '08:00', '12:00'),
      unit('edge_rollups', '21:38', '21:39'),
      unit('edge_rollups', '21:39', '21:40'),
    ]);
    // From the mark on, minutes are still written: open.
    expect(w.open).toEqual([
      unit('edge_rollups', '21:40', '21:41'),
      unit('edge_rollups', '21:41', '21:42'),
      unit('edge_rollups', '21:42', '21:43'),
    ]);
  });

  it('leaves every minute open before any 5-minute unit has closed', () => {
    expect(windowUnits([seg('edge_rollups', '01:07', '01:09')], null)).toEqual({
      units: [],
      open: [unit('edge_rollups', '01:07', '01:08'), unit('edge_rollups', '01:08', '01:09')],
    });
  });
});
