import { describe, expect, it } from 'vitest';
import { compareCreation, compareText, creationKeyOf } from '../../src/domain/creation-order.js';

describe('creation order', () => {
  it('orders text by code point, as the stores order UTF-8 bytes', () => {
    const texts = ['b', 'a', '', 'ab', '\uffff', '\u{1f600}', '\ue000', 'Z'];
    const byBytes = [...texts].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...texts].sort(compareText)).toEqual(byBytes);
    // UTF-16 order would put the emoji (a surrogate pair) before U+E000.
    expect(compareText('\u{1f600}', '\ue000')).toBeGreaterThan(0);
    expect(compareText('same', 'same')).toBe(0);
  });

  it('orders by created_at text, then id', () => {
    const key = (createdAt: string, id: string) => ({ createdAt, id });
    expect(compareCreation(key('2025-01-01', 'b'), key('2025-01-02', 'a'))).toBeLessThan(0);
    expect(compareCreation(key('2025-01-01', 'b'), key('2025-01-01', 'a'))).toBeGreaterThan(0);
    expect(compareCreation(key('2025-01-01', 'a'), key('2025-01-01', 'a'))).toBe(0);
  });

  it('keys only records whose created_at is text', () => {
    expect(creationKeyOf({ id: 'a', created_at: '2025-01-01T00:00:00.000Z' })).toEqual({
      createdAt: '2025-01-01T00:00:00.000Z',
      id: 'a',
    });
    expect(creationKeyOf({ id: 'a', created_at: 1735689600 })).toBeUndefined();
    expect(creationKeyOf({ id: 'a' })).toBeUndefined();
  });
});
