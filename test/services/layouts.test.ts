import { join } from 'node:path';
import { BlobArchiveStore } from '../../src/adapters/azure-blob/blob-archive-store.js';
import { FilesystemArchiveStore } from '../../src/adapters/filesystem/filesystem-archive-store.js';
import { SqliteArchiveIndex } from '../../src/adapters/sqlite/sqlite-archive-index.js';
import type { ArchiveStore } from '../../src/ports/archive-store.js';
import type { ArchiveLayout } from '../../src/services/layouts/archive-layout.js';
import { RecordLayout } from '../../src/services/layouts/record-layout.js';
import { SegmentLayout } from '../../src/services/layouts/segment-layout.js';
import { describeArchiveLayoutContract, type LayoutFixture } from '../contracts/archive-layout-contract.js';
import { openedStore, type StoreFixture } from '../contracts/store-fixture.js';
import { freshContainer } from '../helpers/azure.js';
import { BACKENDS } from '../helpers/harness.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Small segments, so a handful of records spans several and the seal rule is exercised. */
const LAYOUTS: Record<string, (store: ArchiveStore) => ArchiveLayout> = {
  record: (store) => new RecordLayout(store),
  segment: (store) => new SegmentLayout(store, { maxRecords: 2, maxBytes: 1024 * 1024 }),
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
