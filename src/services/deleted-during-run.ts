import type { StoredEntry } from '../ports/archive-index.js';
import type { DeletionNotes } from '../ports/deletion-notes.js';
import type { RunLog } from '../ports/run-log.js';

/**
 * Whether an entry is a running run's copy of a record that a client deleted after the run read
 * it. Such a delete finds no entry to withdraw; the run withdraws it once its conditional delete
 * of the live copy misses (`Archiver.indexAndDelete`), and until then reads take the record as
 * deleted. A confirmed delete (not a note, which a failed delete leaves too) after the run began
 * (`archived_at` is the run's start) is the sign; the run must still be running, so a record
 * deleted and made again is never hidden once its run has decided.
 */
export type DeletedDuringRun = (entry: StoredEntry) => Promise<boolean>;

export function deletedDuringRun(deletions: DeletionNotes, runs: RunLog): DeletedDuringRun {
  return async (entry) => {
    const confirmed = await deletions.confirmedAt(entry.id);
    if (confirmed === undefined || confirmed <= entry.archived_at) return false;
    return (await runs.get(entry.run_id))?.status === 'running';
  };
}
