import { BlobServiceClient } from '@azure/storage-blob';
import { afterEach, describe, expect, it } from 'vitest';
import { ArchivedOfflineError } from '../../src/domain/errors.js';
import type { ArchiveStore } from '../../src/ports/archive-store.js';
import { apiClient, expectError } from '../helpers/api.js';
import { daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { intercept } from '../helpers/intercept.js';

/** Moves the blob holding `id` to the Archive tier, as the lifecycle policy would after 90 days. */
async function moveToArchiveTier(harness: Harness, id: string): Promise<void> {
  const entry = await harness.adapters.index.get(id);
  const container = BlobServiceClient.fromConnectionString(
    harness.env.BLOB_CONNECTION_STRING ?? '',
  ).getContainerClient(harness.env.BLOB_CONTAINER ?? '');
  await container.getBlobClient(entry?.location.blob ?? '').setAccessTier('Archive');
}

describe('archived records in the Archive tier (Azurite)', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
  });

  it('answers 202 with Retry-After and starts rehydration, then serves the rehydrated copy', async () => {
    harness = await startHarness({ backend: 'azure' });
    const api = apiClient(harness.app);
    const created = await api.post('/billing', recordBody({ id: 'cold-1', created_at: daysAgo(400) }));
    await api.post('/archive/sync');
    await moveToArchiveTier(harness, 'cold-1');

    const first = await api.get('/billing/cold-1');
    expect(first.statusCode).toBe(202);
    expect(first.headers['retry-after']).toBe('3600');
    expect(first.json()).toMatchObject({ error: 'rehydrating', retry_after_seconds: 3600 });
    expect(first.json<{ message: string }>().message).toContain('Standard priority');

    // Azurite finishes the copy at once; the real service takes hours (the wrapper test covers that).
    const second = await api.get('/billing/cold-1');
    expect(second.statusCode).toBe(200);
    expect(second.headers['x-record-source']).toBe('archive');
    expect(second.body).toBe(created.body);
  });

  it('keeps answering 202 while rehydration is pending, for reads and restores alike', async () => {
    let offlineReads = 0;
    harness = await startHarness({
      backend: 'azure',
      wrap: (adapters) => ({
        ...adapters,
        // The real service keeps a rehydrating copy pending for hours: every read sees it offline.
        store: intercept<ArchiveStore>(adapters.store, {
          get: () => {
            offlineReads += 1;
            return Promise.reject(new ArchivedOfflineError('blob is being rehydrated', 900));
          },
        }),
      }),
    });
    const api = apiClient(harness.app);
    await api.post('/billing', recordBody({ id: 'cold-2', created_at: daysAgo(400) }));
    await api.post('/archive/sync');
    for (const response of [
      await api.get('/billing/cold-2'),
      await api.get('/billing/cold-2'),
      await api.post('/restore/cold-2'),
    ]) {
      expect(response.statusCode).toBe(202);
      expect(response.headers['retry-after']).toBe('900');
      expect(response.json()).toMatchObject({ error: 'rehydrating' });
    }
    expect(offlineReads).toBe(3);
    // Nothing moved: the record is still archived, not live.
    expect(await harness.adapters.live.get('cold-2')).toBeUndefined();
    expect(await harness.adapters.index.get('cold-2')).toBeDefined();
  });

  it('answers 410 when the lifecycle policy removed the blob but the index entry remains', async () => {
    harness = await startHarness({ backend: 'azure' });
    const api = apiClient(harness.app);
    await api.post('/billing', recordBody({ id: 'expired', created_at: daysAgo(200) }));
    await api.post('/archive/sync');
    const entry = await harness.adapters.index.get('expired');
    expect(entry).toBeDefined();
    await harness.adapters.store.delete(entry?.location.blob ?? '');
    expect(expectError(await api.get('/billing/expired'), 410, 'gone')).toContain('expired');
  });
});
