import { describe, expect, it } from 'vitest';
import type { ArchiveLocation } from '../../src/ports/archive-index.js';
import type { GarbageQueue } from '../../src/ports/garbage-queue.js';
import { useFreshStore, type StoreFixture } from './store-fixture.js';

const recordAt = (blob: string): ArchiveLocation => ({ layout: 'record', blob, offset: 0, length: 10 });

/** What every GarbageQueue adapter must do, run unchanged over each of them. */
export function describeGarbageQueueContract(
  name: string,
  make: () => Promise<StoreFixture<GarbageQueue>>,
): void {
  describe(`GarbageQueue contract: ${name}`, () => {
    const current = useFreshStore(make);

    it('lists what was noted oldest first, with paging, and forgets what it is told', async () => {
      await current().add([{ id: 'b', location: recordAt('records/b.json') }]);
      await current().add([{ id: 'a', location: recordAt('records/a.json') }]);
      await current().add([{ id: 'c', location: recordAt('records/c.json') }]);
      const first = await current().list({ limit: 2 });
      expect(first.map((g) => [g.id, g.location.blob])).toEqual([
        ['b', 'records/b.json'],
        ['a', 'records/a.json'],
      ]);
      const rest = await current().list({ limit: 10, afterSeq: first[1]?.seq });
      expect(rest.map((g) => g.id)).toEqual(['c']);
      await current().forget([first[0]?.seq ?? '', 'unknown-seq-1']);
      expect((await current().list({ limit: 10 })).map((g) => g.id)).toEqual(['a', 'c']);
      expect(await current().list({ limit: 10, afterSeq: rest[0]?.seq })).toEqual([]);
    });

    it('keeps a location exactly, with its line in a segment, and the same place twice', async () => {
      const line: ArchiveLocation = {
        layout: 'segment',
        blob: 'segments/created=2026-01/run-0001.ndjson.gz',
        offset: 100,
        length: 50,
        line: { offset: 21, length: 20 },
      };
      await current().add([
        { id: 's', location: line },
        { id: 's', location: line },
      ]);
      expect((await current().list({ limit: 10 })).map((g) => g.location)).toEqual([line, line]);
    });

    it('answers the readiness probe', async () => {
      await expect(current().ping()).resolves.toBeUndefined();
    });
  });
}
