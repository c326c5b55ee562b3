/** Where an archived record's canonical bytes live: a byte range of one blob, in one layout. */
export interface ArchiveLocation {
  layout: 'record';
  blob: string;
  offset: number;
  length: number;
}

/** What the index keeps per archived record: enough to find, verify, list and count it. */
export interface ArchiveEntry {
  id: string;
  customer_id: string;
  created_at: string;
  location: ArchiveLocation;
  sha256: string;
  size: number;
  archived_at: string;
  run_id: string;
}

export interface StoredEntry extends ArchiveEntry {
  etag: string;
}

/** A location no entry points to any more: its bytes wait to be deleted or compacted. */
export interface Garbage {
  seq: string;
  id: string;
  location: ArchiveLocation;
  since: string;
}

export interface ArchiveListQuery {
  limit: number;
  afterId?: string;
  customerId?: string;
}

/** Record id → archived copy (Cosmos DB container or SQLite table). */
export interface ArchiveIndex {
  init(): Promise<void>;
  close(): Promise<void>;
  /** The entry, or undefined when the id is not archived. */
  get(id: string): Promise<StoredEntry | undefined>;
  /** Upserts entries, returned with their new etags in input order. A replaced entry that pointed elsewhere leaves its location as garbage. */
  putMany(entries: readonly ArchiveEntry[]): Promise<StoredEntry[]>;
  /** Removes the entry and leaves its location as garbage; undefined when absent; PreconditionFailedError when ifMatch differs. */
  withdraw(id: string, ifMatch?: string): Promise<StoredEntry | undefined>;
  /** Garbage, oldest first, strictly after `afterSeq` when given. */
  listGarbage(query: { limit: number; afterSeq?: string | undefined }): Promise<Garbage[]>;
  /** Forgets garbage whose bytes were dealt with; unknown seqs are ignored. */
  forgetGarbage(seqs: readonly string[]): Promise<void>;
  /** Entries in id order, filtered by customer when given. */
  list(query: ArchiveListQuery): Promise<StoredEntry[]>;
  /** Entry count and summed record sizes (a scan: for stats, not for probes). */
  summary(): Promise<{ count: number; bytes: number }>;
  /** Readiness probe: resolves when the index answers, cheaply. */
  ping(): Promise<void>;
}

/** Blob names differ between layouts, so blob and range identify a location. */
export function sameLocation(a: ArchiveLocation, b: ArchiveLocation): boolean {
  return a.blob === b.blob && a.offset === b.offset && a.length === b.length;
}
