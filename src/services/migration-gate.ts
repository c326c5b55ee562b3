import { LockHeldError } from '../domain/errors.js';
import {
  INDEX_MIGRATION_PREFIX,
  parseCheckpoint,
  sequenceOfCheckpointName,
} from '../domain/index-migration.js';
import type { MigrationCheckpoint } from '../domain/index-migration.js';
import type { ArchiveStore } from '../ports/archive-store.js';

/** The names of the migration checkpoints in the store, oldest first. */
export async function checkpointNames(store: ArchiveStore): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of store.list(INDEX_MIGRATION_PREFIX))
    if (sequenceOfCheckpointName(blob.name) !== undefined) names.push(blob.name);
  return names;
}

/** The newest migration checkpoint, or undefined when no migration ever began. */
export async function newestCheckpoint(store: ArchiveStore): Promise<MigrationCheckpoint | undefined> {
  const newest = (await checkpointNames(store)).at(-1);
  return newest === undefined ? undefined : parseCheckpoint(await store.get(newest), newest);
}

/**
 * Keeps work that moves or deletes archived bytes (archival runs with their garbage collection,
 * compaction, `verify --repair`) from running while an index migration is open: from its first
 * sync pass until its finish, two indexes point at the archive and share one garbage queue, and
 * such work consults only its own, so it could delete bytes the other still points at.
 */
export class MigrationGate {
  constructor(private readonly store: ArchiveStore) {}

  /** LockHeldError (which schedulers take as "skip this slot") while a migration is open. */
  async refuseWhileOpen(what: string): Promise<void> {
    const open = await newestCheckpoint(this.store);
    if (!open || (open.pass === 'finish' && open.stage === 'done')) return;
    throw new LockHeldError(
      `${what} waits while the archive index migrates (a ${open.pass} pass began at ${open.pass_started_at}): finish it with \`index migrate\` until in step, the switch to ARCHIVE_INDEX=blob, then \`index migrate --finish\``,
    );
  }
}
