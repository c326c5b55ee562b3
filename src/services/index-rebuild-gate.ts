import { LockHeldError } from '../domain/errors.js';
import type { ArchiveIndex } from '../ports/archive-index.js';

/**
 * Refuses work that judges records by the index while a rebuild of it is under way (one a crash
 * interrupted: the rebuild itself holds the archival locks). The index then lacks entries of
 * archived records, which compaction would take for dead and a retention sweep would miss.
 */
export async function refuseWhileIndexRebuilt(index: ArchiveIndex, what: string): Promise<void> {
  const rebuild = await index.upkeep?.rebuildUnderWay();
  if (rebuild)
    throw new LockHeldError(
      `${what} waits while the archive index is rebuilt (begun at ${rebuild.started_at} by ${rebuild.by}): finish the rebuild with \`verify --repair\``,
    );
}
