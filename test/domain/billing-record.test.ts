import { describe, expect, it } from 'vitest';
import {
  canonicalBytes,
  newRecordDocument,
  RECORD_LIMITS,
  replacedRecordDocument,
  sha256Hex,
  type RecordDocument,
} from '../../src/domain/billing-record.js';
import { ValidationError } from '../../src/domain/errors.js';

const now = new Date('2026-11-27T12:00:00.000Z');
const valid = { customer_id: 'c-1', amount: 10.5 };

function rejection(input: unknown): string {
  try {
    newRecordDocument(input, now);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as Error).message;
  }
  throw new Error('expected a ValidationError');
}

describe('newRecordDocument', () => {
  it('fills defaults, a UUID id and updated_at equal to created_at', () => {
    const doc = newRecordDocument(valid, now);
    expect(doc.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(doc).toMatchObject({
      customer_id: 'c-1',
      amount: 10.5,
      currency: 'USD',
      status: 'pending',
      description: '',
      due_date: null,
      created_at: now.toISOString(),
      updated_at: now.toISOString(),
    });
    expect(doc).not.toHaveProperty('metadata');
  });

  it('accepts a customer_id of 128 characters outside the BMP, each a surrogate pair', () => {
    expect(newRecordDocument({ ...valid, customer_id: '😀'.repeat(128) }, now).customer_id).toBe(
      '😀'.repeat(128),
    );
  });

  it('keeps a past created_at normalised to UTC and a given id', () => {
    const doc = newRecordDocument(
      { ...valid, id: 'inv:2026.01_a-b', created_at: '2026-01-01T02:00:00+02:00' },
      now,
    );
    expect(doc.id).toBe('inv:2026.01_a-b');
    expect(doc.created_at).toBe('2026-01-01T00:00:00.000Z');
    expect(doc.updated_at).toBe(doc.created_at);
  });

  it.each([
    [{ ...valid, amount: -1 }, 'amount'],
    [{ ...valid, amount: 10.123 }, 'at most 2 decimal places'],
    [{ ...valid, amount: 1e-7 }, 'at most 2 decimal places'],
    [{ ...valid, amount: 1e15 }, 'amount'],
    [{ ...valid, amount: '10' }, 'amount'],
    [{ ...valid, currency: 'usd' }, 'currency'],
    [{ ...valid, currency: 'XYZ' }, 'not an ISO 4217 code'],
    [{ ...valid, status: 'lost' }, 'status'],
    [{ ...valid, due_date: '2026-02-30' }, 'due_date'],
    [{ ...valid, created_at: 'yesterday' }, 'created_at'],
    [{ ...valid, created_at: '2026-11-27T12:00:01Z' }, 'in the future'],
    [{ ...valid, id: 'has space' }, 'id'],
    [{ ...valid, id: 'x'.repeat(129) }, 'id'],
    [{ ...valid, id: '' }, 'id'],
    [{ ...valid, surprise: true }, "unknown field 'surprise'"],
    [{ amount: 1 }, "missing required field 'customer_id'"],
    [{ ...valid, metadata: 'x' }, 'metadata'],
    [{ ...valid, amount: -0 }, 'negative zero'],
    [{ ...valid, customer_id: 'c-\ud800' }, 'customer_id holds a lone surrogate'],
    [{ ...valid, customer_id: '\udfff' }, 'customer_id holds a lone surrogate'],
    [{ ...valid, created_at: '2016-12-31T23:59:60Z' }, 'leap second'],
    [{ ...valid, created_at: '2024-01-01T00:00:00+05' }, 'cannot be read as an instant'],
    [[], 'body'],
    [null, 'body'],
  ])('refuses %j naming the problem', (input, needle) => {
    expect(rejection(input)).toContain(needle);
  });

  it('refuses nesting past the limit without overflowing, and accepts it up to the limit', () => {
    const nested = (levels: number): unknown => {
      let value: unknown = 1;
      for (let i = 0; i < levels; i++) value = { a: value };
      return value;
    };
    // metadata is level 1 of the record, so it may nest 31 levels of its own.
    expect(newRecordDocument({ ...valid, metadata: nested(31) }, now).metadata).toEqual(nested(31));
    expect(rejection({ ...valid, metadata: nested(32) })).toBe(
      `the record nests more than ${RECORD_LIMITS.depth} levels deep`,
    );
    // Deep enough that serialising it would overflow the stack.
    expect(rejection({ ...valid, metadata: nested(100_000) })).toContain('levels deep');
    const existing = newRecordDocument(valid, now);
    expect(() => replacedRecordDocument(existing, { ...valid, imported: nested(100_000) }, now)).toThrow(
      /levels deep/,
    );
  });

  it('refuses a record of too many values, and metadata too large', () => {
    const wide = Object.fromEntries(Array.from({ length: RECORD_LIMITS.values }, (_, i) => [`k${i}`, i]));
    expect(rejection({ ...valid, metadata: wide })).toBe(
      `the record holds more than ${RECORD_LIMITS.values} values in all`,
    );
    const large = { note: 'x'.repeat(RECORD_LIMITS.metadataBytes) };
    expect(rejection({ ...valid, metadata: large })).toMatch(
      /^metadata takes \d+ bytes as JSON, more than 65536$/,
    );
    const fits = { note: 'x'.repeat(RECORD_LIMITS.metadataBytes - 20) };
    expect(newRecordDocument({ ...valid, metadata: fits }, now).metadata).toEqual(fits);
  });

  it('accepts the largest amount and whole amounts', () => {
    expect(newRecordDocument({ ...valid, amount: 999_999_999_999.99 }, now).amount).toBe(999_999_999_999.99);
    expect(newRecordDocument({ ...valid, amount: 0 }, now).amount).toBe(0);
  });

  it('accepts created_at exactly now', () => {
    expect(newRecordDocument({ ...valid, created_at: now.toISOString() }, now).created_at).toBe(
      now.toISOString(),
    );
  });
});

describe('replacedRecordDocument', () => {
  const existing: RecordDocument = {
    id: 'r1',
    customer_id: 'c-1',
    amount: 5,
    currency: 'USD',
    status: 'pending',
    description: 'x',
    due_date: null,
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
    legacy_ref: { system: 'old', n: 7 },
    metadata: { a: 1 },
  };

  it('applies known fields, keeps id, created_at and unknown fields, stamps updated_at', () => {
    const next = replacedRecordDocument(
      existing,
      { ...existing, amount: 7.25, status: 'paid', created_at: '2020-01-01T00:00:00Z' },
      now,
    );
    expect(next).toMatchObject({
      id: 'r1',
      amount: 7.25,
      status: 'paid',
      created_at: existing.created_at,
      legacy_ref: existing.legacy_ref,
    });
    expect(next.updated_at).toBe(now.toISOString());
  });

  it('refuses a customer_id with a lone surrogate, as a create does', () => {
    expect(() => replacedRecordDocument(existing, { ...existing, customer_id: 'c-\ud83d' }, now)).toThrow(
      /customer_id holds a lone surrogate/,
    );
  });

  it('drops omitted optional known fields (full replacement) but never unknown ones', () => {
    const next = replacedRecordDocument(existing, { customer_id: 'c-1', amount: 5 }, now);
    expect(next).not.toHaveProperty('metadata');
    expect(next.description).toBe('');
    expect(next.legacy_ref).toEqual(existing.legacy_ref);
  });

  it('refuses a body id that differs from the path', () => {
    expect(() => replacedRecordDocument(existing, { ...existing, id: 'r2' }, now)).toThrow(/does not match/);
  });

  it('refuses changing or adding fields the API does not know', () => {
    expect(() =>
      replacedRecordDocument(existing, { ...existing, legacy_ref: { system: 'new' } }, now),
    ).toThrow(/cannot be changed/);
    expect(() => replacedRecordDocument(existing, { ...existing, brand_new: 1 }, now)).toThrow(
      /unknown field 'brand_new'/,
    );
  });
});

describe('canonicalBytes', () => {
  it('is the compact JSON of the document, stable for hashing', () => {
    const doc = { id: 'a', created_at: 'c', updated_at: 'u', amount: 1.5 };
    expect(canonicalBytes(doc).toString()).toBe('{"id":"a","created_at":"c","updated_at":"u","amount":1.5}');
    expect(sha256Hex(canonicalBytes(doc))).toBe(sha256Hex(Buffer.from(JSON.stringify(doc))));
  });
});
