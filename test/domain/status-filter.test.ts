import { describe, expect, it } from 'vitest';
import type { RecordDocument } from '../../src/domain/billing-record.js';
import { judgeEligible, passesStatusFilter } from '../../src/ports/live-store.js';

const old = '2020-01-01T00:00:00.000Z';
const doc = (id: string, status: unknown): RecordDocument => ({
  id,
  customer_id: 'c-1',
  amount: 1,
  status,
  created_at: old,
  updated_at: old,
});

describe('the status filter of an eligibility pass', () => {
  it('excludes the statuses named and keeps documents whose status is absent or not text', () => {
    const exclude = { exclude: ['pending', 'overdue'] };
    expect(passesStatusFilter(doc('a', 'pending'), exclude)).toBe(false);
    expect(passesStatusFilter(doc('b', 'paid'), exclude)).toBe(true);
    expect(passesStatusFilter(doc('c', undefined), exclude)).toBe(true);
    expect(passesStatusFilter(doc('d', 7), exclude)).toBe(true);
    expect(passesStatusFilter(doc('e', 'Pending'), exclude)).toBe(true);
    expect(passesStatusFilter(doc('f', 'pending'), undefined)).toBe(true);
    expect(passesStatusFilter(doc('g', 'pending'), { exclude: [] })).toBe(true);
  });

  it('with `only`, keeps just the statuses named, never a document without a text status', () => {
    const only = { only: ['pending'] };
    expect(passesStatusFilter(doc('a', 'pending'), only)).toBe(true);
    expect(passesStatusFilter(doc('b', 'paid'), only)).toBe(false);
    expect(passesStatusFilter(doc('c', undefined), only)).toBe(false);
    expect(passesStatusFilter(doc('d', ['pending']), only)).toBe(false);
  });

  it('decides what a store pre-selected, unarchivable documents included', () => {
    const candidates = [
      doc('pending', 'pending'),
      doc('paid', 'paid'),
      { ...doc('bad', 'pending'), created_at: 1 },
    ];
    const judged = judgeEligible(
      candidates.map((d) => ({ doc: d as RecordDocument, etag: 'e' })),
      new Date('2026-01-01T00:00:00Z'),
      { exclude: ['pending'] },
    );
    expect(judged.records.map((r) => r.doc.id)).toEqual(['paid']);
    expect(judged.unarchivable).toEqual([]);
  });
});
