import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/domain/errors.js';
import { parseIfMatch, recordPageBody, toEntityTag } from '../../src/http/record-reply.js';
import type { RecordView } from '../../src/services/record-service.js';

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

describe('a page of records', () => {
  const view = (id: string, padding: number): RecordView => ({
    doc: { id, created_at: 't', updated_at: 't', note: 'x'.repeat(padding) },
    etag: 'e',
    source: 'live',
  });
  const size = (v: RecordView) => Buffer.byteLength(JSON.stringify(v.doc));
  const page = (body: string) => JSON.parse(body) as { items: { id: string }[]; next_after: string | null };

  it("sends every record and the store's next_after while under the byte bound", () => {
    const views = [view('a', 10), view('b', 10)];
    const body = recordPageBody(views, 'b', 10_000);
    expect(page(body)).toEqual({ items: views.map((v) => v.doc), next_after: 'b' });
    expect(page(recordPageBody(views, null, 10_000)).next_after).toBeNull();
  });

  it('ends the page early at the byte bound, continuing from the last record sent', () => {
    const views = [view('a', 100), view('b', 100), view('c', 100)];
    const bound = size(views[0] as RecordView) * 2;
    const body = page(recordPageBody(views, null, bound));
    expect(body.items.map((item) => item.id)).toEqual(['a', 'b']);
    expect(body.next_after).toBe('b');
  });

  it('always sends at least one record, however large', () => {
    const body = page(recordPageBody([view('big', 5000), view('next', 1)], null, 100));
    expect(body.items.map((item) => item.id)).toEqual(['big']);
    expect(body.next_after).toBe('big');
  });
});
