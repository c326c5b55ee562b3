import { ConflictError, IndexRebuildingError, NotFoundError } from '../domain/errors.js';
import type { ArchiveIndex, StoredEntry } from '../ports/archive-index.js';
import type { LiveStore, StoredRecord } from '../ports/live-store.js';
import type { DeletedDuringRun } from './deleted-during-run.js';

/** How often a request looks again after losing a race with another request or the archiver. */
const RACE_ATTEMPTS = 4;

/** Where a record may be, and which archived copies a running run is about to withdraw. */
export interface RecordStores {
  live: LiveStore;
  index: ArchiveIndex;
  deletedDuringRun: DeletedDuringRun;
}

/** Where a record is at the moment it was looked up. */
export type Found = { where: 'live'; record: StoredRecord } | { where: 'archive'; entry: StoredEntry };

/** What an action returns when it lost a race: the record moved under it, look again. */
export const LOOK_AGAIN: unique symbol = Symbol('look again');

/**
 * Looks the record up (live first, then the index, then live again: a restore may have moved it
 * between the two reads) and acts on where it was found. An action that lost a race returns
 * LOOK_AGAIN and the record is looked up afresh, up to RACE_ATTEMPTS times; then the caller is
 * told to try again (409 `concurrent_modification`).
 */
export async function actWhereFound<T>(
  stores: RecordStores,
  id: string,
  act: (found: Found) => Promise<T | typeof LOOK_AGAIN>,
  say: { notFound: string; raced: string },
): Promise<T> {
  for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt++) {
    const outcome = await act(await find(stores, id, say.notFound));
    if (outcome !== LOOK_AGAIN) return outcome;
  }
  throw new ConflictError(say.raced, 'concurrent_modification');
}

async function find(stores: RecordStores, id: string, notFound: string): Promise<Found> {
  const found = await lookUp(stores, id);
  if (!found) throw new NotFoundError(notFound);
  return found;
}

/**
 * Where the record is: live, then indexed (unless a running run's copy of a record deleted
 * meanwhile), then live again, as a restore may have moved it between the first two reads.
 */
export async function lookUp(stores: RecordStores, id: string): Promise<Found | undefined> {
  const live = await stores.live.get(id);
  if (live) return { where: 'live', record: live };
  let entry: StoredEntry | undefined;
  try {
    entry = await stores.index.get(id);
  } catch (error) {
    // An index being rebuilt cannot say the record is not archived, unless it is live now.
    if (!(error instanceof IndexRebuildingError)) throw error;
    const moved = await stores.live.get(id);
    if (moved) return { where: 'live', record: moved };
    throw error;
  }
  if (entry && !(await stores.deletedDuringRun(entry))) return { where: 'archive', entry };
  const moved = await stores.live.get(id);
  return moved && { where: 'live', record: moved };
}
