import type { StoredBytes } from '../domain/cost-model.js';
import type { CreationOrder } from '../domain/creation-order.js';
import { PreconditionFailedError } from '../domain/errors.js';
import type { IndexRebuild } from '../domain/index-root.js';
import type { BlobInfo } from './archive-store.js';

/**
 * Where an archived record's canonical bytes live: a byte range of one blob. In the `segment` layout
 * the range is the gzip member holding the record, and `line` its place in the decompressed member.
 */
export type ArchiveLocation =
  | { layout: 'record'; blob: string; offset: number; length: number }
  | { layout: 'segment'; blob: string; offset: number; length: number; line: LineRange };

export interface LineRange {
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

/**
 * Entries in id order, strictly after `afterId` when given, or in creation order (`byCreation`,
 * see creation-order.ts), matching every filter given.
 */
export interface ArchiveListQuery {
  limit: number;
  afterId?: string | undefined;
  byCreation?: CreationOrder | undefined;
  customerId?: string | undefined;
  /** Entries whose location is in this blob. */
  blob?: string | undefined;
  /** Entries of records created at or after this ISO time (a comparison of the UTC text entries keep). */
  createdFrom?: string | undefined;
  /** Entries of records created before this ISO time (the same comparison). */
  createdBefore?: string | undefined;
  /** See IndexReadOptions. */
  evenIfRebuilding?: boolean | undefined;
}

export interface IndexReadOptions {
  /**
   * While a rebuild of an index kept as files is under way (`verify --repair --rebuild-index`),
   * the index lacks entries of archived records, so a look-up that finds nothing, or any listing,
   * fails with IndexRebuildingError rather than answer "not archived". Only the repair that
   * rebuilds it reads it as it stands.
   */
  evenIfRebuilding?: boolean | undefined;
}

/**
 * Upkeep of an index kept as files (the blob-native one): what its commits leave behind. Indexes
 * kept in a database (Cosmos DB, SQLite) have none.
 */
export interface IndexUpkeep {
  /**
   * The index's files that no root names, nor ever will: left by a commit that crashed or lost
   * its race, or whose delete failed after the commit.
   */
  orphans(): Promise<BlobInfo[]>;
  /** Deletes one of those; ValidationError when the name is not one. */
  removeOrphan(name: string): Promise<void>;
  /** Deletes the roots superseded longer ago than a reader may still stand on them; how many. */
  pruneRoots(): Promise<number>;
  /**
   * The counts `summary` answers from against a scan of the same generation; with `repair`, when
   * they differ, commits a generation that keeps the scan's.
   */
  checkCounts(options: { repair: boolean }): Promise<IndexCountCheck>;
  /** The rebuild under way at the newest root, if any. */
  rebuildUnderWay(): Promise<IndexRebuild | undefined>;
  /**
   * Begins a rebuild: commits a next generation that names no file, counts nothing and carries
   * `rebuild`, then deletes the files no root names any more; how many files went.
   */
  beginRebuild(rebuild: IndexRebuild): Promise<number>;
  /** Commits a next generation without the rebuild mark: look-ups answer "not archived" again. */
  endRebuild(): Promise<void>;
}

/** Archived records of one creation month (YYYY-MM, UTC) and their summed sizes. */
export interface MonthSummary {
  month: string;
  count: number;
  bytes: number;
}

export interface IndexCountCheck {
  kept: { count: number; bytes: number };
  counted: { count: number; bytes: number };
  /** Whether the counts by month agree too; 'not kept' by a root written before they were. */
  months: 'agree' | 'differ' | 'not kept';
  /** Whether a repair committed the counted figures. */
  repaired: boolean;
}

/**
 * Record id → archived copy (Cosmos DB container or SQLite table). It only stores: what a change
 * leaves behind is the garbage queue's, noted by the service that makes the change.
 */
export interface ArchiveIndex {
  init(): Promise<void>;
  close(): Promise<void>;
  /** The entry, or undefined when the id is not archived. */
  get(id: string, options?: IndexReadOptions): Promise<StoredEntry | undefined>;
  /** The entries of these ids in input order (undefined where not archived), in a few requests. */
  getMany(ids: readonly string[], options?: IndexReadOptions): Promise<(StoredEntry | undefined)[]>;
  /** Upserts entries, returned with their new etags in input order. */
  putMany(entries: readonly ArchiveEntry[]): Promise<StoredEntry[]>;
  /**
   * Moves a record's entry from `from` to `to` (same id) only while it is still exactly `from`:
   * undefined, and nothing changed, when it was withdrawn or changed meanwhile. Moves that copy
   * archived bytes elsewhere (compaction, held copies) so never bring back a withdrawn entry.
   */
  repoint(from: StoredEntry, to: ArchiveEntry): Promise<StoredEntry | undefined>;
  /** Removes the entry and returns it; undefined when absent; PreconditionFailedError when ifMatch differs. */
  withdraw(id: string, ifMatch?: string): Promise<StoredEntry | undefined>;
  /** A page of entries (see ArchiveListQuery). */
  list(query: ArchiveListQuery): Promise<StoredEntry[]>;
  /** Entry count and summed record sizes (a scan: for stats, not for probes). */
  summary(): Promise<{ count: number; bytes: number }>;
  /** The same by records' creation month, oldest first; months with none left out. */
  summaryByMonth(): Promise<MonthSummary[]>;
  /** The bytes the index itself takes where it is kept (for the cost model, not for probes). */
  storage(): Promise<StoredBytes>;
  /** Readiness probe: resolves when the index answers, cheaply. */
  ping(): Promise<void>;
  /** Present on indexes kept as files. */
  readonly upkeep?: IndexUpkeep;
}

/**
 * Withdraws the entry unless it changed since it was read (a newer version then stays): false
 * when it had changed.
 */
export async function withdrawUnlessChanged(index: ArchiveIndex, entry: StoredEntry): Promise<boolean> {
  try {
    await index.withdraw(entry.id, entry.etag);
    return true;
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
    return false;
  }
}

/** Every entry in `blob`, page by page. */
export async function allEntriesIn(
  index: ArchiveIndex,
  blob: string,
  options: IndexReadOptions = {},
): Promise<StoredEntry[]> {
  const PAGE = 500;
  const entries: StoredEntry[] = [];
  let afterId: string | undefined;
  for (;;) {
    const page = await index.list({ blob, limit: PAGE, afterId, ...options });
    entries.push(...page);
    if (page.length < PAGE) return entries;
    afterId = page.at(-1)?.id;
  }
}

/** The entry as it is put: the etag is the index's to give. */
export function withoutEtag(entry: StoredEntry): ArchiveEntry {
  const { etag: _etag, ...rest } = entry;
  return rest;
}

/** Whether two entries say the same of a record (etags aside: each index makes its own). */
export function sameEntry(a: ArchiveEntry, b: ArchiveEntry): boolean {
  return (
    a.id === b.id &&
    a.customer_id === b.customer_id &&
    a.created_at === b.created_at &&
    a.location.layout === b.location.layout &&
    sameLocation(a.location, b.location) &&
    a.sha256 === b.sha256 &&
    a.size === b.size &&
    a.archived_at === b.archived_at &&
    a.run_id === b.run_id
  );
}

/** Blob names differ between layouts, so blob, range and line identify a location. */
export function sameLocation(a: ArchiveLocation, b: ArchiveLocation): boolean {
  return (
    a.blob === b.blob &&
    a.offset === b.offset &&
    a.length === b.length &&
    lineOf(a)?.offset === lineOf(b)?.offset &&
    lineOf(a)?.length === lineOf(b)?.length
  );
}

function lineOf(location: ArchiveLocation): LineRange | undefined {
  return location.layout === 'segment' ? location.line : undefined;
}
