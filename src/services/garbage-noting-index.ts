import type { Logger } from 'pino';
import type { StoredBytes } from '../domain/cost-model.js';
import {
  sameLocation,
  type ArchiveEntry,
  type ArchiveIndex,
  type ArchiveListQuery,
  type IndexReadOptions,
  type IndexUpkeep,
  type MonthSummary,
  type StoredEntry,
} from '../ports/archive-index.js';
import type { Garbage, GarbageQueue } from '../ports/garbage-queue.js';

const AS_IT_STANDS: IndexReadOptions = { evenIfRebuilding: true };

/**
 * The index as services use it: a change that leaves a location no entry points to notes it in the
 * garbage queue, so the collector can delete or compact its bytes. The note follows the change: a
 * crash in between leaves an unnoted blob (which `verify` reports, and removes on a repair where it
 * can tell it from a lost record),
 * never a note the collector could judge while the entry still points there and then forget. For
 * the same reason a note that cannot be written is logged, not thrown: the change it follows
 * happened, and the caller must not be told otherwise.
 */
export class GarbageNotingIndex implements ArchiveIndex {
  constructor(
    private readonly index: ArchiveIndex,
    private readonly garbage: GarbageQueue,
    private readonly logger: Pick<Logger, 'warn'>,
  ) {}

  get upkeep(): IndexUpkeep | undefined {
    return this.index.upkeep;
  }

  init(): Promise<void> {
    return this.index.init();
  }

  close(): Promise<void> {
    return this.index.close();
  }

  ping(): Promise<void> {
    return this.index.ping();
  }

  get(id: string, options?: IndexReadOptions): Promise<StoredEntry | undefined> {
    return this.index.get(id, options);
  }

  getMany(ids: readonly string[], options?: IndexReadOptions): Promise<(StoredEntry | undefined)[]> {
    return this.index.getMany(ids, options);
  }

  /**
   * Upserts; an entry that pointed elsewhere before leaves its old location as garbage. When the
   * upsert fails part way, the entries that did move still leave theirs.
   */
  async putMany(entries: readonly ArchiveEntry[]): Promise<StoredEntry[]> {
    // Only which old locations an entry leaves: an index being rebuilt may lack them (see IndexReadOptions).
    const previous = await this.index.getMany(
      entries.map((entry) => entry.id),
      AS_IT_STANDS,
    );
    const moving = entries.flatMap((entry, i) => {
      const before = previous[i];
      return before && !sameLocation(before.location, entry.location) ? [{ entry, before }] : [];
    });
    let stored: StoredEntry[];
    try {
      stored = await this.index.putMany(entries);
    } catch (error) {
      const ids = moving.map(({ entry }) => entry.id);
      const now = await this.index.getMany(ids, AS_IT_STANDS).catch((lookUpError: unknown) => {
        this.logger.warn(
          { err: lookUpError, ids },
          'could not tell which entries a failed index write moved: their old blobs stay, and `verify` reports those it cannot tell from lost records',
        );
        return [];
      });
      await this.note(
        moving.flatMap(({ entry, before }, i) => {
          const current = now[i];
          return current && sameLocation(current.location, entry.location) ? [before] : [];
        }),
      );
      throw error;
    }
    await this.note(moving.map(({ before }) => before));
    return stored;
  }

  /** Moves the entry while it is still `from`; `from`'s location then becomes garbage. */
  async repoint(from: StoredEntry, to: ArchiveEntry): Promise<StoredEntry | undefined> {
    const moved = await this.index.repoint(from, to);
    if (moved && !sameLocation(from.location, moved.location)) await this.note([from]);
    return moved;
  }

  /** Withdraws; the entry's location becomes garbage. */
  async withdraw(id: string, ifMatch?: string): Promise<StoredEntry | undefined> {
    const withdrawn = await this.index.withdraw(id, ifMatch);
    if (withdrawn) await this.note([withdrawn]);
    return withdrawn;
  }

  list(query: ArchiveListQuery): Promise<StoredEntry[]> {
    return this.index.list(query);
  }

  summary(): Promise<{ count: number; bytes: number }> {
    return this.index.summary();
  }

  summaryByMonth(): Promise<MonthSummary[]> {
    return this.index.summaryByMonth();
  }
  storage(): Promise<StoredBytes> {
    return this.index.storage();
  }

  /** Notes where the entries were; a failure leaves orphans for `verify`, and says so. */
  private async note(left: readonly StoredEntry[]): Promise<void> {
    if (left.length === 0) return;
    const items: Omit<Garbage, 'seq'>[] = left.map(({ id, location }) => ({ id, location }));
    try {
      await this.garbage.add(items);
    } catch (error) {
      this.logger.warn(
        { err: error, blobs: items.map((item) => item.location.blob) },
        'could not note garbage: these blobs stay, and `verify` reports those it cannot tell from lost records',
      );
    }
  }
}
