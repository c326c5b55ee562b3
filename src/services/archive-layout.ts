import type { ArchiveEntry } from '../ports/archive-index.js';
import type { StoredRecord } from '../ports/live-store.js';

export type LayoutName = 'record' | 'segment';

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

/** How archived records are laid out in blobs. */
export interface ArchiveLayout {
  readonly name: LayoutName;
  open(context: LayoutContext): LayoutWriter;
}
