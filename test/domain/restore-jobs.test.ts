import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/domain/errors.js';
import {
  MAX_JOB_IDS,
  MAX_JOB_ERRORS,
  newRestoreJob,
  restoreTarget,
  withError,
} from '../../src/domain/restore-jobs.js';

function problems(input: Parameters<typeof restoreTarget>[0]): readonly string[] {
  try {
    restoreTarget(input);
  } catch (error) {
    if (error instanceof ValidationError) return error.problems;
    throw error;
  }
  return [];
}

describe('restoreTarget', () => {
  it('reads a customer, a bounded range and a status, times as the UTC text the index compares', () => {
    expect(
      restoreTarget({
        query: {
          customer_id: 'c-1',
          created_from: '2025-01-01T01:00:00+01:00',
          created_to: '2025-04-01T00:00:00Z',
        },
      }),
    ).toEqual({
      query: {
        customer_id: 'c-1',
        created_from: '2025-01-01T00:00:00.000Z',
        created_to: '2025-04-01T00:00:00.000Z',
        status: undefined,
      },
      ids: null,
    });
    expect(
      restoreTarget({
        query: {
          status: 'refunded',
          created_from: '2025-01-01T00:00:00Z',
          created_to: '2026-01-01T00:00:00Z',
        },
      }).query?.status,
    ).toBe('refunded');
  });

  it('never restores the whole archive: a customer or both ends of the range', () => {
    for (const query of [
      undefined,
      {},
      { status: 'paid' },
      { created_from: '2025-01-01T00:00:00Z' },
      { created_to: '2025-01-01T00:00:00Z' },
    ])
      expect(problems({ query })).toEqual([
        'give ids, a customer_id, or both created_from and created_to: a job never restores the whole archive',
      ]);
  });

  it('says each problem in one sentence', () => {
    expect(
      problems({
        query: {
          created_from: 'soon',
          created_to: '2025-01-01T00:00:00.0001Z',
          status: 'lost',
          customer_id: '',
        },
      }),
    ).toEqual([
      'created_from must be an RFC 3339 date-time such as 2025-01-01T00:00:00Z',
      'created_to is finer than a millisecond, which stored times do not keep',
      'status must be one of pending, paid, overdue, cancelled, refunded',
      'customer_id must not be empty',
    ]);
    expect(
      problems({ query: { created_from: '2025-02-01T00:00:00Z', created_to: '2025-01-01T00:00:00Z' } }),
    ).toEqual(['created_from must be before created_to']);
  });

  it('takes ids alone, at most MAX_JOB_IDS, each once', () => {
    expect(restoreTarget({ ids: ['a', 'b', 'a'] })).toEqual({ query: null, ids: ['a', 'b'] });
    expect(problems({ ids: ['a'], query: { customer_id: 'c' } })).toContain(
      'give either ids or query filters, not both',
    );
    expect(problems({ ids: [] })).toEqual(['ids must name at least one record']);
    expect(problems({ ids: Array.from({ length: MAX_JOB_IDS + 1 }, (_, i) => `r-${i}`) })[0]).toContain(
      `at most ${MAX_JOB_IDS}`,
    );
    expect(problems({ ids: ['ok', 'no/slash'] })).toEqual(["ids holds 'no/slash', which is no record id"]);
  });
});

describe('withError', () => {
  it('keeps the first problems only, so a job stays small however many records fail', () => {
    let job = newRestoreJob({
      job_id: 'j',
      dry_run: false,
      query: { customer_id: 'c' },
      ids: null,
      created_at: '2026-12-01T00:00:00.000Z',
      created_by: 'ops',
    });
    for (let i = 0; i < MAX_JOB_ERRORS + 5; i++) job = withError(job, `problem ${i}`);
    expect(job.errors).toHaveLength(MAX_JOB_ERRORS);
    expect(job.errors[0]).toBe('problem 0');
  });
});
