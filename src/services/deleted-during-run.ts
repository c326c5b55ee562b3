import { LRUCache } from 'lru-cache';
import pMap from 'p-map';
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

/** The same for many entries at once: the ids of those deleted during their running run. */
export type DeletedDuringRuns = (entries: readonly StoredEntry[]) => Promise<Set<string>>;

/** Runs remembered as ended: a run that ended never runs again, so its entries need no look. */
const ENDED_RUNS_KEPT = 10_000;
const LOOKS_AT_ONCE = 16;

/** Both checks over one memory of ended runs. */
export function deletedDuringRunChecks(
  deletions: DeletionNotes,
  runs: RunLog,
): { one: DeletedDuringRun; among: DeletedDuringRuns } {
  const ended = new LRUCache<string, true>({ max: ENDED_RUNS_KEPT });
  const running = async (runId: string): Promise<boolean> => {
    if (ended.has(runId)) return false;
    const status = (await runs.get(runId))?.status;
    // A run the history lacks (a repair's entries name one) never runs: remembered as ended too.
    if (status !== 'running') ended.set(runId, true);
    return status === 'running';
  };
  const deletedAfter = async (entry: StoredEntry): Promise<boolean> => {
    const confirmed = await deletions.confirmedAt(entry.id);
    return confirmed !== undefined && confirmed > entry.archived_at;
  };
  // One look at a time per run, however many reads ask, to learn whether it ended.
  const learning = new Map<string, Promise<unknown>>();
  const learn = (runId: string): void => {
    if (learning.has(runId) || ended.has(runId)) return;
    const look = running(runId)
      .catch(() => undefined)
      .finally(() => learning.delete(runId));
    learning.set(runId, look);
  };
  return {
    // The delete first, then the run: the run must still be running once the delete was seen. With
    // no delete, the run is looked at beside the answer, so later reads of its entries ask nothing.
    one: async (entry) => {
      if (ended.has(entry.run_id)) return false;
      if (!(await deletedAfter(entry))) {
        learn(entry.run_id);
        return false;
      }
      return running(entry.run_id);
    },
    // The runs first (a few per page of entries), then the deletes of running runs' entries only.
    among: async (entries) => {
      const runIds = [...new Set(entries.map((entry) => entry.run_id))];
      const stillRunning = new Set(
        (
          await pMap(runIds, async (runId) => ((await running(runId)) ? [runId] : []), {
            concurrency: LOOKS_AT_ONCE,
          })
        ).flat(),
      );
      const suspects = entries.filter((entry) => stillRunning.has(entry.run_id));
      const deleted = await pMap(suspects, async (entry) => ((await deletedAfter(entry)) ? [entry.id] : []), {
        concurrency: LOOKS_AT_ONCE,
      });
      return new Set(deleted.flat());
    },
  };
}

export function deletedDuringRun(deletions: DeletionNotes, runs: RunLog): DeletedDuringRun {
  return deletedDuringRunChecks(deletions, runs).one;
}
