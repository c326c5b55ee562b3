import { withdrawUnlessChanged, type ArchiveIndex, type StoredEntry } from '../ports/archive-index.js';
import type { LiveStore } from '../ports/live-store.js';

/**
 * After a move re-pointed an entry (compaction, held copies): a restore or update that made the
 * record live just before the move fails to withdraw the moved entry (it changed under it), so the
 * move withdraws it here rather than leave a stale archived copy beside the live record.
 */
export async function withdrawIfLive(
  stores: { index: ArchiveIndex; live: LiveStore },
  entry: StoredEntry,
): Promise<void> {
  if (await stores.live.get(entry.id)) await withdrawUnlessChanged(stores.index, entry);
}
