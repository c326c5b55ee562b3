import { setTimeout as wait } from 'node:timers/promises';
import { canonicalBytes, sha256Hex, type RecordDocument } from '../domain/billing-record.js';
import { ConflictError, NotFoundError, PreconditionFailedError } from '../domain/errors.js';
import type { ArchiveIndex, StoredEntry } from '../ports/archive-index.js';
import type { DeletionNotes } from '../ports/deletion-notes.js';
import type { LiveStore, StoredRecord } from '../ports/live-store.js';
import type { ArchiveReader } from './archive-reader.js';
import type { Clock } from './clock.js';
import type { DeletedDuringRun } from './deleted-during-run.js';
import { DELETE_IN_FLIGHT_MS } from './deletion-claims.js';
import { actWhereFound, LOOK_AGAIN } from './record-races.js';

/** Withdrawals of an entry that keeps moving (the same version, elsewhere) before giving up. */
const WITHDRAW_ROUNDS = 4;

/** How long a restore that lost its entry to a delete waits for the delete's confirmation. */
const CONFIRM_LOOKS = 10;
const CONFIRM_LOOK_MS = 200;

export type BringBackOutcome =
  | { kind: 'live'; record: StoredRecord }
  /** Another request made the record live first. */
  | { kind: 'already-live' }
  /** A concurrent delete withdrew the archived copy; the record no longer exists. */
  | { kind: 'deleted' }
  /** Another version was archived since the entry was read: nothing changed; look again. */
  | { kind: 'changed' };

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
          case 'changed':
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
    const liveSha256 = sha256Hex(canonicalBytes(record.doc));
    let current: StoredEntry | undefined = entry;
    for (let round = 0; round < WITHDRAW_ROUNDS && current; round++) {
      try {
        if (await this.index.withdraw(current.id, current.etag)) return { kind: 'live', record };
        current = undefined;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError)) throw error;
        current = await this.index.get(entry.id, { evenIfRebuilding: true });
        // The archiver archived the new live copy already (it was eligible at once): that entry
        // stays beside it.
        if (current?.sha256 === liveSha256) return { kind: 'live', record };
        // Another version archived since must not be shadowed by this older one; the same
        // version moved (compaction, a held copy, a migration) is withdrawn where it is now.
        if (current && current.sha256 !== entry.sha256)
          return (await this.undo(record)) ?? { kind: 'changed' };
      }
    }
    if (current) return (await this.undo(record)) ?? { kind: 'changed' };
    // The entry went since it was read. A delete notes itself before it withdraws and confirms
    // right after; without a note it went with an index emptied for a rebuild, and with a note
    // never confirmed the delete failed and the entry went another way (another restore): the
    // copy made live stands.
    if (!(await this.deletedSince(entry)) || !(await this.confirmedSoon(entry)))
      return { kind: 'live', record };
    return (await this.undo(record)) ?? { kind: 'deleted' };
  }

  /** Whether a delete since the entry was archived is confirmed, or is within a moment. */
  private async confirmedSoon(entry: StoredEntry): Promise<boolean> {
    const since = new Date(Date.parse(entry.archived_at) - DELETE_IN_FLIGHT_MS).toISOString();
    for (let look = 0; look < CONFIRM_LOOKS; look++) {
      const confirmedAt = await this.deletions.confirmedAt(entry.id);
      if (confirmedAt !== undefined && confirmedAt >= since) return true;
      await wait(CONFIRM_LOOK_MS);
    }
    return false;
  }

  /**
   * Whether a delete of the record was noted since the entry was archived, or just before (a
   * delete noted then may still be landing, and different processes' clocks differ).
   */
  private async deletedSince(entry: StoredEntry): Promise<boolean> {
    const deletedAt = await this.deletions.deletedAt(entry.id);
    const since = new Date(Date.parse(entry.archived_at) - DELETE_IN_FLIGHT_MS).toISOString();
    return deletedAt !== undefined && deletedAt >= since;
  }

  /**
   * Deletes the live copy just made, unless it changed since (a client edited it): then that
   * version stands and is returned.
   */
  private async undo(record: StoredRecord): Promise<BringBackOutcome | undefined> {
    try {
      await this.live.delete(record.doc.id, record.etag);
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
      return { kind: 'live', record: (await this.live.get(record.doc.id)) ?? record };
    }
    return undefined;
  }
}
