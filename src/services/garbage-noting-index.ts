import pMap from 'p-map';
import {
  sameLocation,
  type ArchiveEntry,
  type ArchiveIndex,
  type ArchiveListQuery,
  type StoredEntry,
} from '../ports/archive-index.js';
import type { GarbageQueue } from '../ports/garbage-queue.js';

/** Index reads in flight while a batch is upserted; as many as the adapters write at once. */
const READ_CONCURRENCY = 16;

/**
 * The index as services use it: a change that leaves a location no entry points to notes it in the
 * garbage queue, so the collector can delete or compact its bytes. The note follows the change: a
 * crash in between leaves an orphan blob (which `verify` reports and `verify --repair` removes),
 * never a note the collector could judge while the entry still points there and then forget.
 */
export class GarbageNotingIndex implements ArchiveIndex {
  constructor(
    private readonly index: ArchiveIndex,
    private readonly garbage: GarbageQueue,
  ) {}

  init(): Promise<void> {
    return this.index.init();
  }

  close(): Promise<void> {
    return this.index.close();
  }

  ping(): Promise<void> {
    return this.index.ping();
  }

  get(id: string): Promise<StoredEntry | undefined> {
    return this.index.get(id);
  }

  /** Upserts; an entry that pointed elsewhere before leaves its old location as garbage. */
  async putMany(entries: readonly ArchiveEntry[]): Promise<StoredEntry[]> {
    const previous = await pMap(entries, (entry) => this.index.get(entry.id), {
      concurrency: READ_CONCURRENCY,
    });
    const stored = await this.index.putMany(entries);
    const left = previous.filter(
      (before, i): before is StoredEntry =>
        before !== undefined && !sameLocation(before.location, entries[i]?.location ?? before.location),
    );
    if (left.length > 0) await this.garbage.add(left.map(({ id, location }) => ({ id, location })));
    return stored;
  }

  /** Withdraws; the entry's location becomes garbage. */
  async withdraw(id: string, ifMatch?: string): Promise<StoredEntry | undefined> {
    const withdrawn = await this.index.withdraw(id, ifMatch);
    if (withdrawn) await this.garbage.add([{ id, location: withdrawn.location }]);
    return withdrawn;
  }

  listAt(blob: string, query: { limit: number; afterId?: string | undefined }): Promise<StoredEntry[]> {
    return this.index.listAt(blob, query);
  }

  listCreatedBefore(
    cutoff: string,
    query: { limit: number; afterId?: string | undefined },
  ): Promise<StoredEntry[]> {
    return this.index.listCreatedBefore(cutoff, query);
  }

  list(query: ArchiveListQuery): Promise<StoredEntry[]> {
    return this.index.list(query);
  }

  summary(): Promise<{ count: number; bytes: number }> {
    return this.index.summary();
  }
}
