import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/domain/errors.js';
import { parseIfMatch, toEntityTag } from '../../src/http/record-reply.js';

describe('entity tags', () => {
  it.each([
    ['2dcb5d08-e783-4d20-b65a-bd8d46c184b0'],
    ['sha256-bd8dbfe7fec9bcad862055a3f2002cb6f0c9a74efa7bbfef136a89231b1cb463'],
    ['"00000a00-0000-0700-0000-65f1c0e80000"'],
    ['b64.looks-encoded'],
    ['with space'],
  ])('round-trips the store etag %s through ETag and If-Match', (etag) => {
    const header = `"${toEntityTag(etag)}"`;
    expect(header.slice(1, -1)).toMatch(/^[\x21\x23-\x7e]+$/);
    expect(parseIfMatch(header)).toBe(etag);
    expect(parseIfMatch(`W/${header}`)).toBe(etag);
  });

  it('keeps plain etags readable', () => {
    expect(toEntityTag('sha256-abc')).toBe('sha256-abc');
  });

  it('accepts * and refuses lists or empty tags', () => {
    expect(parseIfMatch('*')).toBe('*');
    expect(parseIfMatch(undefined)).toBeUndefined();
    expect(() => parseIfMatch('"a", "b"')).toThrow(ValidationError);
    expect(() => parseIfMatch('""')).toThrow(ValidationError);
  });
});
