import { sliceLabel, type Slice } from './slices.js';

/** A century: beyond any record's age, and as far as ARCHIVAL_DAYS_THRESHOLD may reach too. */
export const MAX_OLDER_THAN_DAYS = 36_500;

/** The options a caller chose for one archival run; absent ones take the configured defaults. */
export interface ChosenRunOptions {
  olderThanDays?: number | undefined;
  limit?: number | undefined;
  slice?: Slice | undefined;
}

/**
 * What is wrong with a run's options, one sentence per problem, empty when nothing is. The one
 * statement of their rules, so every edge refuses the same options with the same words. `slices`
 * is the configured ARCHIVAL_SLICES.
 */
export function runOptionProblems(options: ChosenRunOptions, slices: number): string[] {
  const { olderThanDays, limit, slice } = options;
  const problems: string[] = [];
  if (olderThanDays !== undefined && !isWholeNumber(olderThanDays, 0, MAX_OLDER_THAN_DAYS))
    problems.push(
      `older_than_days must be a whole number from 0 to ${MAX_OLDER_THAN_DAYS} (got ${String(olderThanDays)})`,
    );
  if (limit !== undefined && !isWholeNumber(limit, 1, Number.MAX_SAFE_INTEGER))
    problems.push(`limit must be a whole number ≥ 1 (got ${String(limit)})`);
  if (slice !== undefined && slice.count !== slices)
    problems.push(
      `slice ${sliceLabel(slice)} does not split the store the configured way: ARCHIVAL_SLICES is ${slices}`,
    );
  return problems;
}

function isWholeNumber(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}
