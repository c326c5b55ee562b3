import type { Logger } from 'pino';
import { PreconditionFailedError } from '../domain/errors.js';
import { inSlice, type Slice } from '../domain/slices.js';
import { withoutEtag, type ArchiveIndex, type StoredEntry } from '../ports/archive-index.js';
import type { GarbageQueue } from '../ports/garbage-queue.js';
import type { DeletionNotes } from '../ports/deletion-notes.js';
import type { LegalHolds } from '../ports/legal-holds.js';
import { liveRecordsAmong, type LiveStore } from '../ports/live-store.js';
import { DAY_MS, type Clock } from './clock.js';

const PAGE = 500;

/** What the sweep did with a record past retention (dry run: would do). */
export type RetentionOutcome = 'expired' | 'kept_on_hold';

export interface RetentionSweepDeps {
  index: ArchiveIndex;
  /** Asked which records past retention are live too: their archived copy is not expired. */
  live: LiveStore;
  deletions: DeletionNotes;
  /** Where the sweep notes a record's place before it withdraws the entry (see `remove`). */
  garbage: GarbageQueue;
  holds: LegalHolds;
  clock: Clock;
  logger: Logger;
  /** Archived records created more than this many days ago are removed. */
  retentionDays: number;
}

/**
 * Removes archived records past RETENTION_DAYS (counted from each record's created_at) from the
 * index, noting each as deleted; the run's garbage collection then deletes the blobs no entry
 * points to. A record under legal hold is kept, and asked about right before its removal.
 */
export class RetentionSweep {
  constructor(private readonly deps: RetentionSweepDeps) {}

  /**
   * Sweeps the records of `slice`, saying what became of each record it judged as it goes, so the
   * caller's counts hold even when a later step fails; a dry run only judges.
   */
  async *sweep(
    run: { runId: string; dryRun: boolean },
    checkLease: () => void,
    slice: Slice | undefined,
  ): AsyncGenerator<RetentionOutcome> {
    let expired = 0;
    let keptOnHold = 0;
    const cutoff = new Date(this.deps.clock().getTime() - this.deps.retentionDays * DAY_MS).toISOString();
    let afterId: string | undefined;
    for (;;) {
      checkLease();
      const page = await this.deps.index.list({ createdBefore: cutoff, limit: PAGE, afterId });
      const live = await this.liveAmong(page.filter((entry) => inSlice(entry.id, slice)));
      for (const entry of page) {
        if (!inSlice(entry.id, slice)) continue;
        // A copy beside its live record (a keep-live run's, a killed run's): retention is the
        // archive's, and the record is not archived yet; expiring the copy would note it deleted.
        if (live.has(entry.id)) continue;
        if (await this.deps.holds.get(entry.id)) {
          keptOnHold += 1;
          yield 'kept_on_hold';
          continue;
        }
        if (!run.dryRun) {
          checkLease();
          const outcome = await this.remove(entry);
          if (outcome === 'changed') continue;
          if (outcome === 'kept_on_hold') {
            keptOnHold += 1;
            yield 'kept_on_hold';
            continue;
          }
        }
        expired += 1;
        yield 'expired';
      }
      if (page.length < PAGE) break;
      afterId = page.at(-1)?.id;
    }
    if (expired > 0 || keptOnHold > 0)
      this.deps.logger.info({ runId: run.runId, cutoff, expired, keptOnHold }, 'retention sweep finished');
  }

  /** The ids of these entries whose record is live. */
  private async liveAmong(entries: readonly StoredEntry[]): Promise<Set<string>> {
    const found = await liveRecordsAmong(
      this.deps.live,
      entries.map((entry) => entry.id),
    );
    return new Set(found.map((record) => record.doc.id));
  }

  /**
   * Noted as deleted first, so no repair rebuilds the entry from a segment that still holds the
   * record; an entry that changed since it was listed (restored, archived again) is left alone.
   * The hold is asked again after the withdrawal: a hold placed since the first look puts the
   * entry back (its blob is collected only when no entry points to it). A hold placed after that
   * second look finds the record gone and is refused (`setLegalHold` looks after placing), so
   * no hold is ever silently dropped.
   */
  private async remove(entry: StoredEntry): Promise<'expired' | 'kept_on_hold' | 'changed'> {
    await this.deps.deletions.note(entry.id, this.deps.clock().toISOString());
    // The place is noted as garbage before the withdrawal too (the index notes it again after): the
    // sweep holds the archival lock, so no collection judges the note before the entry goes, and a
    // crash in between leaves a note (dropped while the entry stands) instead of a blob nobody noted,
    // which verify cannot tell from the only copy of a record whose entry was lost.
    await this.deps.garbage.add([{ id: entry.id, location: entry.location }]);
    try {
      if ((await this.deps.index.withdraw(entry.id, entry.etag)) === undefined) return 'changed';
    } catch (error) {
      if (error instanceof PreconditionFailedError) return 'changed';
      throw error;
    }
    if (!(await this.deps.holds.get(entry.id))) {
      // Confirmed, a rebuild of the index knows the record went (a note alone may be an expiry a
      // hold undid). Unconfirmed, a rebuild indexes it again and the next sweep expires it again.
      await this.deps.deletions.confirm(entry.id, this.deps.clock().toISOString()).catch((error: unknown) => {
        this.deps.logger.warn({ err: error, id: entry.id }, 'could not confirm an expiry');
      });
      return 'expired';
    }
    await this.deps.index.putMany([withoutEtag(entry)]);
    return 'kept_on_hold';
  }
}
