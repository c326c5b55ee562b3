import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlobArchiveStore } from '../../src/adapters/azure-blob/blob-archive-store.js';
import { FilesystemArchiveStore } from '../../src/adapters/filesystem/filesystem-archive-store.js';
import { SqliteArchiveIndex } from '../../src/adapters/sqlite/sqlite-archive-index.js';
import { newRecordDocument } from '../../src/domain/billing-record.js';
import { IntegrityError } from '../../src/domain/errors.js';
import type { ArchiveStore } from '../../src/ports/archive-store.js';
import type { ArchiveLayout } from '../../src/services/layouts/archive-layout.js';
import { RecordLayout } from '../../src/services/layouts/record-layout.js';
import { MEMBER_CACHE_TTL_MS, SegmentLayout } from '../../src/services/layouts/segment-layout.js';
import { sampleRecord } from '../../src/services/sample-records.js';
import { describeArchiveLayoutContract, type LayoutFixture } from '../contracts/archive-layout-contract.js';
import { openedStore, type StoreFixture } from '../contracts/store-fixture.js';
import { freshContainer } from '../helpers/azure.js';
import { intercept } from '../helpers/intercept.js';
import { BACKENDS } from '../helpers/harness.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Small segments, so a handful of records spans several and the seal rule is exercised. */
const LAYOUTS: Record<string, (store: ArchiveStore) => ArchiveLayout> = {
  record: (store) => new RecordLayout(store),
  segment: (store) => new SegmentLayout(store, { maxRecords: 2, maxBytes: 1024 * 1024 }),
  // The same with members kept for reads: every promise of the layout holds with the cache too.
  'segment with a read cache': (store) =>
    new SegmentLayout(store, { maxRecords: 2, maxBytes: 1024 * 1024 }, { bytes: 1024 * 1024 }),
};

/** The layout over a real archive store of the backend; the index is SQLite on both (only the layout is under test). */
function fixture(
  backend: (typeof BACKENDS)[number],
  layoutOf: (store: ArchiveStore) => ArchiveLayout,
): () => Promise<StoreFixture<LayoutFixture>> {
  return async () => {
    const dir = await tempDir();
    const blob = backend === 'azure' ? freshContainer() : undefined;
    const store = blob
      ? new BlobArchiveStore(blob.container, { uploadTier: 'Cool', rehydratePriority: 'High' })
      : new FilesystemArchiveStore(join(dir.path, 'archive'));
    const index = new SqliteArchiveIndex(join(dir.path, 'index.sqlite'));
    const layout = layoutOf(store);
    return openedStore(
      {
        layout,
        store,
        index,
        init: async () => {
          await store.init();
          await index.init();
        },
        close: async () => {
          await index.close();
          await store.close();
        },
      },
      async () => {
        await blob?.remove();
        await dir.remove();
      },
    );
  };
}

for (const backend of BACKENDS)
  for (const [name, layoutOf] of Object.entries(LAYOUTS))
    describeArchiveLayoutContract(`${name} layout (${backend})`, fixture(backend, layoutOf));

describe('SegmentLayout read cache', () => {
  /** A segment layout over a filesystem store whose member reads are counted. */
  async function counted(cacheBytes: number, clock?: () => number) {
    const dir = await tempDir();
    const store = new FilesystemArchiveStore(join(dir.path, 'archive'));
    await store.init();
    const reads = { count: 0 };
    const layout = new SegmentLayout(
      intercept<ArchiveStore>(store, {
        get: (name, range) => {
          if (range) reads.count += 1;
          return store.get(name, range);
        },
      }),
      { maxRecords: 50, maxBytes: 1024 * 1024 },
      { bytes: cacheBytes, ...(clock && { now: clock }) },
    );
    const now = new Date('2026-11-01T00:00:00.000Z');
    const given = Array.from({ length: 6 }, (_, i) => ({
      doc: { ...newRecordDocument(sampleRecord(i, now, 200), now), id: `r-${i}` },
      etag: `e-${i}`,
    }));
    const writer = layout.open({ runId: 'run-1', archivedAt: now.toISOString() });
    const written = [...(await writer.add(given)), ...(await writer.finish())].flatMap((b) => b.written);
    const locations = written.map((item) => item.entry.location);
    return {
      layout,
      reads,
      locations,
      remove: async () => {
        await store.close();
        await dir.remove();
      },
    };
  }

  it('reads a member from the store once while it stays in the cache, and hands out copies', async () => {
    const { layout, reads, locations, remove } = await counted(1024 * 1024);
    try {
      const [first, second] = locations;
      if (!first || !second) throw new Error('nothing was written');
      expect(first.offset).toBe(second.offset);
      const bytes = await layout.read(first);
      bytes.fill(0);
      expect(JSON.parse((await layout.read(first)).toString('utf8'))).toMatchObject({ id: 'r-0' });
      expect(JSON.parse((await layout.read(second)).toString('utf8'))).toMatchObject({ id: 'r-1' });
      expect(reads.count).toBe(1);
    } finally {
      await remove();
    }
  });

  it('reads the store every time without a cache, and again once a member fell out of a small one', async () => {
    const none = await counted(0);
    try {
      const [first] = none.locations;
      if (!first) throw new Error('nothing was written');
      await none.layout.read(first);
      await none.layout.read(first);
      expect(none.reads.count).toBe(2);
    } finally {
      await none.remove();
    }
    // Room for a few bytes only: no member fits, so none is kept.
    const tiny = await counted(16);
    try {
      const [first] = tiny.locations;
      if (!first) throw new Error('nothing was written');
      await tiny.layout.read(first);
      await tiny.layout.read(first);
      expect(tiny.reads.count).toBe(2);
    } finally {
      await tiny.remove();
    }
  });

  it('reads a member again once it is a minute old, however often it was read, and after a read it failed', async () => {
    let ms = 1_000;
    const { layout, reads, locations, remove } = await counted(1024 * 1024, () => ms);
    try {
      const [first] = locations;
      if (first?.layout !== 'segment') throw new Error('no segment was written');
      await layout.read(first);
      ms += MEMBER_CACHE_TTL_MS - 1;
      await layout.read(first);
      expect(reads.count).toBe(1);
      ms += 2;
      await layout.read(first);
      expect(reads.count).toBe(2);
      // A line the member does not hold: the member is dropped, not kept for the next read to meet.
      await expect(
        layout.read({ ...first, line: { offset: first.line.offset + 1, length: 3 } }),
      ).rejects.toThrow(IntegrityError);
      await layout.read(first);
      expect(reads.count).toBe(3);
    } finally {
      await remove();
    }
  });
});
