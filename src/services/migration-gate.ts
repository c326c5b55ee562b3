import { IntegrityError, LockHeldError, NotFoundError } from '../domain/errors.js';
import { INDEX_ROOT_PREFIX } from '../domain/index-root.js';
import {
  INDEX_MIGRATION_PREFIX,
  parseCheckpoint,
  sequenceOfCheckpointName,
} from '../domain/index-migration.js';
import type { MigrationCheckpoint } from '../domain/index-migration.js';
import type { ArchiveIndex } from '../ports/archive-index.js';
import type { ArchiveStore } from '../ports/archive-store.js';

/** The names of the migration checkpoints in the store, oldest first. */
export async function checkpointNames(store: ArchiveStore): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of store.list(INDEX_MIGRATION_PREFIX))
    if (sequenceOfCheckpointName(blob.name) !== undefined) names.push(blob.name);
  return names;
}

/**
 * The newest migration checkpoint, or undefined when no migration ever began. A pass replaces its
 * checkpoint after every page, so one listed may be gone when read: then the listing is asked again.
 */
async function newestCheckpoint(store: ArchiveStore): Promise<MigrationCheckpoint | undefined> {
  for (let attempt = 1; ; attempt++) {
    const newest = (await checkpointNames(store)).at(-1);
    if (newest === undefined) return undefined;
    try {
      return parseCheckpoint(await store.get(newest), newest);
    } catch (error) {
      if (!(error instanceof NotFoundError) || attempt >= 5) throw error;
    }
  }
}

/** What a migration checkpoint says, or that it cannot be read. */
type MigrationState = MigrationCheckpoint | { unreadable: string } | undefined;

/**
 * Keeps the archive's two possible indexes apart. While an index migration is open (from its first
 * sync pass until its finish) two indexes point at the archive and share one garbage queue, and
 * work that moves or deletes archived bytes (archival runs with their garbage collection,
 * compaction, `verify --repair`) consults only its own, so it could delete bytes the other still
 * points at: such work waits. Outside a migration, a process must use the index that holds the
 * archive's entries: the backend's own is refused once a finish has begun or a blob index exists
 * without a migration, and the blob index while the backend's own holds entries.
 */
export class MigrationGate {
  constructor(
    private readonly store: ArchiveStore,
    private readonly index: {
      onBlob: boolean;
      nativeKind: string;
      /** Opens the backend's own index when this process is on the blob one; the caller closes it. */
      openNative: () => Promise<ArchiveIndex>;
    },
  ) {}

  /** LockHeldError (which schedulers take as "skip this slot") while work must wait. */
  async refuseWhileOpen(what: string): Promise<void> {
    const latest = await this.state();
    if (!latest) return;
    if ('unreadable' in latest) throw new LockHeldError(`${what} waits: ${latest.unreadable}`);
    if (latest.pass === 'abandon') {
      if (this.index.onBlob)
        throw new LockHeldError(
          `${what} cannot run on the blob archive index: ${abandoned(latest, this.index.nativeKind)}`,
        );
      if (latest.stage === 'done') return;
      throw new LockHeldError(
        `${what} waits while an index migration is abandoned (the abandon pass began at ${latest.pass_started_at}): complete it with \`index migrate --abandon\``,
      );
    }
    if (latest.pass === 'finish' && !this.index.onBlob)
      throw new LockHeldError(`${what} cannot run on the old archive index: ${movedOn(latest)}`);
    if (latest.pass === 'finish' && latest.stage === 'done') return;
    if (latest.pass === 'finish')
      throw new LockHeldError(
        `${what} waits while the archive index migrates: a finish pass began at ${latest.pass_started_at}; complete it with \`index migrate --finish\``,
      );
    throw new LockHeldError(
      `${what} waits while the archive index migrates (a ${latest.pass} pass began at ${latest.pass_started_at}): finish it with \`index migrate\` until in step, the switch to ARCHIVE_INDEX=blob, then \`index migrate --finish\``,
    );
  }

  /**
   * Why this process's index is no longer kept up: the backend's own once a finish began (the blob
   * index is the archive's), the blob index once an abandon began (it is being removed). Undefined
   * while it is kept up, or when the checkpoint cannot be read (which holds runs back, not the API).
   */
  async retiredBecause(): Promise<string | undefined> {
    const latest = await this.state();
    return latest && !('unreadable' in latest) ? this.supersededBy(latest) : undefined;
  }

  /** Why this process's index is not the archive's once `latest` was written; undefined when it is. */
  private supersededBy(latest: MigrationCheckpoint): string | undefined {
    if (latest.pass === 'finish' && !this.index.onBlob) return movedOn(latest);
    if (latest.pass === 'abandon' && this.index.onBlob) return abandoned(latest, this.index.nativeKind);
    return undefined;
  }

  /** Why ARCHIVE_INDEX names an index that does not hold this archive's entries; undefined when it does. */
  async wrongIndexKind(): Promise<string | undefined> {
    const latest = await this.state();
    // A migration (or a checkpoint that cannot be read: runs wait on it) decides which is which.
    if (latest && !('unreadable' in latest)) return this.supersededBy(latest);
    if (latest) return undefined;
    if (!this.index.onBlob)
      return (await holdsAny(this.store, INDEX_ROOT_PREFIX))
        ? `ARCHIVE_INDEX=${this.index.nativeKind}, but this archive is indexed in the archive itself (ARCHIVE_INDEX=blob), and no migration put it there: set ARCHIVE_INDEX=blob`
        : undefined;
    const native = await this.index.openNative();
    try {
      return (await native.list({ limit: 1 })).length > 0
        ? `ARCHIVE_INDEX=blob, but this archive's entries are in the backend's own index (ARCHIVE_INDEX=${this.index.nativeKind}): keep that setting and move them with \`billing-archive index migrate\` (docs/OPERATIONS.md)`
        : undefined;
    } finally {
      await native.close();
    }
  }

  private async state(): Promise<MigrationState> {
    try {
      return await newestCheckpoint(this.store);
    } catch (error) {
      if (!(error instanceof IntegrityError)) throw error;
      return { unreadable: `${error.message}; the index migration's state is unknown until it is mended` };
    }
  }
}

function movedOn(finish: MigrationCheckpoint): string {
  return `the archive index moved into the archive (its finish pass began at ${finish.pass_started_at}), and the old one is no longer kept up: set ARCHIVE_INDEX=blob`;
}

function abandoned(abandon: MigrationCheckpoint, nativeKind: string): string {
  return `the index migration was abandoned (its abandon pass began at ${abandon.pass_started_at}), and the blob index is removed: set ARCHIVE_INDEX=${nativeKind}`;
}

async function holdsAny(store: ArchiveStore, prefix: string): Promise<boolean> {
  const names = store.list(prefix)[Symbol.asyncIterator]();
  const first = await names.next();
  await names.return?.();
  return first.done !== true;
}
