import type { ArchiveLocation } from './archive-index.js';

/** A location no entry points to any more: its bytes wait to be deleted or compacted. */
export interface Garbage {
  seq: string;
  /** The record whose entry pointed there. */
  id: string;
  location: ArchiveLocation;
}

/** Locations that index changes left behind, in the order they were noted (Cosmos DB container or SQLite table). */
export interface GarbageQueue {
  init(): Promise<void>;
  close(): Promise<void>;
  /** Notes the locations, in order, durably before resolving. */
  add(items: readonly Omit<Garbage, 'seq'>[]): Promise<void>;
  /** Garbage, oldest first, strictly after `afterSeq` when given. */
  list(query: { limit: number; afterSeq?: string | undefined }): Promise<Garbage[]>;
  /** Forgets garbage whose bytes were dealt with; unknown seqs are ignored. */
  forget(seqs: readonly string[]): Promise<void>;
  /** Readiness probe: resolves when the queue answers, cheaply. */
  ping(): Promise<void>;
}
