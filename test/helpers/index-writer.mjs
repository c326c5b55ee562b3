// A process that only writes the blob-native archive index, for the crash test to SIGKILL: batch
// after batch of entries (after every third, it also withdraws the batch's first entry), each
// acknowledged on stdout once its commit returned. Small folds, so kills land in folds too; a fold
// that fails ends the process, so the test sees it.
//
//   node test/helpers/index-writer.mjs <prefix> <batches> <batch size>
// with ARCHIVE_DIR (filesystem store) or BLOB_CONNECTION_STRING and BLOB_CONTAINER (Azure).
import { BlobServiceClient } from '@azure/storage-blob';
import { BlobArchiveStore } from '../../dist/adapters/azure-blob/blob-archive-store.js';
import { BlobArchiveIndex } from '../../dist/adapters/blob-index/blob-archive-index.js';
import { FilesystemArchiveStore } from '../../dist/adapters/filesystem/filesystem-archive-store.js';

const [prefix = 'w', batches = '100', batchSize = '10'] = process.argv.slice(2);
const store = process.env.ARCHIVE_DIR
  ? new FilesystemArchiveStore(process.env.ARCHIVE_DIR)
  : new BlobArchiveStore(
      BlobServiceClient.fromConnectionString(process.env.BLOB_CONNECTION_STRING ?? '').getContainerClient(
        process.env.BLOB_CONTAINER ?? '',
      ),
      { uploadTier: 'Hot', rehydratePriority: 'Standard' },
    );
await store.init();
const index = new BlobArchiveIndex(store, {
  shards: 4,
  cacheBytes: 1 << 20,
  foldItemsPerShard: 8,
  onMaintenanceError: (error) => {
    throw error;
  },
});
await index.init();

for (let batch = 0; batch < Number(batches); batch++) {
  const entries = Array.from({ length: Number(batchSize) }, (_, i) =>
    entryOf(`${prefix}-${batch}-${i}`, batch),
  );
  const [victim] = await index.putMany(entries);
  process.stdout.write(`put ${batch}\n`);
  if (batch % 3 === 2 && victim) {
    await index.withdraw(victim.id, victim.etag);
    process.stdout.write(`withdrawn ${victim.id}\n`);
  }
}

/** @returns {import('../../dist/ports/archive-index.js').ArchiveEntry} */
function entryOf(/** @type {string} */ id, /** @type {number} */ batch) {
  return {
    id,
    customer_id: `c-${batch % 5}`,
    created_at: new Date(Date.UTC(2024, batch % 12, 1)).toISOString(),
    location: { layout: 'record', blob: `records/2024/${id}.json`, offset: 0, length: 100 + batch },
    sha256: Buffer.from(id).toString('hex').padEnd(64, '0').slice(0, 64),
    size: 100 + batch,
    archived_at: '2026-11-30T00:00:00.000Z',
    run_id: `run-${prefix}`,
  };
}
