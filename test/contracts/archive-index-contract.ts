import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/domain/billing-record.js';
import { PreconditionFailedError } from '../../src/domain/errors.js';
import type { ArchiveEntry, ArchiveIndex, ArchiveListQuery } from '../../src/ports/archive-index.js';
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

    it('upserts: a replaced entry gets a new etag and the new location', async () => {
      const [first] = await current().putMany([entry('a')]);
      const [same] = await current().putMany([entry('a')]);
      expect(same?.etag).not.toBe(first?.etag);
      const [moved] = await current().putMany([entry('a', 'records/2026/01/a.v2.json')]);
      expect(moved?.etag).not.toBe(first?.etag);
      expect(moved?.etag).not.toBe(same?.etag);
      expect(await current().get('a')).toEqual(moved);
      expect(moved?.location.blob).toBe('records/2026/01/a.v2.json');
    });

    it('repoints an entry only while it is unchanged; a changed or withdrawn one stays as it is', async () => {
      const [a, b] = await current().putMany([entry('a'), entry('b')]);
      if (!a || !b) throw new Error('entries were not stored');
      const moved = await current().repoint(a, entry('a', 'segments/x.ndjson.gz', { run_id: 'run-1' }));
      expect(moved?.location.blob).toBe('segments/x.ndjson.gz');
      expect(moved?.etag).not.toBe(a.etag);
      expect(await current().get('a')).toEqual(moved);
      // From the version before the move: changed since, so nothing moves.
      expect(await current().repoint(a, entry('a', 'segments/y.ndjson.gz'))).toBeUndefined();
      expect((await current().get('a'))?.location.blob).toBe('segments/x.ndjson.gz');
      await current().withdraw('b');
      expect(await current().repoint(b, entry('b', 'segments/x.ndjson.gz'))).toBeUndefined();
      expect(await current().get('b')).toBeUndefined();
    });

    it('withdraws conditionally and returns what it removed; a missing entry is undefined', async () => {
      const [stored] = await current().putMany([entry('a'), entry('b')]);
      await expect(current().withdraw('a', 'stale')).rejects.toBeInstanceOf(PreconditionFailedError);
      expect(await current().get('a')).toBeDefined();
      expect(await current().withdraw('a', stored?.etag)).toEqual(stored);
      expect(await current().get('a')).toBeUndefined();
      expect(await current().withdraw('a')).toBeUndefined();
      expect((await current().withdraw('b'))?.location.blob).toBe('records/2026/01/b.json');
      expect(await current().list({ limit: 10 })).toEqual([]);
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

    it('keeps segment locations with their line', async () => {
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
    });

    it('lists the entries in one blob, in id order with paging', async () => {
      const shared = 'segments/created=2026-01/run-0001.ndjson.gz';
      await current().putMany([entry('c', shared), entry('a', shared), entry('b'), entry('d', shared)]);
      expect((await current().list({ blob: shared, limit: 10 })).map((e) => e.id)).toEqual(['a', 'c', 'd']);
      expect((await current().list({ blob: shared, limit: 1, afterId: 'a' })).map((e) => e.id)).toEqual([
        'c',
      ]);
      expect(await current().list({ blob: 'segments/none.ndjson.gz', limit: 10 })).toEqual([]);
      await current().withdraw('c');
      expect((await current().list({ blob: shared, limit: 10 })).map((e) => e.id)).toEqual(['a', 'd']);
    });

    it('lists the entries of records created before a time, in id order with paging', async () => {
      await current().putMany([
        entry('d', undefined, { created_at: '2019-03-01T00:00:00.000Z' }),
        entry('a', undefined, { created_at: '2019-01-01T00:00:00.000Z' }),
        entry('c', undefined, { created_at: '2019-02-01T00:00:00.000Z' }),
        entry('b', undefined, { created_at: '2019-02-28T23:59:59.999Z' }),
        entry('e', undefined, { created_at: '2019-03-01T00:00:00.001Z' }),
      ]);
      const cutoff = '2019-03-01T00:00:00.000Z';
      const ids = async (query: { limit: number; afterId?: string }) =>
        (await current().list({ createdBefore: cutoff, ...query })).map((e) => e.id);
      expect(await ids({ limit: 10 })).toEqual(['a', 'b', 'c']);
      expect(await ids({ limit: 2 })).toEqual(['a', 'b']);
      expect(await ids({ limit: 2, afterId: 'b' })).toEqual(['c']);
    });

    it('lists by every filter given at once', async () => {
      const blob = 'segments/created=2019-01/run-0001.ndjson.gz';
      await current().putMany([
        entry('a', blob, { customer_id: 'c1', created_at: '2019-01-01T00:00:00.000Z' }),
        entry('b', blob, { customer_id: 'c2', created_at: '2019-01-02T00:00:00.000Z' }),
        entry('c', undefined, { customer_id: 'c1', created_at: '2019-01-03T00:00:00.000Z' }),
        entry('d', blob, { customer_id: 'c1', created_at: '2019-06-01T00:00:00.000Z' }),
      ]);
      const ids = async (query: ArchiveListQuery) => (await current().list(query)).map((e) => e.id);
      expect(await ids({ limit: 10, customerId: 'c1', blob })).toEqual(['a', 'd']);
      expect(await ids({ limit: 10, customerId: 'c1', createdBefore: '2019-02-01T00:00:00.000Z' })).toEqual([
        'a',
        'c',
      ]);
      expect(
        await ids({ limit: 10, customerId: 'c1', blob, createdBefore: '2019-02-01T00:00:00.000Z' }),
      ).toEqual(['a']);
      expect(await ids({ limit: 10 })).toEqual(['a', 'b', 'c', 'd']);
    });

    it('lists in creation order (then id) by customer and creation month, paging by key', async () => {
      await current().putMany([
        entry('m', undefined, { customer_id: 'c1', created_at: '2025-02-01T00:00:00.000Z' }),
        entry('b', undefined, { customer_id: 'c1', created_at: '2025-01-15T00:00:00.000Z' }),
        entry('a', undefined, { customer_id: 'c1', created_at: '2025-01-15T00:00:00.000Z' }),
        entry('z', undefined, { customer_id: 'c1', created_at: '2025-01-01T00:00:00.000Z' }),
        entry('y', undefined, { customer_id: 'c1', created_at: '2024-12-31T23:59:59.999Z' }),
        entry('x', undefined, { customer_id: 'c2', created_at: '2025-01-10T00:00:00.000Z' }),
      ]);
      const ids = async (query: ArchiveListQuery) => (await current().list(query)).map((e) => e.id);
      expect(await ids({ limit: 10, byCreation: {} })).toEqual(['y', 'z', 'x', 'a', 'b', 'm']);
      // January 2025 of customer c1: from inclusive, to exclusive.
      const january = {
        customerId: 'c1',
        createdFrom: '2025-01-01T00:00:00.000Z',
        createdBefore: '2025-02-01T00:00:00.000Z',
      };
      expect(await ids({ limit: 10, byCreation: {}, ...january })).toEqual(['z', 'a', 'b']);
      expect(await ids({ limit: 2, byCreation: {}, ...january })).toEqual(['z', 'a']);
      // After a key: the tie on created_at goes on by id.
      const after = { createdAt: '2025-01-15T00:00:00.000Z', id: 'a' };
      expect(await ids({ limit: 10, byCreation: { after }, ...january })).toEqual(['b']);
      expect(await ids({ limit: 10, byCreation: { after: { ...after, id: 'b' } }, ...january })).toEqual([]);
      // A key between entries (one no entry has) pages on from where it falls.
      expect(
        await ids({ limit: 10, byCreation: { after: { createdAt: '2025-01-05T00:00:00.000Z', id: '' } } }),
      ).toEqual(['x', 'a', 'b', 'm']);
      // A withdrawn entry is not listed; id order still holds where no order is asked.
      await current().withdraw('a');
      expect(await ids({ limit: 10, byCreation: {}, ...january })).toEqual(['z', 'b']);
      expect(await ids({ limit: 10, createdFrom: '2025-01-01T00:00:00.000Z' })).toEqual(['b', 'm', 'x', 'z']);
    });

    it('reads many entries at once, in the order asked, undefined where none', async () => {
      expect(await current().getMany([])).toEqual([]);
      const stored = await current().putMany([entry('a'), entry('b'), entry('c')]);
      const ids = ['c', 'missing', 'a', 'c'];
      const found = await current().getMany(ids);
      expect(found).toEqual([stored[2], undefined, stored[0], stored[2]]);
      // More ids than one request asks for (the Cosmos DB adapter asks 100 at a time).
      const many = Array.from({ length: 250 }, (_, i) => entry(`m-${String(i).padStart(3, '0')}`));
      const manyStored = await current().putMany(many);
      expect(await current().getMany([...many.map((e) => e.id)].reverse())).toEqual(
        [...manyStored].reverse(),
      );
    });

    it('summarises count and bytes, through upserts, repoints and withdrawals', async () => {
      const index = current();
      expect(await index.summary()).toEqual({ count: 0, bytes: 0 });
      await index.putMany([entry('a', undefined, { size: 100 }), entry('b', undefined, { size: 23 })]);
      expect(await index.summary()).toEqual({ count: 2, bytes: 123 });
      // An upsert replaces: an id given twice in one call counts once, as its last entry.
      await index.putMany([
        entry('a', undefined, { size: 5 }),
        entry('a', undefined, { size: 50 }),
        entry('c', undefined, { size: 1 }),
      ]);
      expect(await index.summary()).toEqual({ count: 3, bytes: 74 });
      const a = await index.get('a');
      if (!a) throw new Error('a is not indexed');
      await index.repoint(a, entry('a', 'segments/x.ndjson.gz', { size: 60 }));
      expect(await index.summary()).toEqual({ count: 3, bytes: 84 });
      // Changes that change nothing count nothing: a stale repoint, withdrawing an absent id.
      expect(await index.repoint(a, entry('a', 'segments/y.ndjson.gz', { size: 1 }))).toBeUndefined();
      await index.withdraw('b');
      await index.withdraw('b');
      expect(await index.summary()).toEqual({ count: 2, bytes: 61 });
      // Enough entries for the blob-native index to fold its journal into shards under test options.
      await index.putMany(Array.from({ length: 30 }, (_, i) => entry(`n-${i}`, undefined, { size: 2 })));
      await index.putMany(Array.from({ length: 10 }, (_, i) => entry(`n-${i}`, undefined, { size: 3 })));
      expect(await index.summary()).toEqual({ count: 32, bytes: 61 + 20 * 2 + 10 * 3 });
    });

    it('summarises by creation month, oldest first, through upserts that move a record between months and withdrawals', async () => {
      const index = current();
      expect(await index.summaryByMonth()).toEqual([]);
      const at = (created_at: string, size: number) => ({ created_at, size });
      await index.putMany([
        entry('a', undefined, at('2025-12-31T23:59:59.999Z', 100)),
        entry('b', undefined, at('2026-01-01T00:00:00.000Z', 20)),
        entry('c', undefined, at('2026-01-31T12:00:00.000Z', 3)),
        entry('d', undefined, at('2026-03-15T00:00:00.000Z', 4000)),
      ]);
      expect(await index.summaryByMonth()).toEqual([
        { month: '2025-12', count: 1, bytes: 100 },
        { month: '2026-01', count: 2, bytes: 23 },
        { month: '2026-03', count: 1, bytes: 4000 },
      ]);
      // An upsert that gives a record another creation month moves it; a month left empty goes.
      await index.putMany([entry('d', undefined, at('2026-01-02T00:00:00.000Z', 40))]);
      await index.withdraw('a');
      expect(await index.summaryByMonth()).toEqual([{ month: '2026-01', count: 3, bytes: 63 }]);
      // Enough entries for the blob-native index to fold its journal into shards under test options.
      await index.putMany(
        Array.from({ length: 30 }, (_, i) =>
          entry(`n-${i}`, undefined, at(`2026-${i < 10 ? '02' : '04'}-01T00:00:00.000Z`, 2)),
        ),
      );
      const months = await index.summaryByMonth();
      expect(months).toEqual([
        { month: '2026-01', count: 3, bytes: 63 },
        { month: '2026-02', count: 10, bytes: 20 },
        { month: '2026-04', count: 20, bytes: 40 },
      ]);
      // Months far apart are found as readily as neighbours.
      await index.putMany([
        entry('ancient', undefined, at('0001-01-01T00:00:00.000Z', 9)),
        entry('last', undefined, at('9999-12-31T23:59:59.999Z', 8)),
      ]);
      const spread = await index.summaryByMonth();
      expect(spread[0]).toEqual({ month: '0001-01', count: 1, bytes: 9 });
      expect(spread.at(-1)).toEqual({ month: '9999-12', count: 1, bytes: 8 });
      await index.withdraw('ancient');
      await index.withdraw('last');
      const { count, bytes } = await index.summary();
      expect(months.reduce((sum, m) => sum + m.count, 0)).toBe(count);
      expect(months.reduce((sum, m) => sum + m.bytes, 0)).toBe(bytes);
    });

    it('measures the bytes it takes, growing with its entries', async () => {
      const empty = await current().storage();
      await current().putMany(
        Array.from({ length: 200 }, (_, i) =>
          entry(`s-${i}`, undefined, { sha256: sha256Hex(Buffer.from(`s-${i}`)) }),
        ),
      );
      const full = await current().storage();
      expect(['counted', 'reported', 'sampled']).toContain(full.from);
      // No store can keep an entry in less than its SHA-256's 32 random bytes.
      expect(full.bytes - empty.bytes).toBeGreaterThan(200 * 32);
      expect(full.bytes - empty.bytes).toBeLessThan(200 * 4_096);
    });
  });
}
