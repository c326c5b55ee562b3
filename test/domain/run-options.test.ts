import { describe, expect, it } from 'vitest';
import { MAX_OLDER_THAN_DAYS, runOptionProblems } from '../../src/domain/run-options.js';

describe('run options', () => {
  it('accepts no options, and every value inside the ranges', () => {
    expect(runOptionProblems({}, 1)).toEqual([]);
    expect(runOptionProblems({ olderThanDays: 0, limit: 1 }, 1)).toEqual([]);
    expect(
      runOptionProblems({ olderThanDays: MAX_OLDER_THAN_DAYS, slice: { index: 3, count: 4 } }, 4),
    ).toEqual([]);
  });

  it('names each problem in a sentence of its own, with the value given', () => {
    expect(runOptionProblems({ olderThanDays: -1, limit: 0, slice: { index: 0, count: 2 } }, 3)).toEqual([
      'older_than_days must be a whole number from 0 to 36500 (got -1)',
      'limit must be a whole number ≥ 1 (got 0)',
      'slice 0/2 does not split the store the configured way: ARCHIVAL_SLICES is 3',
    ]);
  });

  it('refuses fractions and values past the range', () => {
    for (const olderThanDays of [1.5, MAX_OLDER_THAN_DAYS + 1, Number.NaN])
      expect(runOptionProblems({ olderThanDays }, 1)).toEqual([
        `older_than_days must be a whole number from 0 to 36500 (got ${String(olderThanDays)})`,
      ]);
    for (const limit of [2.5, -3, Number.POSITIVE_INFINITY])
      expect(runOptionProblems({ limit }, 1)).toEqual([
        `limit must be a whole number ≥ 1 (got ${String(limit)})`,
      ]);
  });
});
