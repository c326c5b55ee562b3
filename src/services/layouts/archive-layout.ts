import type { ArchiveEntry, ArchiveIndex, ArchiveLocation } from '../../ports/archive-index.js';
import type { AccessTier, ArchiveStore, BlobInfo, ReadOptions } from '../../ports/archive-store.js';
import type { StoredRecord } from '../../ports/live-store.js';

export type LayoutName = ArchiveLocation['layout'];

export interface LayoutContext {
  runId: string;
  archivedAt: string;
}

/** Records now durable in the archive, each with the live etag read with it, ready to be indexed. */
export interface DurableBatch {
  written: { entry: ArchiveEntry; etag: string }[];
  failed: { id: string; error: Error }[];
}

/** One run's writer: takes eligible records in `created_at` order, says when they are durable. */
export interface LayoutWriter {
  /** Takes the next records; returns the batches that became durable meanwhile (maybe none). */
  add(records: readonly StoredRecord[]): Promise<DurableBatch[]>;
  /** Makes everything still buffered durable. */
  finish(): Promise<DurableBatch[]>;
}

/** A blob as a layout lists it: with its access tier when the store declares tiers. */
export type ListedBlob = BlobInfo & { tier?: AccessTier };

/**
 * How archived records are laid out in blobs. A layout is the one owner of the blobs it writes:
 * their names, how they are written and read, when they are still needed and how they go.
 */
export interface ArchiveLayout {
  readonly name: LayoutName;
  /** Where its blobs live; nothing else writes under these prefixes. */
  readonly prefixes: readonly string[];
  /** A run's writer. */
  open(context: LayoutContext): LayoutWriter;
  /** The record's canonical bytes at `location`, with one ranged read; NotFoundError when the blob is gone. */
  read(location: ArchiveLocation, options?: ReadOptions): Promise<Buffer>;
  /**
   * The canonical bytes at each location, in input order, or the error reading it met: a blob
   * range several locations share (a segment's member) is read once.
   */
  readMany(locations: readonly ArchiveLocation[], options?: ReadOptions): Promise<(Buffer | Error)[]>;
  /** Whether a blob a garbage note names is still needed by some entry, asked of the index now. */
  stillReferenced(index: ArchiveIndex, garbage: { id: string; location: ArchiveLocation }): Promise<boolean>;
  /** Deletes one of its blobs with whatever belongs to it; a missing blob is a no-op. */
  remove(blob: string): Promise<void>;
  /** Every blob under its prefixes, in name order per prefix, with its access tier where the store has tiers. */
  blobs(): AsyncIterable<ListedBlob>;
}

/** What was thrown, as an Error (a layout's `readMany` answers each location with one). */
export function asError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown));
}

/** Blob reads in flight at once for one `readMany`. */
export const READS_AT_ONCE = 16;

/** Every blob under `prefixes`, with its tier when the store has tiers (one listing either way). */
export async function* listedBlobs(
  store: ArchiveStore,
  prefixes: readonly string[],
): AsyncIterable<ListedBlob> {
  for (const prefix of prefixes) yield* store.tiers ? store.tiers.list(prefix) : store.list(prefix);
}
