import { setTimeout as sleep } from 'node:timers/promises';
import { AppendBlobClient, BlobServiceClient, RestError } from '@azure/storage-blob';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppendBlobAuditTrail } from '../../src/adapters/azure-blob/append-blob-audit-trail.js';
import { BlobArchiveStore, REHYDRATED_PREFIX } from '../../src/adapters/azure-blob/blob-archive-store.js';
import { BlobLeaseLock } from '../../src/adapters/azure-blob/blob-lease-lock.js';
import { sha256Hex } from '../../src/domain/billing-record.js';
import { ArchivedOfflineError, LockHeldError, StoreUnavailableError } from '../../src/domain/errors.js';
import type { AuditEntry } from '../../src/ports/audit-trail.js';
import { describeAuditTrailContract } from '../contracts/audit-trail-contract.js';
import { describeArchiveStoreContract } from '../contracts/archive-store-contract.js';
import { describeLockContract } from '../contracts/lock-contract.js';
import { openedStore, type StoreFixture } from '../contracts/store-fixture.js';
import { freshContainer, localAzure } from '../helpers/azure.js';
import { startFaultProxy, type FaultProxyOptions } from '../helpers/fault-proxy.js';

const storeOptions = { uploadTier: 'Cool', rehydratePriority: 'High' } as const;

function onFreshContainer<T extends { init(): Promise<void>; close(): Promise<void> }>(
  build: (container: ReturnType<typeof freshContainer>['container']) => T,
): () => Promise<StoreFixture<T>> {
  return () => {
    const { container, remove } = freshContainer();
    return openedStore(build(container), remove);
  };
}

/**
 * A fresh container, reached directly and through a fault proxy in front of Azurite; `remove`
 * deletes the container (the proxy is the caller's to close).
 */
async function freshContainerThroughProxy(options: Omit<FaultProxyOptions, 'target'>) {
  const connection = localAzure().blobConnectionString;
  const endpoint = /BlobEndpoint=([^;]+)/.exec(connection)?.[1] ?? '';
  const proxy = await startFaultProxy({ target: new URL(endpoint), ...options });
  const proxied = new URL(endpoint);
  proxied.host = proxy.url.host;
  const { container, remove } = freshContainer();
  const throughProxy = BlobServiceClient.fromConnectionString(
    connection.replace(endpoint, proxied.href),
  ).getContainerClient(container.containerName);
  return { proxy, container, throughProxy, remove };
}

describeArchiveStoreContract(
  'Azure Blob Storage (Azurite)',
  onFreshContainer((c) => new BlobArchiveStore(c, storeOptions)),
  { tiers: true },
);
describeLockContract(
  'Azure blob lease (Azurite)',
  onFreshContainer((c) => new BlobLeaseLock(c)),
);

describeAuditTrailContract(
  'append blobs (Azurite)',
  onFreshContainer((c) => new AppendBlobAuditTrail(c)),
);

