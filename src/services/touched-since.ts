import { withdrawUnlessChanged, type ArchiveIndex, type StoredEntry } from '../ports/archive-index.js';
import type { DeletionNotes } from '../ports/deletion-notes.js';
import type { LiveStore } from '../ports/live-store.js';

/**
 * Withdraws an entry just written to move a record's archived copy when a restore, update or delete
 * withdrew the old entry meanwhile: such a record is live again, or noted deleted since `since`.
 * Without this the move would bring the old entry back.
 */
export async function withdrawIfTouchedSince(
  stores: { index: ArchiveIndex; deletions: DeletionNotes; live: LiveStore },
  entry: StoredEntry,
  since: string,
): Promise<void> {
  const deletedAt = await stores.deletions.deletedAt(entry.id);
  const touched =
    (deletedAt !== undefined && deletedAt >= since) || (await stores.live.get(entry.id)) !== undefined;
  if (touched) await withdrawUnlessChanged(stores.index, entry);
}
