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

    it('keeps segment locations with their line, and a different line is a different location', async () => {
      const inSegment = (line: number): ArchiveEntry =>
        entry('s', undefined, {
          location: {
            layout: 'segment',
            blob: 'segments/created=2026-01/run-0001.ndjson.gz',
            offset: 100,
            length: 50,
            line: { offset: line, length: 20 },
          },
        });
      await current().putMany([inSegment(0)]);
      expect((await current().get('s'))?.location).toEqual(inSegment(0).location);
      await current().putMany([inSegment(21)]);
      expect((await current().get('s'))?.location).toEqual(inSegment(21).location);
      const garbage = await current().listGarbage({ limit: 10 });
      expect(garbage.map((item) => item.location)).toEqual([inSegment(0).location]);
    });

    it('lists the entries in one blob, in id order with paging', async () => {
      const shared = 'segments/created=2026-01/run-0001.ndjson.gz';
      await current().putMany([entry('c', shared), entry('a', shared), entry('b'), entry('d', shared)]);
      expect((await current().listAt(shared, { limit: 10 })).map((e) => e.id)).toEqual(['a', 'c', 'd']);
      expect((await current().listAt(shared, { limit: 1, afterId: 'a' })).map((e) => e.id)).toEqual(['c']);
      expect(await current().listAt('segments/none.ndjson.gz', { limit: 10 })).toEqual([]);
      await current().withdraw('c');
      expect((await current().listAt(shared, { limit: 10 })).map((e) => e.id)).toEqual(['a', 'd']);
    });

    it('lists the entries of records created before a time, in id order with paging', async () => {
      await current().putMany([
        entry('d', undefined, { created_at: '2019-03-01T00:00:00.000Z' }),
        entry('a', undefined, { created_at: '2019-01-01T00:00:00.000Z' }),
        entry('c', undefined, { created_at: '2019-02-01T00:00:00.000Z' }),
        entry('b', undefined, { created_at: '2019-02-28T23:59:59.999Z' }),
        entry('e', undefined, { created_at: '2019-03-01T00:00:00.001Z' }),
      ]);
      await current().noteDeleted('0', '2019-01-01T00:00:00.000Z');
      const cutoff = '2019-03-01T00:00:00.000Z';
      const ids = async (query: { limit: number; afterId?: string }) =>
        (await current().listCreatedBefore(cutoff, query)).map((e) => e.id);
      expect(await ids({ limit: 10 })).toEqual(['a', 'b', 'c']);
      expect(await ids({ limit: 2 })).toEqual(['a', 'b']);
      expect(await ids({ limit: 2, afterId: 'b' })).toEqual(['c']);
    });

    it('notes deletions, keeping the latest, apart from entries', async () => {
      expect(await current().deletedAt('gone')).toBeUndefined();
      await current().noteDeleted('gone', '2026-03-01T00:00:00.000Z');
      await current().noteDeleted('gone', '2026-02-01T00:00:00.000Z');
      expect(await current().deletedAt('gone')).toBe('2026-03-01T00:00:00.000Z');
      await current().noteDeleted('gone', '2026-04-01T00:00:00.000Z');
      expect(await current().deletedAt('gone')).toBe('2026-04-01T00:00:00.000Z');
      expect(await current().get('gone')).toBeUndefined();
      expect(await current().list({ limit: 10 })).toEqual([]);
      expect(await current().summary()).toEqual({ count: 0, bytes: 0 });
    });

    it('summarises count and bytes', async () => {
      expect(await current().summary()).toEqual({ count: 0, bytes: 0 });
      await current().putMany([entry('a', undefined, { size: 100 }), entry('b', undefined, { size: 23 })]);
      expect(await current().summary()).toEqual({ count: 2, bytes: 123 });
    });
  });
}
