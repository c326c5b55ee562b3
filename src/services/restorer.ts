import type { RecordDocument } from '../domain/billing-record.js';
import { ConflictError, NotFoundError, PreconditionFailedError } from '../domain/errors.js';
import type { ArchiveIndex, StoredEntry } from '../ports/archive-index.js';
import type { DeletionNotes } from '../ports/deletion-notes.js';
import type { LiveStore, StoredRecord } from '../ports/live-store.js';
import type { ArchiveReader } from './archive-reader.js';
import type { Clock } from './clock.js';
import type { DeletedDuringRun } from './deleted-during-run.js';
import { actWhereFound, LOOK_AGAIN } from './record-races.js';

export type BringBackOutcome =
  | { kind: 'live'; record: StoredRecord }
  /** Another request made the record live first. */
  | { kind: 'already-live' }
  /** A concurrent delete withdrew the archived copy; the record no longer exists. */
  | { kind: 'deleted' };

/** Moves archived records back to the LiveStore. */
export class Restorer {
  constructor(
    private readonly live: LiveStore,
    private readonly index: ArchiveIndex,
    private readonly reader: ArchiveReader,
    private readonly clock: Clock,
    private readonly deletedDuringRun: DeletedDuringRun,
    private readonly deletions: DeletionNotes,
  ) {}

  /** Restores an archived record as it was archived, stamped with `restored_at`. */
  async restore(id: string): Promise<StoredRecord> {
    return actWhereFound(
      { live: this.live, index: this.index, deletedDuringRun: this.deletedDuringRun },
      id,
      async (found): Promise<StoredRecord | typeof LOOK_AGAIN> => {
        if (found.where === 'live') throw new ConflictError(`record '${id}' is already live`, 'already_live');
        const archived = await this.reader.read(found.entry);
        const outcome = await this.bringBack(found.entry, {
          ...archived,
          restored_at: this.clock().toISOString(),
        });
        switch (outcome.kind) {
          case 'live':
            return outcome.record;
          case 'already-live':
            return LOOK_AGAIN;
          case 'deleted':
            throw new NotFoundError(`record '${id}' was deleted while it was being restored`);
        }
      },
      {
        notFound: `record '${id}' is not archived`,
        raced: `record '${id}' kept changing while it was being restored; try again`,
      },
    );
  }

  /**
   * Makes `doc` live in place of the archived `entry`. The live copy is written first, so a crash
   * between the two steps leaves the record readable (reads prefer the LiveStore).
   */
  async bringBack(entry: StoredEntry, doc: RecordDocument): Promise<BringBackOutcome> {
    let record: StoredRecord;
    try {
      record = await this.live.create(doc);
    } catch (error) {
      if (error instanceof ConflictError) return { kind: 'already-live' };
      throw error;
    }
    try {
      const withdrawn = await this.index.withdraw(entry.id, entry.etag);
      if (withdrawn) return { kind: 'live', record };
    } catch (error) {
      // The archiver has archived the new live copy already (it was eligible at once): that entry stays.
      if (error instanceof PreconditionFailedError) return { kind: 'live', record };
      throw error;
    }
    if (await this.wentWithEmptiedIndex(entry)) return { kind: 'live', record };
    // The entry vanished between our read and our withdrawal: a concurrent delete won. Undo our copy.
    try {
      await this.live.delete(entry.id, record.etag);
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
      return { kind: 'live', record: (await this.live.get(entry.id)) ?? record };
    }
    return { kind: 'deleted' };
  }

  /**
   * Whether the entry went with an index emptied for a rebuild since it was read, not with a
   * delete (which notes itself before it withdraws): the rebuild indexes no live record again, so
   * the copy made live stands.
   */
  private async wentWithEmptiedIndex(entry: StoredEntry): Promise<boolean> {
    if (!(await this.index.upkeep?.emptiedSince(entry.etag))) return false;
    const deletedAt = await this.deletions.deletedAt(entry.id);
    return deletedAt === undefined || deletedAt < entry.archived_at;
  }
}
