import type { Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ArchiveEntry, ArchiveIndex, ArchiveLocation } from '../../src/ports/archive-index.js';
import type { DeletionNotes } from '../../src/ports/deletion-notes.js';
import type { GarbageQueue } from '../../src/ports/garbage-queue.js';
import { GarbageNotingIndex } from '../../src/services/garbage-noting-index.js';
import { StoreUnavailableError } from '../../src/domain/errors.js';
import { intercept } from '../helpers/intercept.js';
import { useFreshStore, type StoreFixture } from './store-fixture.js';

/** The index, garbage queue and deletion notes of one backend, which share a file or a container. */
export interface IndexFamily {
  index: ArchiveIndex;
  garbage: GarbageQueue;
  deletions: DeletionNotes;
  init(): Promise<void>;
  close(): Promise<void>;
}

/** The three stores as one fixture, opened and closed in turn. */
export function indexFamily(stores: Omit<IndexFamily, 'init' | 'close'>): IndexFamily {
  const all = [stores.index, stores.garbage, stores.deletions];
  return {
    ...stores,
    init: async () => {
      for (const store of all) await store.init();
    },
    close: async () => {
      for (const store of all) await store.close();
    },
  };
}

function entry(id: string, location: ArchiveLocation): ArchiveEntry {
  return {
    id,
    customer_id: 'c-1',
    created_at: '2026-01-01T00:00:00.000Z',
    location,
    sha256: 'ab'.repeat(32),
    size: 10,
    archived_at: '2026-11-01T00:00:00.000Z',
    run_id: 'run-1',
  };
}

const recordAt = (blob: string): ArchiveLocation => ({ layout: 'record', blob, offset: 0, length: 10 });
const lineAt = (line: number): ArchiveLocation => ({
  layout: 'segment',
  blob: 'segments/created=2026-01/run-0001.ndjson.gz',
  offset: 100,
  length: 50,
  line: { offset: line, length: 20 },
});

/**
 * The three stores side by side, and the garbage rule services apply over them: a change that
 * leaves a location no entry points to notes it as garbage, and only such a change does.
 */
export function describeIndexFamilyContract(
  name: string,
  make: () => Promise<StoreFixture<IndexFamily>>,
): void {
  describe(`Index, garbage and deletion notes together: ${name}`, () => {
    const current = useFreshStore(make);
    const warnings: unknown[] = [];
    const logger = { warn: (...args: unknown[]) => warnings.push(args) } as unknown as Pick<Logger, 'warn'>;
    const noting = () => new GarbageNotingIndex(current().index, current().garbage, logger);
    const garbage = async () => (await current().garbage.list({ limit: 100 })).map((g) => [g.id, g.location]);

    it('keeps notes and garbage out of the entries they share a store with', async () => {
      await current().deletions.note('gone', '2026-03-01T00:00:00.000Z');
      await current().garbage.add([{ id: 'old', location: recordAt('records/old.json') }]);
      expect(await current().index.get('gone')).toBeUndefined();
      expect(await current().index.list({ limit: 10 })).toEqual([]);
      expect(await current().index.list({ createdBefore: '2100-01-01T00:00:00.000Z', limit: 10 })).toEqual(
        [],
      );
      expect(await current().index.list({ blob: 'records/old.json', limit: 10 })).toEqual([]);
      expect(await current().index.getMany(['gone', 'old'])).toEqual([undefined, undefined]);
      expect(await current().index.summary()).toEqual({ count: 0, bytes: 0 });
      expect(await current().index.withdraw('gone')).toBeUndefined();
      expect(await current().deletions.deletedAt('gone')).toBe('2026-03-01T00:00:00.000Z');
    });

    it('a new entry, or one put again at the same place, leaves no garbage', async () => {
      await noting().putMany([entry('a', recordAt('records/a.json')), entry('s', lineAt(0))]);
      await noting().putMany([entry('a', recordAt('records/a.json')), entry('s', lineAt(0))]);
      expect(await garbage()).toEqual([]);
    });

    it('a repointed entry leaves its old place; a repoint refused for a changed entry leaves none', async () => {
      const [a] = await noting().putMany([entry('a', recordAt('records/a.json'))]);
      if (!a) throw new Error('entry was not stored');
      expect((await noting().repoint(a, entry('a', lineAt(7))))?.location).toEqual(lineAt(7));
      expect(await noting().repoint(a, entry('a', lineAt(42)))).toBeUndefined();
      expect(await garbage()).toEqual([['a', recordAt('records/a.json')]]);
    });

    it('an entry moved elsewhere leaves its old place, down to the line in a segment', async () => {
      await noting().putMany([entry('a', recordAt('records/a.json')), entry('s', lineAt(0))]);
      const moved = await noting().putMany([entry('a', recordAt('held/a.json')), entry('s', lineAt(21))]);
      expect(moved.map((e) => e.location)).toEqual([recordAt('held/a.json'), lineAt(21)]);
      expect(await garbage()).toEqual([
        ['a', recordAt('records/a.json')],
        ['s', lineAt(0)],
      ]);
      expect((await current().index.get('a'))?.location).toEqual(recordAt('held/a.json'));
    });

    it('a withdrawn entry leaves its place; a refused or missing one leaves nothing', async () => {
      const [stored] = await noting().putMany([entry('a', recordAt('records/a.json'))]);
      await expect(noting().withdraw('a', 'stale')).rejects.toThrow();
      expect(await noting().withdraw('missing')).toBeUndefined();
      expect(await garbage()).toEqual([]);
      expect(await noting().withdraw('a', stored?.etag)).toEqual(stored);
      expect(await garbage()).toEqual([['a', recordAt('records/a.json')]]);
    });

    it('an upsert that fails part way still leaves the places of the entries that did move', async () => {
      await noting().putMany([
        entry('a', recordAt('records/a.json')),
        entry('b', recordAt('records/b.json')),
      ]);
      const { index, garbage: queue } = current();
      const halfWay = intercept<ArchiveIndex>(index, {
        putMany: async (entries) => {
          await index.putMany(entries.slice(0, 1));
          throw new StoreUnavailableError('injected: the second write failed');
        },
      });
      const partial = new GarbageNotingIndex(halfWay, queue, logger);
      await expect(
        partial.putMany([entry('a', recordAt('held/a.json')), entry('b', recordAt('held/b.json'))]),
      ).rejects.toThrow('the second write failed');
      expect(await garbage()).toEqual([['a', recordAt('records/a.json')]]);
      expect((await index.get('b'))?.location).toEqual(recordAt('records/b.json'));
    });

    it('a change whose garbage note cannot be written still succeeds, and says what stays behind', async () => {
      const [stored] = await noting().putMany([entry('a', recordAt('records/a.json'))]);
      const failing = intercept<GarbageQueue>(current().garbage, {
        add: () => Promise.reject(new StoreUnavailableError('injected: garbage queue unreachable')),
      });
      const index = new GarbageNotingIndex(current().index, failing, logger);
      expect(await index.withdraw('a', stored?.etag)).toEqual(stored);
      expect(await current().index.get('a')).toBeUndefined();
      expect(JSON.stringify(warnings)).toContain('records/a.json');
    });
  });
}
