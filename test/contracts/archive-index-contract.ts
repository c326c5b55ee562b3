import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PreconditionFailedError } from '../../src/domain/errors.js';
import type { ArchiveEntry, ArchiveIndex } from '../../src/ports/archive-index.js';
import type { StoreFixture } from './live-store-contract.js';

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
    let fixture: StoreFixture<ArchiveIndex>;
    let index: ArchiveIndex;
    beforeEach(async () => {
      fixture = await make();
      index = fixture.store;
    });
    afterEach(async () => {
      await fixture.dispose();
    });

    it('puts entries and gets them back with etags; unknown ids are undefined', async () => {
      const stored = await index.putMany([entry('a'), entry('b')]);
      expect(stored.map((e) => e.id)).toEqual(['a', 'b']);
      expect(await index.get('a')).toEqual(stored[0]);
      expect(await index.get('zzz')).toBeUndefined();
    });

    it('upserts: a replaced entry gets a new etag and its old location becomes garbage', async () => {
      const [first] = await index.putMany([entry('a')]);
      const [same] = await index.putMany([entry('a')]);
      expect(await index.listGarbage(10)).toEqual([]);
      const [moved] = await index.putMany([entry('a', 'records/2026/01/a.v2.json')]);
      expect(moved?.etag).not.toBe(first?.etag);
      expect(moved?.etag).not.toBe(same?.etag);
      const garbage = await index.listGarbage(10);
      expect(garbage.map((g) => [g.id, g.location.blob])).toEqual([['a', 'records/2026/01/a.json']]);
    });

    it('withdraws conditionally, leaving the location as garbage; a missing entry is undefined', async () => {
      const [stored] = await index.putMany([entry('a')]);
      await expect(index.withdraw('a', 'stale')).rejects.toBeInstanceOf(PreconditionFailedError);
      expect(await index.get('a')).toBeDefined();
      expect((await index.withdraw('a', stored?.etag))?.id).toBe('a');
      expect(await index.get('a')).toBeUndefined();
      expect(await index.withdraw('a')).toBeUndefined();
      expect((await index.listGarbage(10)).map((g) => g.location.blob)).toEqual(['records/2026/01/a.json']);
    });

    it('lists garbage oldest first and forgets what it is told', async () => {
      await index.putMany([entry('a'), entry('b'), entry('c')]);
      await index.withdraw('b');
      await index.withdraw('a');
      await index.withdraw('c');
      const garbage = await index.listGarbage(2);
      expect(garbage.map((g) => g.id)).toEqual(['b', 'a']);
      await index.forgetGarbage([garbage[0]?.seq ?? '', 'unknown-seq-1']);
      expect((await index.listGarbage(10)).map((g) => g.id)).toEqual(['a', 'c']);
    });

    it('lists entries in id order with a customer filter and paging', async () => {
      await index.putMany([entry('c'), entry('a', undefined, { customer_id: 'c-2' }), entry('b')]);
      expect((await index.list({ limit: 10 })).map((e) => e.id)).toEqual(['a', 'b', 'c']);
      expect((await index.list({ limit: 1, afterId: 'a' })).map((e) => e.id)).toEqual(['b']);
      expect((await index.list({ limit: 10, customerId: 'c-2' })).map((e) => e.id)).toEqual(['a']);
    });

    it('summarises count and bytes', async () => {
      expect(await index.summary()).toEqual({ count: 0, bytes: 0 });
      await index.putMany([entry('a', undefined, { size: 100 }), entry('b', undefined, { size: 23 })]);
      expect(await index.summary()).toEqual({ count: 2, bytes: 123 });
    });
  });
}
