import { describe, expect, it } from '@jest/globals';
import { ROLLUPS, SqlParams, filterClause } from './sql-filters.js';

const W = { from: 0, to: 60_000 };
const ALL = ['allowed', 'denied', 'dropped', 'audit', 'other'];

function clause(f: Parameters<typeof filterClause>[0]): [string, unknown[]] {
  const ps = new SqlParams();
  return [filterClause(f, ROLLUPS, ps), ps.values];
}

describe('filterClause: verdicts', () => {
  it('adds no condition when every verdict is asked for, in any order', () => {
    expect(clause({ ...W, verdict: ALL })).toEqual(['TRUE', []]);
    expect(clause({ ...W, verdict: ['other', 'audit', 'dropped', 'denied', 'allowed'] })).toEqual(['TRUE', []]);
  });

  it('keeps the other filters alone when every verdict is asked for', () => {
    expect(clause({ ...W, verdict: ALL, namespace: 'shop' })).toEqual([
      '(src_namespace = $1 OR dst_namespace = $1)',
      ['shop'],
    ]);
  });

  it('filters by the verdicts asked for when one is missing', () => {
    expect(clause({ ...W, verdict: ['allowed', 'denied', 'dropped', 'audit'] })).toEqual([
      'verdict = ANY($1::text[])',
      [['allowed', 'denied', 'dropped', 'audit']],
    ]);
    expect(clause({ ...W, verdict: ['denied'] })).toEqual(['verdict = $1', ['denied']]);
  });
});
