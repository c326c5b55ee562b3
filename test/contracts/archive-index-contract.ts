import { describe, expect, it } from 'vitest';
import { PreconditionFailedError } from '../../src/domain/errors.js';
import type { ArchiveEntry, ArchiveIndex } from '../../src/ports/archive-index.js';
import { useFreshStore, type StoreFixture } from './store-fixture.js';

function entry(
  id: string,
  blob = `records/2026/01/${id}.json`,
  extra: Partial<ArchiveEntry> = {},
): ArchiveEntry {
  return {
    id,
    customer_id: 'c-1',
    created_at: '2026-01-01T00:00:00.000Z',
    location: { layout: 'record', blob, offset: 0, length: 10 },
    sha256: 'ab'.repeat(32),
    size: 10,
    archived_at: '2026-11-01T00:00:00.000Z',
    run_id: 'run-1',
    ...extra,
  };
}

/** What every ArchiveIndex adapter must do, run unchanged over each of them. */
export function describeArchiveIndexContract(
  name: string,
  make: () => Promise<StoreFixture<ArchiveIndex>>,
): void {
  describe(`ArchiveIndex contract: ${name}`, () => {
    const current = useFreshStore(make);

    it('puts entries and gets them back with etags; unknown ids are undefined', async () => {
      const stored = await current().putMany([entry('a'), entry('b')]);
      expect(stored.map((e) => e.id)).toEqual(['a', 'b']);
      expect(await current().get('a')).toEqual(stored[0]);
      expect(await current().get('zzz')).toBeUndefined();
    });

    it('upserts: a replaced entry gets a new etag and its old location becomes garbage', async () => {
      const [first] = await current().putMany([entry('a')]);
      const [same] = await current().putMany([entry('a')]);
      expect(await current().listGarbage({ limit: 10 })).toEqual([]);
      const [moved] = await current().putMany([entry('a', 'records/2026/01/a.v2.json')]);
      expect(moved?.etag).not.toBe(first?.etag);
      expect(moved?.etag).not.toBe(same?.etag);
      const garbage = await current().listGarbage({ limit: 10 });
      expect(garbage.map((g) => [g.id, g.location.blob])).toEqual([['a', 'records/2026/01/a.json']]);
    });

    it('withdraws conditionally, leaving the location as garbage; a missing entry is undefined', async () => {
      const [stored] = await current().putMany([entry('a')]);
      await expect(current().withdraw('a', 'stale')).rejects.toBeInstanceOf(PreconditionFailedError);
      expect(await current().get('a')).toBeDefined();
      expect((await current().withdraw('a', stored?.etag))?.id).toBe('a');
      expect(await current().get('a')).toBeUndefined();
      expect(await current().withdraw('a')).toBeUndefined();
      expect((await current().listGarbage({ limit: 10 })).map((g) => g.location.blob)).toEqual([
        'records/2026/01/a.json',
      ]);
    });

    it('lists garbage oldest first and forgets what it is told', async () => {
      await current().putMany([entry('a'), entry('b'), entry('c')]);
      await current().withdraw('b');
      await current().withdraw('a');
      await current().withdraw('c');
      const garbage = await current().listGarbage({ limit: 2 });
      expect(garbage.map((g) => g.id)).toEqual(['b', 'a']);
      const rest = await current().listGarbage({ limit: 10, afterSeq: garbage[1]?.seq });
      expect(rest.map((g) => g.id)).toEqual(['c']);
      await current().forgetGarbage([garbage[0]?.seq ?? '', 'unknown-seq-1']);
      expect((await current().listGarbage({ limit: 10 })).map((g) => g.id)).toEqual(['a', 'c']);
    });

    it('lists entries in id order with a customer filter and paging', async () => {
      await current().putMany([entry('c'), entry('a', undefined, { customer_id: 'c-2' }), entry('b')]);
      expect((await current().list({ limit: 10 })).map((e) => e.id)).toEqual(['a', 'b', 'c']);
      expect((await current().list({ limit: 1, afterId: 'a' })).map((e) => e.id)).toEqual(['b']);
      expect((await current().list({ limit: 10, customerId: 'c-2' })).map((e) => e.id)).toEqual(['a']);
    });

    it('answers the readiness probe', async () => {
      await expect(current().ping()).resolves.toBeUndefined();
    });

    it('summarises count and bytes', async () => {
      expect(await current().summary()).toEqual({ count: 0, bytes: 0 });
      await current().putMany([entry('a', undefined, { size: 100 }), entry('b', undefined, { size: 23 })]);
      expect(await current().summary()).toEqual({ count: 2, bytes: 123 });
    });
  });
}
