import { ConfigError } from '../config.js';
import { LockHeldError } from '../domain/errors.js';
import { INDEX_ROOT_PREFIX } from '../domain/index-root.js';
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

/** Blobs that hold archived records, in either layout. */
const ARCHIVED_RECORD_PREFIXES = ['segments/', 'records/', 'held/'];

/**
 * Keeps the archive's two possible indexes apart. While an index migration is open (from its first
 * sync pass until its finish) two indexes point at the archive and share one garbage queue, and
 * work that moves or deletes archived bytes (archival runs with their garbage collection,
 * compaction, `verify --repair`) consults only its own, so it could delete bytes the other still
 * points at: such work waits. Once a finish has begun, a process still on the old index must not
 * run at all; and a blob index never written over an archive that holds records is not this
 * archive's index.
 */
export class MigrationGate {
  constructor(
    private readonly store: ArchiveStore,
    private readonly index: { onBlob: boolean; nativeKind: string },
  ) {}

  /** LockHeldError (which schedulers take as "skip this slot") while work must wait. */
  async refuseWhileOpen(what: string): Promise<void> {
    const latest = await newestCheckpoint(this.store);
    if (!latest) return;
    if (latest.pass === 'finish' && !this.index.onBlob)
      throw new LockHeldError(`${what} cannot run on the old archive index: ${movedOn(latest)}`);
    if (latest.pass === 'finish' && latest.stage === 'done') return;
    throw new LockHeldError(
      `${what} waits while the archive index migrates (a ${latest.pass} pass began at ${latest.pass_started_at}): finish it with \`index migrate\` until in step, the switch to ARCHIVE_INDEX=blob, then \`index migrate --finish\``,
    );
  }

  /**
   * ConfigError when ARCHIVE_INDEX cannot be this archive's index: the backend's own after a
   * migration moved it into the archive, or a blob index that was never written while the archive
   * holds records (they are indexed elsewhere: served from it, they would read as absent).
   */
  async checkIndexKind(): Promise<void> {
    const latest = await newestCheckpoint(this.store);
    if (!this.index.onBlob) {
      if (latest?.pass === 'finish') throw new ConfigError(movedOn(latest));
      return;
    }
    if (latest || (await holdsAny(this.store, INDEX_ROOT_PREFIX))) return;
    for (const prefix of ARCHIVED_RECORD_PREFIXES)
      if (await holdsAny(this.store, prefix))
        throw new ConfigError(
          `ARCHIVE_INDEX=blob, but the archive holds archived records and no blob index: they are indexed in the backend's own (ARCHIVE_INDEX=${this.index.nativeKind}). Keep that setting and move the index with \`billing-archive index migrate\` (docs/OPERATIONS.md); if the blob index was lost instead, \`billing-archive verify --repair\` indexes the records again from the archive`,
        );
  }
}

function movedOn(finish: MigrationCheckpoint): string {
  return `the archive index moved into the archive (its finish pass began at ${finish.pass_started_at}), and the old one is no longer kept up: set ARCHIVE_INDEX=blob`;
}

async function holdsAny(store: ArchiveStore, prefix: string): Promise<boolean> {
  const names = store.list(prefix)[Symbol.asyncIterator]();
  const first = await names.next();
  await names.return?.();
  return first.done !== true;
}
