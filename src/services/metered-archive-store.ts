import type { ArchiveStoreOperation } from '../domain/usage.js';
import type {
  AccessTier,
  ArchiveStore,
  ArchiveTiers,
  BlobFacts,
  BlobInfo,
  ByteRange,
  ReadOptions,
} from '../ports/archive-store.js';
import type { RequestMeter } from '../ports/request-meter.js';

/** Blob Storage answers a listing in pages of at most this many blobs, each page one billed operation. */
export const LIST_PAGE = 5_000;

/**
 * The archive store as services use it: each operation told to the meter, whatever the backend,
 * so a run on the embedded store shows the operations it would pay for on Blob Storage. A listing
 * counts one operation per page of `LIST_PAGE` blobs read; a rehydration copy made inside a read
 * counts as that read.
 */
export class MeteredArchiveStore implements ArchiveStore {
  readonly tiers?: ArchiveTiers;

  constructor(
    private readonly store: ArchiveStore,
    private readonly meter: RequestMeter,
  ) {
    const { tiers } = store;
    if (tiers) {
      this.tiers = {
        list: (prefix) => this.listed(tiers.list(prefix)),
        setTier: async (name: string, tier: AccessTier) => {
          this.count('set_tier');
          await tiers.setTier(name, tier);
        },
        tierOf: (name: string) => {
          this.count('read_properties');
          return tiers.tierOf(name);
        },
      };
    }
  }

  init(): Promise<void> {
    return this.store.init();
  }

  close(): Promise<void> {
    return this.store.close();
  }

  ping(): Promise<void> {
    return this.store.ping();
  }

  putIfAbsent(name: string, bytes: Uint8Array, facts: BlobFacts): Promise<{ created: boolean }> {
    this.count('write');
    return this.store.putIfAbsent(name, bytes, facts);
  }

  get(name: string, range?: ByteRange, options?: ReadOptions): Promise<Buffer> {
    this.count('read');
    return this.store.get(name, range, options);
  }

  delete(name: string): Promise<void> {
    this.count('delete');
    return this.store.delete(name);
  }

  list(prefix: string): AsyncIterable<BlobInfo> {
    return this.listed(this.store.list(prefix));
  }

  private async *listed<T>(blobs: AsyncIterable<T>): AsyncIterable<T> {
    this.count('list');
    let seen = 0;
    for await (const blob of blobs) {
      seen += 1;
      if (seen % LIST_PAGE === 1 && seen > 1) this.count('list');
      yield blob;
    }
  }

  private count(kind: ArchiveStoreOperation): void {
    this.meter.count({ store: 'archive_store', kind });
  }
}
