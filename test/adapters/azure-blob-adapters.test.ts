import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { BlobArchiveStore, REHYDRATED_PREFIX } from '../../src/adapters/azure-blob/blob-archive-store.js';
import { BlobLeaseLock } from '../../src/adapters/azure-blob/blob-lease-lock.js';
import { sha256Hex } from '../../src/domain/billing-record.js';
import { ArchivedOfflineError, LockHeldError, StoreUnavailableError } from '../../src/domain/errors.js';
import { describeArchiveStoreContract } from '../contracts/archive-store-contract.js';
import { describeLockContract } from '../contracts/lock-contract.js';
import { openedStore, type StoreFixture } from '../contracts/store-fixture.js';
import { freshContainer } from '../helpers/azure.js';

const storeOptions = { uploadTier: 'Cool', rehydratePriority: 'High' } as const;

function onFreshContainer<T extends { init(): Promise<void>; close(): Promise<void> }>(
  build: (container: ReturnType<typeof freshContainer>['container']) => T,
): () => Promise<StoreFixture<T>> {
  return () => {
    const { container, remove } = freshContainer();
    return openedStore(build(container), remove);
  };
}

describeArchiveStoreContract(
  'Azure Blob Storage (Azurite)',
  onFreshContainer((c) => new BlobArchiveStore(c, storeOptions)),
);
describeLockContract(
  'Azure blob lease (Azurite)',
  onFreshContainer((c) => new BlobLeaseLock(c)),
);

describe('BlobArchiveStore on Azurite', () => {
  it('uploads to the configured tier with the SHA-256 in metadata and the MD5 on the blob', async () => {
    const { container, remove } = freshContainer();
    try {
      const store = new BlobArchiveStore(container, storeOptions);
      await store.init();
      const bytes = Buffer.from('{"id":"a"}');
      await store.putIfAbsent('records/2026/01/a.json', bytes, { sha256: sha256Hex(bytes), recordCount: 1 });
      const properties = await container.getBlobClient('records/2026/01/a.json').getProperties();
      expect(properties.accessTier).toBe('Cool');
      expect(properties.metadata).toEqual({ sha256: sha256Hex(bytes), record_count: '1' });
      expect(properties.contentMD5).toBeDefined();
      expect(properties.contentType).toBe('application/json');
    } finally {
      await remove();
    }
  });

  it('reads an Archive-tier blob through a rehydrated copy: 202-style error first, started once, then the bytes', async () => {
    const { container, remove } = freshContainer();
    try {
      const store = new BlobArchiveStore(container, storeOptions);
      await store.init();
      const bytes = Buffer.from('{"id":"cold","amount":1}');
      await store.putIfAbsent('records/2020/01/cold.json', bytes, {
        sha256: sha256Hex(bytes),
        recordCount: 1,
      });
      await container.getBlobClient('records/2020/01/cold.json').setAccessTier('Archive');

      const first = await store
        .get('records/2020/01/cold.json', { offset: 0, length: 8 })
        .catch((e: unknown) => e);
      expect(first).toBeInstanceOf(ArchivedOfflineError);
      expect((first as ArchivedOfflineError).retryAfterSeconds).toBe(900);
      const copy = container.getBlobClient(`${REHYDRATED_PREFIX}records/2020/01/cold.json`);
      const { copyId, accessTier } = await copy.getProperties();
      expect(accessTier).toBe('Cool');

      // Azurite rehydrates at once, so the next read is served from the copy, and no second copy starts.
      expect((await store.get('records/2020/01/cold.json', { offset: 0, length: 8 })).toString()).toBe(
        '{"id":"c',
      );
      expect((await copy.getProperties()).copyId).toBe(copyId);
      // Deleting the archived blob removes its rehydrated copy too.
      await store.delete('records/2020/01/cold.json');
      expect(await copy.exists()).toBe(false);
    } finally {
      await remove();
    }
  });

  it('reports an unreachable service as StoreUnavailableError naming the container', async () => {
    const { BlobServiceClient } = await import('@azure/storage-blob');
    const dead = BlobServiceClient.fromConnectionString(
      'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;',
      { retryOptions: { maxTries: 1 } },
    ).getContainerClient('nowhere');
    const store = new BlobArchiveStore(dead, storeOptions);
    await expect(store.init()).rejects.toSatisfy(
      (e) => e instanceof StoreUnavailableError && e.message.includes("container 'nowhere'"),
    );
  });
});

describe('BlobLeaseLock on Azurite', () => {
  it('frees a lock whose holder stopped renewing within the 15 s lease', async () => {
    const { container, remove } = freshContainer();
    try {
      const lock = new BlobLeaseLock(container);
      await lock.init();
      // A holder that dies without releasing: its renewals stop with it.
      await lock.acquire('archival-all', {
        runId: 'dead-run',
        description: 'a killed process',
      });
      await lock.close();
      const other = new BlobLeaseLock(container);
      await expect(
        other.acquire('archival-all', { runId: 'next', description: 'next' }),
      ).rejects.toBeInstanceOf(LockHeldError);
      await sleep(16_000);
      const lease = await other.acquire('archival-all', { runId: 'next', description: 'next' });
      await lease.release();
    } finally {
      await remove();
    }
  }, 40_000);
});
