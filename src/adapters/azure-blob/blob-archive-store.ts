import { createHash } from 'node:crypto';
import type {
  BlobItem,
  BlockBlobUploadOptions,
  ContainerClient,
  ContainerListBlobFlatSegmentResponse,
} from '@azure/storage-blob';
import pRetry from 'p-retry';
import { sha256Hex } from '../../domain/billing-record.js';
import { ArchivedOfflineError, IntegrityError, NotFoundError } from '../../domain/errors.js';
import {
  ACCESS_TIERS,
  type AccessTier,
  type ArchiveStore,
  type ArchiveTiers,
  type BlobFacts,
  type BlobInfo,
  type ByteRange,
  type ReadOptions,
  type TieredBlobInfo,
} from '../../ports/archive-store.js';
import { ensureContainer } from './blob-container.js';
import { bodyCutOff, brokeInTransit, statusOf, storageErrorCode, unavailable } from './blob-errors.js';

export type RehydratePriority = 'High' | 'Standard';

export interface BlobArchiveStoreOptions {
  /** Access tier of new archive blobs. */
  uploadTier: AccessTier;
  /** Priority of the copy that rehydrates an Archive-tier blob. */
  rehydratePriority: RehydratePriority;
}

/** Rehydrated copies live beside the archive under this prefix, in an online tier. */
export const REHYDRATED_PREFIX = 'rehydrated/';

/** Reads of one blob whose body breaks off before one gets through. */
const DOWNLOAD_ATTEMPTS = 4;

/** What a reader is told to wait: high priority finishes within the hour, standard within 15 h. */
const RETRY_AFTER_SECONDS: Record<RehydratePriority, number> = { High: 15 * 60, Standard: 60 * 60 };

/**
 * ArchiveStore on an Azure Blob Storage container. Uploads are create-only (If-None-Match: *) and
 * carry Content-MD5 so the service verifies what it stored; blob metadata records the SHA-256. It
 * declares access tiers: a blob in the Archive tier is read through a rehydrated copy, which the
 * first read starts.
 */
export class BlobArchiveStore implements ArchiveStore {
  readonly tiers: ArchiveTiers = {
    list: (prefix) => this.listWithTiers(prefix),
    setTier: (name, tier) => this.setTier(name, tier),
    tierOf: (name) => this.tierOf(name),
  };

  constructor(
    private readonly container: ContainerClient,
    private readonly options: BlobArchiveStoreOptions,
  ) {}

  async init(): Promise<void> {
    await ensureContainer(this.container);
  }

  async close(): Promise<void> {
    await Promise.resolve();
  }

  async putIfAbsent(
    name: string,
    bytes: Uint8Array,
    { sha256, tier }: BlobFacts,
  ): Promise<{ created: boolean }> {
    const actual = sha256Hex(bytes);
    if (actual !== sha256)
      throw new IntegrityError(`bytes for blob '${name}' hash to ${actual}, not ${sha256}`);
    const md5 = createHash('md5').update(bytes).digest();
    // The SDK forwards transactionalContentMD5 (the Content-MD5 header the service checks in
    // transit) though its upload options type omits it; blobContentMD5 stays on the blob.
    const options: BlockBlobUploadOptions & { transactionalContentMD5: Uint8Array } = {
      conditions: { ifNoneMatch: '*' },
      transactionalContentMD5: md5,
      blobHTTPHeaders: { blobContentType: contentTypeOf(name), blobContentMD5: md5 },
      metadata: { sha256 },
      tier: tier ?? this.options.uploadTier,
    };
    try {
      await this.container.getBlockBlobClient(name).upload(bytes, bytes.length, options);
      return { created: true };
    } catch (error) {
      // Azurite answers 409 BlobAlreadyExists; the service may answer 412 ConditionNotMet.
      if (statusOf(error) === 409 || statusOf(error) === 412) return { created: false };
      throw unavailable(`writing blob '${name}'`, error);
    }
  }

  async get(name: string, range?: ByteRange, options: ReadOptions = {}): Promise<Buffer> {
    try {
      return await this.download(name, range);
    } catch (error) {
      if (storageErrorCode(error) === 'BlobArchived')
        return this.readRehydrated(name, range, options.rehydrate ?? true);
      if (statusOf(error) === 404) throw new NotFoundError(`blob '${name}' not found`, { cause: error });
      if (range && (await this.endsBefore(name, range)))
        throw new IntegrityError(`blob '${name}' ends before the range ${range.offset}+${range.length}`, {
          cause: error,
        });
      throw unavailable(`reading blob '${name}'`, error);
    }
  }

  async delete(name: string): Promise<void> {
    try {
      await this.container.getBlobClient(name).deleteIfExists({ deleteSnapshots: 'include' });
      await this.container
        .getBlobClient(`${REHYDRATED_PREFIX}${name}`)
        .deleteIfExists({ deleteSnapshots: 'include' });
    } catch (error) {
      throw unavailable(`deleting blob '${name}'`, error);
    }
  }

  list(prefix: string): AsyncIterable<BlobInfo> {
    return this.listWithTiers(prefix);
  }

  async ping(): Promise<void> {
    try {
      await this.container.getProperties();
    } catch (error) {
      throw unavailable(`reaching container '${this.container.containerName}'`, error);
    }
  }

  /**
   * Whether a range read failed because the blob is shorter than the range (Azure answers 416, or
   * a body shorter than asked): then it is not the blob written, as a short file is on disk.
   */
  private async endsBefore(name: string, range: ByteRange): Promise<boolean> {
    try {
      const { contentLength } = await this.container.getBlobClient(name).getProperties();
      return contentLength !== undefined && contentLength < range.offset + range.length;
    } catch {
      return false;
    }
  }