describe('BlobArchiveStore on Azurite', () => {
  it('reads a blob again when its body breaks off half-way, whole or a range', async () => {
    let downloads = 0;
    // The first download of each read is cut half-way through its body, after its headers came.
    const { proxy, throughProxy, remove } = await freshContainerThroughProxy({
      rates: { truncate: 1 },
      seed: 7,
      filter: (request) =>
        request.method === 'GET' && request.url?.includes('/x.bin') === true && downloads++ % 2 === 0,
    });
    try {
      const store = new BlobArchiveStore(throughProxy, storeOptions);
      await store.init();
      const bytes = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => i % 251));
      await store.putIfAbsent('x.bin', bytes, { sha256: sha256Hex(bytes) });
      expect(await store.get('x.bin')).toEqual(bytes);
      expect(await store.get('x.bin', { offset: 1000, length: 20_000 })).toEqual(
        bytes.subarray(1000, 21_000),
      );
      expect(proxy.injected.truncate).toBe(2);
    } finally {
      await proxy.close();
      await remove();
    }
  });

  it('lists again from the same page when a listing page breaks off half-way', async () => {
    let listings = 0;
    // Every other listing request is cut half-way through its body, after its headers came.
    const { proxy, throughProxy, remove } = await freshContainerThroughProxy({
      rates: { truncate: 1 },
      seed: 11,
      filter: (request) =>
        request.method === 'GET' && request.url?.includes('comp=list') === true && listings++ % 2 === 0,
    });
    try {
      const store = new BlobArchiveStore(throughProxy, storeOptions);
      await store.init();
      const names = Array.from(
        { length: 40 },
        (_, i) => `l/${String(i).padStart(3, '0')}-${'x'.repeat(60)}.json`,
      );
      for (const name of names)
        await store.putIfAbsent(name, Buffer.from(name), { sha256: sha256Hex(Buffer.from(name)) });
      const listed: string[] = [];
      for await (const info of store.list('l/')) listed.push(info.name);
      expect(listed).toEqual(names);
      expect(proxy.injected.truncate).toBeGreaterThan(0);
    } finally {
      await proxy.close();
      await remove();
    }
  });

  it('uploads to the configured tier with the SHA-256 in metadata and the MD5 on the blob', async () => {
    const { container, remove } = freshContainer();
    try {
      const store = new BlobArchiveStore(container, storeOptions);
      await store.init();
      const bytes = Buffer.from('{"id":"a"}');
      await store.putIfAbsent('records/2026/01/a.json', bytes, { sha256: sha256Hex(bytes) });
      const properties = await container.getBlobClient('records/2026/01/a.json').getProperties();
      expect(properties.accessTier).toBe('Cool');
      expect(properties.metadata).toEqual({ sha256: sha256Hex(bytes) });
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
      });
      await container.getBlobClient('records/2020/01/cold.json').setAccessTier('Archive');

      // Told not to, a read starts nothing: it says the blob is offline and not rehydrating.
      const untouched = await store
        .get('records/2020/01/cold.json', { offset: 0, length: 8 }, { rehydrate: false })
        .catch((e: unknown) => e);
      expect(untouched).toMatchObject({ constructor: ArchivedOfflineError, rehydrating: false });
      const copy = container.getBlobClient(`${REHYDRATED_PREFIX}records/2020/01/cold.json`);
      expect(await copy.exists()).toBe(false);

      const first = await store
        .get('records/2020/01/cold.json', { offset: 0, length: 8 })
        .catch((e: unknown) => e);
      expect(first).toBeInstanceOf(ArchivedOfflineError);
      expect((first as ArchivedOfflineError).retryAfterSeconds).toBe(900);
      expect((first as ArchivedOfflineError).rehydrating).toBe(true);
      const { copyId, accessTier } = await copy.getProperties();
      expect(accessTier).toBe('Cool');

      // Azurite rehydrates at once, so the next read is served from the copy, and no second copy starts.
      expect((await store.get('records/2020/01/cold.json', { offset: 0, length: 8 })).toString()).toBe(
        '{"id":"c',
      );
      expect((await copy.getProperties()).copyId).toBe(copyId);
      // A read told not to start a rehydration is served from the copy once it is readable.
      expect(
        (
          await store.get('records/2020/01/cold.json', { offset: 0, length: 8 }, { rehydrate: false })
        ).toString(),
      ).toBe('{"id":"c');
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

describe('AppendBlobAuditTrail on Azurite', () => {
  const entry = (i: number): AuditEntry => ({
    at: `2026-03-01T10:00:00.${String(i).padStart(3, '0')}Z`,
    actor: 'key:ops',
    action: 'record.create',
    outcome: 'succeeded',
    request_id: `q${i}`,
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each([
    ['its answer was lost after the service appended it', 'resetAfter'],
    ['the request broke before it reached the service', 'resetBefore'],
    ['the service answered 503', 'unavailable'],
  ] as const)('appends a line exactly once when %s', async (_case, kind) => {
    let struck = 0;
    const { proxy, container, throughProxy, remove } = await freshContainerThroughProxy({
      rates: { [kind]: 1 },
      seed: 5,
      // Only the first append of the line, not its creation of the blob nor any look afterwards.
      filter: (request) => request.url?.includes('comp=appendblock') === true && struck++ === 1,
    });
    try {
      const trail = new AppendBlobAuditTrail(throughProxy);
      await trail.init();
      await trail.append(entry(0));
      await trail.append(entry(1));
      expect(proxy.injected[kind]).toBe(1);
      const text = (await container.getBlobClient('2026/03/01/0000.ndjson').downloadToBuffer()).toString();
      expect(text).toBe(`${JSON.stringify(entry(0))}\n${JSON.stringify(entry(1))}\n`);
    } finally {
      await proxy.close();
      await remove();
    }
  });

  it('moves to the next part when the day blob holds all the blocks it can, and queries read every part', async () => {
    const { container, remove } = freshContainer();
    try {
      const trail = new AppendBlobAuditTrail(container);
      await trail.init();
      await trail.append(entry(0));
      await trail.append(entry(1));
      const part0 = await container.getBlobClient('2026/03/01/0000.ndjson').getProperties();
      expect(part0.blobType).toBe('AppendBlob');
      expect(part0.contentType).toBe('application/x-ndjson');
      expect(part0.blobCommittedBlockCount).toBe(2);

      // The first part refuses further blocks, as a blob holding 50,000 of them would.
      // Called with each client as `this`, as the prototype's own method is.
      // eslint-disable-next-line @typescript-eslint/unbound-method
      const appendBlock = AppendBlobClient.prototype.appendBlock;
      vi.spyOn(AppendBlobClient.prototype, 'appendBlock').mockImplementation(function (
        this: AppendBlobClient,
        ...args
      ) {
        if (this.name === '2026/03/01/0000.ndjson')
          return Promise.reject(
            new RestError('The committed block count cannot exceed the maximum limit of 50,000 blocks.', {
              statusCode: 409,
              code: 'BlockCountExceedsLimit',
            }),
          );
        return appendBlock.apply(this, args);
      });
      await trail.append(entry(2));
      await trail.append(entry(3));
      expect((await container.getBlobClient('2026/03/01/0001.ndjson').downloadToBuffer()).toString()).toBe(
        `${JSON.stringify(entry(2))}\n${JSON.stringify(entry(3))}\n`,
      );
      expect(await container.getBlobClient('2026/03/01/0000.ndjson').getProperties()).toMatchObject({
        blobCommittedBlockCount: 2,
      });

      // Another process starts on the highest part there is.
      const other = new AppendBlobAuditTrail(container);
      await other.append(entry(4));
      expect(
        (await container.getBlobClient('2026/03/01/0001.ndjson').getProperties()).blobCommittedBlockCount,
      ).toBe(3);

      const all = [0, 1, 2, 3, 4].map(entry);
      expect(await trail.query({ limit: 10 })).toEqual({ items: all, nextCursor: undefined });
      // A cursor resumes across the parts.
      const first = await trail.query({ limit: 3 });
      expect(first.items).toEqual(all.slice(0, 3));
      expect(await trail.query({ limit: 3, cursor: first.nextCursor })).toEqual({
        items: all.slice(3),
        nextCursor: undefined,
      });
    } finally {
      await remove();
    }
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

  it('reports the lease lost while it still holds, when renewals go unanswered', async () => {
    // Renewals vanish on the way (a stalled connection): the lease can only run out.
    const {
      proxy,
      container: direct,
      throughProxy: container,
      remove,
    } = await freshContainerThroughProxy({
      rates: { hang: 1 },
      seed: 3,
      filter: (request) => request.headers['x-ms-lease-action'] === 'renew',
    });
    try {
      const lock = new BlobLeaseLock(container);
      await lock.init();
      const lease = await lock.acquire('archival-all', { runId: 'stalled', description: 'a stalled holder' });
      const lost = new Promise<unknown>((resolve) => {
        lease.lost.addEventListener('abort', () => {
          resolve(lease.lost.reason);
        });
      });
      expect(await lost).toBeInstanceOf(StoreUnavailableError);
      expect(proxy.injected.hang).toBeGreaterThan(0);
      // Reported while the lease still stands: nobody else can hold the lock yet.
      const other = new BlobLeaseLock(direct);
      await expect(
        other.acquire('archival-all', { runId: 'next', description: 'next' }),
      ).rejects.toBeInstanceOf(LockHeldError);
      await lock.close();
    } finally {
      await remove();
      await proxy.close();
    }
  }, 40_000);
});
