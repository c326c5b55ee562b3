/** Azure's online and offline access tiers, coolest last. */
export const ACCESS_TIERS = ['Hot', 'Cool', 'Cold', 'Archive'] as const;
export type AccessTier = (typeof ACCESS_TIERS)[number];

export interface BlobInfo {
  name: string;
  size: number;
  lastModified: Date;
}

/** A blob as the lifecycle policy sees it: its creation and its access tier. */
export interface TieredBlobInfo extends BlobInfo {
  /** When the blob was created; blobs are never rewritten, so the lifecycle policy counts from here. */
  createdOn: Date;
  tier: AccessTier;
  /** When the tier last changed, or undefined when it never did. */
  tierChangedOn: Date | undefined;
}

/**
 * Access tiers: a capability only some stores declare (Azure Blob Storage), which `lifecycle
 * simulate` needs. Such a store answers `get` of an Archive-tier blob with ArchivedOfflineError
 * until it has rehydrated it.
 */
export interface ArchiveTiers {
  /** Blobs whose names start with prefix, in name order, with their tiers. */
  list(prefix: string): AsyncIterable<TieredBlobInfo>;
  /** Moves the blob to `tier`, as the lifecycle policy would; NotFoundError when absent. */
  setTier(name: string, tier: AccessTier): Promise<void>;
  /** The blob's tier now (one metadata read); NotFoundError when absent. */
  tierOf(name: string): Promise<AccessTier>;
}

/** What the writer knows about a blob's content. */
export interface BlobFacts {
  sha256: string;
  /**
   * The tier to store it in, where the store has tiers, instead of the store's upload tier: for
   * blobs replaced within days (the blob-native index's), which Cool or Cold would bill for 30 or
   * 90 days, and which must never be offline.
   */
  tier?: AccessTier;
}

export interface ByteRange {
  offset: number;
  length: number;
}

export interface ReadOptions {
  /**
   * Whether reading a blob in the Archive tier may start its rehydration (true unless false). With
   * false, such a read still serves a rehydrated copy that is readable, and otherwise fails with
   * ArchivedOfflineError without starting anything.
   */
  rehydrate?: boolean | undefined;
}

/** Named, immutable blobs (Azure Blob Storage container or a local directory). */
export interface ArchiveStore {
  init(): Promise<void>;
  close(): Promise<void>;
  /**
   * Stores bytes under `name` durably before resolving, create-only: when the name exists the stored
   * blob is left untouched and `created` is false. The store checks the bytes against `sha256` and
   * keeps it where its backend keeps blob metadata.
   */
  putIfAbsent(name: string, bytes: Uint8Array, facts: BlobFacts): Promise<{ created: boolean }>;
  /** The blob's bytes, or the given range of them; NotFoundError when absent. */
  get(name: string, range?: ByteRange, options?: ReadOptions): Promise<Buffer>;
  /** Deletes the blob; a missing blob is a no-op. */
  delete(name: string): Promise<void>;
  /** Blobs whose names start with prefix, in name order. */
  list(prefix: string): AsyncIterable<BlobInfo>;
  /** Readiness probe: resolves when the store answers. */
  ping(): Promise<void>;
  /** The store's access tiers; absent when it has none (every blob is then always readable). */
  readonly tiers?: ArchiveTiers;
}
