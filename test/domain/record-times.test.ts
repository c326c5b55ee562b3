import { describe, expect, it } from 'vitest';
import { instantMs, recordTimes, utcCreatedAt } from '../../src/domain/record-times.js';

describe('instantMs', () => {
  it.each([
    ['2024-01-01T10:00:00Z', '2024-01-01T10:00:00.000Z'],
    ['2024-01-01T10:00:00.000Z', '2024-01-01T10:00:00.000Z'],
    ['2024-01-01t10:00:00z', '2024-01-01T10:00:00.000Z'],
    ['2024-01-01 10:00:00Z', '2024-01-01T10:00:00.000Z'],
    ['2024-01-01T01:00:00+02:00', '2023-12-31T23:00:00.000Z'],
    ['2023-12-31T20:30:00-05:30', '2024-01-01T02:00:00.000Z'],
    ['2024-01-01T10:00:00-00:00', '2024-01-01T10:00:00.000Z'],
    ['2024-01-01T10:00:00.5Z', '2024-01-01T10:00:00.500Z'],
    // Finer than a millisecond: dropped, never rounded up past the instant.
    ['2024-01-01T10:00:00.123999999Z', '2024-01-01T10:00:00.123Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
    ['0099-03-01T00:00:00Z', '0099-03-01T00:00:00.000Z'],
    ['2024-01-01T00:00:00+23:59', '2023-12-31T00:01:00.000Z'],
  ])('reads %s as %s', (text, iso) => {
    expect(new Date(instantMs(text) ?? Number.NaN).toISOString()).toBe(iso);
  });

  it.each([
    '2024-01-01T10:00:00',
    '2024-01-01',
    '2024-01-01T10:00Z',
    '2024-01-01T10:00:00+02',
    '2024-01-01T10:00:00+0200',
    '2024-02-30T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2024-13-01T00:00:00Z',
    '2024-01-01T24:00:00Z',
    '2016-12-31T23:59:60Z',
    '2024-01-01T10:00:00+24:00',
    'Jan 1 2024',
    'garbage 2024',
    ' 2024-01-01T10:00:00Z',
    '2024-01-01T10:00:00Z\n',
    '',
  ])('does not read %j', (text) => {
    expect(instantMs(text)).toBeUndefined();
  });

  it('reads no number, whether seconds or milliseconds, and nothing else that is not text', () => {
    for (const value of [1704103200, 1704103200000, null, undefined, true, {}, ['2024-01-01T10:00:00Z']])
      expect(instantMs(value)).toBeUndefined();
  });
});

describe('recordTimes', () => {
  it('takes the latest of created, updated and restored as the last touch, by instant', () => {
    expect(
      recordTimes({
        created_at: '2024-01-01T00:00:00Z',
        updated_at: '2024-03-01T01:00:00+02:00',
        restored_at: '2024-02-29T23:30:00Z',
      }),
    ).toEqual({
      readable: true,
      createdMs: Date.parse('2024-01-01T00:00:00Z'),
      lastTouchMs: Date.parse('2024-02-29T23:30:00Z'),
    });
  });

  it('takes created_at as the last touch when updated_at and restored_at are absent or null', () => {
    const createdMs = Date.parse('2024-01-01T00:00:00Z');
    expect(recordTimes({ created_at: '2024-01-01T00:00:00Z' })).toEqual({
      readable: true,
      createdMs,
      lastTouchMs: createdMs,
    });
    expect(recordTimes({ created_at: '2024-01-01T00:00:00Z', updated_at: null, restored_at: null })).toEqual({
      readable: true,
      createdMs,
      lastTouchMs: createdMs,
    });
  });

  it('says why created_at does not read, keeping the last touch that does', () => {
    expect(recordTimes({ updated_at: '2024-01-01T00:00:00Z' })).toEqual({
      readable: false,
      problem: 'created_at is missing',
      lastTouchMs: Date.parse('2024-01-01T00:00:00Z'),
    });
    expect(recordTimes({ created_at: 1704103200 })).toMatchObject({
      readable: false,
      problem: expect.stringMatching(
        /^created_at is the number 1704103200, not an RFC 3339 date-time/,
      ) as unknown,
      lastTouchMs: undefined,
    });
    expect(recordTimes({ created_at: null })).toMatchObject({
      problem: 'created_at is null, not an RFC 3339 date-time',
    });
    expect(recordTimes({ created_at: { $date: 1 } })).toMatchObject({
      problem: 'created_at is an object, not an RFC 3339 date-time',
    });
  });

  it('refuses an unreadable updated_at or restored_at rather than ignoring it', () => {
    const times = recordTimes({
      created_at: '2024-01-01T00:00:00Z',
      updated_at: 'yesterday',
      restored_at: 1704103200000,
    });
    expect(times.readable).toBe(false);
    expect(times).toMatchObject({
      problem: expect.stringMatching(
        /^updated_at "yesterday" is not .*; restored_at is the number 1704103200000/,
      ) as unknown,
      lastTouchMs: Date.parse('2024-01-01T00:00:00Z'),
    });
  });

  it('shows at most 40 printable characters of an unreadable text', () => {
    const times = recordTimes({ created_at: `\u202e${'x'.repeat(60)}` });
    expect(times).toMatchObject({
      problem: `created_at "${'x'.repeat(40)}…" is not an RFC 3339 date-time such as 2024-02-15T00:00:00Z`,
    });
  });
});

describe('utcCreatedAt', () => {
  it('is the instant as UTC text, or the value as stored when it does not read', () => {
    expect(utcCreatedAt('2024-01-01t01:00:00.5+02:00')).toBe('2023-12-31T23:00:00.500Z');
    expect(utcCreatedAt('2024-01-01T00:00:00.000Z')).toBe('2024-01-01T00:00:00.000Z');
    expect(utcCreatedAt('not a date')).toBe('not a date');
  });
});
