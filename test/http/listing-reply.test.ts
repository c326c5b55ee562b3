import { describe, expect, it } from 'vitest';
import { canonicalBytes, sha256Hex, type RecordDocument } from '../../src/domain/billing-record.js';
import type { CreationKey } from '../../src/domain/creation-order.js';
import { listedItemJson, listingPageBody } from '../../src/http/listing-reply.js';
import type { StoredEntry } from '../../src/ports/archive-index.js';
import type { ArchivedListed, ListedPage, ListedRecord } from '../../src/services/record-listing.js';

const doc = (id: string, padding = 0): RecordDocument => ({
  id,
  customer_id: 'c-1',
  amount: 12.5,
  created_at: '2025-01-01T00:00:00.000Z',
  updated_at: '2025-01-01T00:00:00.000Z',
  note: 'x'.repeat(padding),
});
const key = (id: string): CreationKey => ({ createdAt: '2025-01-01T00:00:00.000Z', id });
const live = (id: string, padding = 0): ListedRecord => ({
  source: 'live',
  key: key(id),
  doc: doc(id, padding),
  etag: `etag-${id}`,
});
function archived(id: string, read: ArchivedListed['read'] | 'body'): ArchivedListed {
  const bytes = canonicalBytes(doc(id));
  const entry: StoredEntry = {
    id,
    customer_id: 'c-1',
    created_at: '2025-01-01T00:00:00.000Z',
    location: { layout: 'record', blob: `records/${id}.json`, offset: 0, length: bytes.length },
    sha256: sha256Hex(bytes),
    size: bytes.length,
    archived_at: '2026-01-01T00:00:00.000Z',
    run_id: 'run-1',
    etag: 'g1',
  };
  return {
    source: 'archive',
    key: key(id),
    entry,
    etag: `sha256-${entry.sha256}`,
    tier: 'Archive',
    read: read === 'body' ? { bytes, doc: doc(id) } : read,
  };
}
const parse = (json: string) => JSON.parse(json) as Record<string, unknown>;

describe('a listed record', () => {
  it('says where it lives, its entity tag, and the record as stored', () => {
    expect(parse(listedItemJson(live('a'), undefined))).toEqual({
      source: 'live',
      etag: '"etag-a"',
      record: doc('a'),
    });
    const item = archived('b', 'body');
    expect(parse(listedItemJson(item, undefined))).toEqual({
      source: 'archive',
      tier: 'Archive',
      etag: `"${item.etag}"`,
      rehydration_required: false,
      record: doc('b'),
    });
  });

  it('sends an archived record as the bytes read, byte for byte', () => {
    const item = archived('b', 'body');
    expect(listedItemJson(item, undefined)).toContain(`"record":${canonicalBytes(doc('b')).toString()}}`);
  });

  it('keeps only the fields asked for, in the order asked, and leaves out those the record lacks', () => {
    expect(listedItemJson(live('a'), ['amount', 'id', 'missing'])).toContain(
      '"record":{"amount":12.5,"id":"a"}',
    );
    expect(parse(listedItemJson(archived('b', 'body'), ['id'])).record).toEqual({ id: 'b' });
  });

  it('lists a record that needs rehydrating without a body, saying whether it is under way', () => {
    expect(parse(listedItemJson(archived('c', { rehydrating: false }), undefined))).toMatchObject({
      source: 'archive',
      tier: 'Archive',
      rehydration_required: true,
      rehydrating: false,
      id: 'c',
      customer_id: 'c-1',
      created_at: '2025-01-01T00:00:00.000Z',
    });
    expect(parse(listedItemJson(archived('c', { rehydrating: false }), undefined)).record).toBeUndefined();
  });
});

describe('a page of listed records', () => {
  const cursorOf = (k: CreationKey) => `after:${k.id}`;
  const body = (page: ListedPage, maxBytes?: number) =>
    JSON.parse(listingPageBody(page, undefined, cursorOf, maxBytes)) as {
      items: { record: { id: string } }[];
      next_cursor: string | null;
    };

  it('sends every record, with a cursor where the next page starts only when one follows', () => {
    const items = [live('a'), live('b')];
    expect(body({ items, next: key('b') }).next_cursor).toBe('after:b');
    expect(body({ items, next: undefined }).next_cursor).toBeNull();
    expect(body({ items, next: undefined }).items.map((item) => item.record.id)).toEqual(['a', 'b']);
    // A page may end before any record when the scan it made found none (a rare status).
    expect(body({ items: [], next: key('z') })).toEqual({ items: [], next_cursor: 'after:z' });
  });

  it('ends the page early at the byte bound, continuing from the last record sent', () => {
    const items = [live('a', 100), live('b', 100), live('c', 100)];
    const one = Buffer.byteLength(listedItemJson(items[0] as ListedRecord, undefined));
    const page = body({ items, next: undefined }, one * 2);
    expect(page.items.map((item) => item.record.id)).toEqual(['a', 'b']);
    expect(page.next_cursor).toBe('after:b');
  });

  it('always sends at least one record, however large', () => {
    const page = body({ items: [live('big', 5000), live('next')], next: undefined }, 100);
    expect(page.items.map((item) => item.record.id)).toEqual(['big']);
    expect(page.next_cursor).toBe('after:big');
  });
});
