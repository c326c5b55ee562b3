export interface BlobInfo {
  name: string;
  size: number;
  lastModified: Date;
}

/** What the writer knows about a blob's content. */
export interface BlobFacts {
  sha256: string;
  recordCount: number;
}

export interface ByteRange {
  offset: number;
  length: number;
}

/** Named, immutable blobs (Azure Blob Storage container or a local directory). */
export interface ArchiveStore {
  init(): Promise<void>;
  close(): Promise<void>;
  /**
   * Stores bytes under `name` durably before resolving, create-only: when the name exists the stored
   * blob is left untouched and `created` is false. The store checks the bytes against `sha256` and
   * keeps it, with the number of records the blob holds, where its backend keeps blob metadata.
   */
  putIfAbsent(name: string, bytes: Uint8Array, facts: BlobFacts): Promise<{ created: boolean }>;
  /** The blob's bytes, or the given range of them; NotFoundError when absent. */
  get(name: string, range?: ByteRange): Promise<Buffer>;
  /** Deletes the blob; a missing blob is a no-op. */
  delete(name: string): Promise<void>;
  /** Blobs whose names start with prefix, in name order. */
  list(prefix: string): AsyncIterable<BlobInfo>;
  /** Readiness probe: resolves when the store answers. */
  ping(): Promise<void>;
}
