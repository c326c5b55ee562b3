import type { RecordDocument } from '../domain/billing-record.js';
import { ConflictError, NotFoundError, PreconditionFailedError } from '../domain/errors.js';
import type { ArchiveIndex, StoredEntry } from '../ports/archive-index.js';
import type { LiveStore, StoredRecord } from '../ports/live-store.js';
import type { ArchiveReader } from './archive-reader.js';
import type { Clock } from './clock.js';

export type BringBackOutcome =
  | { kind: 'live'; record: StoredRecord }
  /** Another request made the record live first. */
  | { kind: 'already-live' }
  /** A concurrent delete withdrew the archived copy; the record no longer exists. */
  | { kind: 'deleted' };

/** How often a request retries after losing a race with another request or the archiver. */
export const RACE_ATTEMPTS = 4;

/** Moves archived records back to the LiveStore. */
export class Restorer {
  constructor(
    private readonly live: LiveStore,
    private readonly index: ArchiveIndex,
    private readonly reader: ArchiveReader,
    private readonly clock: Clock,
  ) {}

  /** Restores an archived record as it was archived, stamped with `restored_at`. */
  async restore(id: string): Promise<StoredRecord> {
    for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt++) {
      if (await this.live.get(id)) throw new ConflictError(`record '${id}' is already live`, 'already_live');
      const entry = await this.index.get(id);
      if (!entry) {
        if (await this.live.get(id)) continue;
        throw new NotFoundError(`record '${id}' is not archived`);
      }
      const archived = await this.reader.read(entry);
      const outcome = await this.bringBack(entry, { ...archived, restored_at: this.clock().toISOString() });
      switch (outcome.kind) {
        case 'live':
          return outcome.record;
        case 'already-live':
          continue;
        case 'deleted':
          throw new NotFoundError(`record '${id}' was deleted while it was being restored`);
      }
    }
    throw new ConflictError(
      `record '${id}' kept changing while it was being restored; try again`,
      'concurrent_modification',
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
    // The entry vanished between our read and our withdrawal: a concurrent delete won. Undo our copy.
    try {
      await this.live.delete(entry.id, record.etag);
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
      return { kind: 'live', record: (await this.live.get(entry.id)) ?? record };
    }
    return { kind: 'deleted' };
  }
}