  private async tierOf(name: string): Promise<AccessTier> {
    try {
      const properties = await this.container.getBlobClient(name).getProperties();
      return tierOf(properties.accessTier) ?? this.options.uploadTier;
    } catch (error) {
      if (statusOf(error) === 404) throw new NotFoundError(`blob '${name}' not found`, { cause: error });
      throw unavailable(`reading the tier of blob '${name}'`, error);
    }
  }

  private async setTier(name: string, tier: AccessTier): Promise<void> {
    try {
      await this.container.getBlobClient(name).setAccessTier(tier);
    } catch (error) {
      if (statusOf(error) === 404) throw new NotFoundError(`blob '${name}' not found`, { cause: error });
      throw unavailable(`moving blob '${name}' to ${tier}`, error);
    }
  }

  /** One listing serves both: Azure returns every blob's tier with its name. */
  private async *listWithTiers(prefix: string): AsyncIterable<TieredBlobInfo> {
    let continuationToken: string | undefined;
    do {
      let page: Awaited<ReturnType<BlobArchiveStore['listPage']>>;
      try {
        page = await this.listPage(prefix, continuationToken);
      } catch (error) {
        throw unavailable(`listing blobs under '${prefix}'`, error);
      }
      for (const item of page.items) {
        const { properties } = item;
        yield {
          name: item.name,
          size: properties.contentLength ?? 0,
          lastModified: properties.lastModified,
          createdOn: properties.createdOn ?? properties.lastModified,
          tier: tierOf(properties.accessTier) ?? this.options.uploadTier,
          tierChangedOn: properties.accessTierChangedOn,
        };
      }
      continuationToken = page.next;
    } while (continuationToken);
  }

  /**
   * One page of a listing, asked again from the same place when its answer broke off on the way
   * (a listing is safe to repeat): a compaction or verify under a flaky network goes on.
   */
  private async listPage(
    prefix: string,
    continuationToken: string | undefined,
  ): Promise<{ items: BlobItem[]; next: string | undefined }> {
    return pRetry(
      async () => {
        const pages: AsyncIterator<ContainerListBlobFlatSegmentResponse> = this.container
          .listBlobsFlat({ prefix })
          .byPage(continuationToken === undefined ? {} : { continuationToken });
        const first = await pages.next();
        const page = first.done ? undefined : first.value;
        return { items: page?.segment.blobItems ?? [], next: page?.continuationToken || undefined };
      },
      {
        retries: DOWNLOAD_ATTEMPTS - 1,
        minTimeout: 100,
        factor: 2,
        maxTimeout: 1_600,
        randomize: true,
        shouldRetry: ({ error }) => brokeInTransit(error),
      },
    );
  }

  /**
   * The blob's bytes, read again when the body broke off on the way: the pipeline retries
   * requests that got no answer, but not a body cut short after its headers came (reads are safe
   * to repeat, and an index commit that reads files must not fail on one).
   */
  private async download(name: string, range?: ByteRange): Promise<Buffer> {
    const blob = this.container.getBlobClient(name);
    return pRetry(
      () => (range ? blob.downloadToBuffer(range.offset, range.length) : blob.downloadToBuffer()),
      {
        retries: DOWNLOAD_ATTEMPTS - 1,
        minTimeout: 100,
        factor: 2,
        maxTimeout: 1_600,
        randomize: true,
        // Only the cut-off body: what got no answer the pipeline has tried 5 times already.
        shouldRetry: ({ error }) => bodyCutOff(error),
      },
    );
  }

  /**
   * Serves the rehydrated copy when it is readable; otherwise starts the copy once (create-only,
   * so concurrent readers never start two) and tells the caller when to come back.
   */
  private async readRehydrated(name: string, range: ByteRange | undefined, start: boolean): Promise<Buffer> {
    const copyName = `${REHYDRATED_PREFIX}${name}`;
    const retryAfter = RETRY_AFTER_SECONDS[this.options.rehydratePriority];
    try {
      return await this.download(copyName, range);
    } catch (error) {
      if (
        storageErrorCode(error) === 'BlobArchived' ||
        storageErrorCode(error) === 'CannotVerifyCopySource'
      ) {
        throw new ArchivedOfflineError(`blob '${name}' is being rehydrated`, retryAfter, { cause: error });
      }
      if (statusOf(error) !== 404) throw unavailable(`reading rehydrated copy '${copyName}'`, error);
    }
    if (!start)
      throw new ArchivedOfflineError(`blob '${name}' is in the Archive tier and not rehydrated`, retryAfter, {
        rehydrating: false,
      });
    try {
      await this.container.getBlobClient(copyName).beginCopyFromURL(this.container.getBlobClient(name).url, {
        tier: 'Cool',
        rehydratePriority: this.options.rehydratePriority,
        conditions: { ifNoneMatch: '*' },
      });
    } catch (error) {
      if (statusOf(error) === 404) throw new NotFoundError(`blob '${name}' not found`, { cause: error });
      if (statusOf(error) !== 409 && statusOf(error) !== 412)
        throw unavailable(`rehydrating blob '${name}'`, error);
    }
    throw new ArchivedOfflineError(
      `blob '${name}' is in the Archive tier; rehydration to Cool has started (${this.options.rehydratePriority} priority)`,
      retryAfter,
    );
  }
}

function tierOf(value: string | undefined): AccessTier | undefined {
  return ACCESS_TIERS.find((tier) => tier === value);
}

function contentTypeOf(name: string): string {
  if (name.endsWith('.json')) return 'application/json';
  if (name.endsWith('.gz')) return 'application/gzip';
  return 'application/octet-stream';
}
