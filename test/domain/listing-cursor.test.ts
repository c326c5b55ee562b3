import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/domain/errors.js';
import { decodeCursor, encodeCursor } from '../../src/domain/listing-cursor.js';

describe('listing cursors', () => {
  const key = { createdAt: '2025-01-01T00:00:00.000Z', id: 'inv-1' };
  const filters = { customer_id: 'c-1', status: undefined, created_from: '2025-01-01T00:00:00.000Z' };

  it('round-trip the key for the same filters, whatever order they are given in', () => {
    const cursor = encodeCursor(key, filters);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor, { created_from: '2025-01-01T00:00:00.000Z', customer_id: 'c-1' })).toEqual(
      key,
    );
  });

  it('refuse a cursor given with other filters', () => {
    const cursor = encodeCursor(key, filters);
    expect(() => decodeCursor(cursor, { ...filters, customer_id: 'c-2' })).toThrow(/other filters/);
    expect(() => decodeCursor(cursor, { ...filters, status: 'paid' })).toThrow(ValidationError);
  });

  it('refuse what no page gave', () => {
    for (const cursor of ['garbage', Buffer.from('{"v":2}').toString('base64url'), '']) {
      expect(() => decodeCursor(cursor, filters)).toThrow(/not one this API gave/);
    }
  });
});
