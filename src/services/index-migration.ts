import { randomUUID } from 'node:crypto';
import pMap from 'p-map';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { LockHeldError, ValidationError } from '../domain/errors.js';
import {
  checkpointName,
  emptyTally,
  encodeCheckpoint,
  INDEX_MIGRATION_FORMAT,
  parseCheckpoint,
  type MigrationCheckpoint,
  type MigrationPass,
  type MigrationTally,
} from '../domain/index-migration.js';
import { sha256Hex } from '../domain/billing-record.js';
import { INDEX_FILES_PREFIX, INDEX_ROOT_PREFIX } from '../domain/index-root.js';
import {
  sameEntry,
  withdrawUnlessChanged,
  withoutEtag,
  type ArchiveIndex,
  type StoredEntry,
} from '../ports/archive-index.js';
import type { ArchiveStore } from '../ports/archive-store.js';
import type { DeletionNotes } from '../ports/deletion-notes.js';
import type { LiveStore } from '../ports/live-store.js';
import type { Lock, LockLease } from '../ports/lock.js';
import { acquireArchivalLocks, throwIfLost } from './archival-locks.js';
import { systemSleep, type Clock, type Sleep } from './clock.js';
import { checkpointNames } from './migration-gate.js';
import { RETIREMENT_RECHECK_MS } from './retired-index-guard.js';

const DEFAULT_PAGE_SIZE = 1000;

/** Both indexes come opened. */
export interface IndexMigrationDeps {
  /** The backend's own index (Cosmos DB or SQLite): what is migrated from. */
  source: ArchiveIndex;
  /** `cosmos` or `sqlite`, for the checkpoint and the report. */
  sourceKind: string;
  /** The blob-native index: what is migrated to. */
  target: ArchiveIndex;
  /** Where checkpoints are kept: the archive store the blob index lives in. */
  store: ArchiveStore;
  live: LiveStore;
  deletions: DeletionNotes;
  lock: Lock;
  slices: number;
  clock: Clock;
  /** Waits out the time processes left on the wrong index take to notice (RetiredIndexGuard). */
  sleep?: Sleep | undefined;
  logger: Logger;
}

export interface MigrationOptions {
  pass: MigrationPass;
  /** Start the pass again from the first id instead of resuming an unfinished one. */
  restart?: boolean;
  pageSize?: number;
}

export interface MigrationReport {
  pass: MigrationPass;
  source: string;
  /** Whether this call took up a pass an earlier one left unfinished. */
  resumed: boolean;
  pass_started_at: string;
  finished_at: string;
  /**
   * Over the whole pass: entries examined; copied into or corrected in the blob index; withdrawn
   * from it; and left as they were although the two indexes differ (see `kept` in docs/OPERATIONS.md).
   */
  tally: MigrationTally;
  /** When the newest finished sync pass began; a finish pass needs one. */
  synced_from: string | null;
  counts: { source: { count: number; bytes: number }; target: { count: number; bytes: number } };
  /** Both indexes hold as many entries of as many bytes. */
  counts_match: boolean;
}

/**
 * Moves the archive index from the backend's own store (Cosmos DB or SQLite) into the blob-native
 * index, while the service keeps running, in passes that resume where a killed one stopped:
 *
 * - `sync`, before the switch (every process still on the source): makes the blob index a copy of
 *   the source: copies what is missing or differs, withdraws what the source no longer has. Run it
 *   again until nothing changes; what API requests withdraw during a pass the next one catches.
 * - `finish`, after every process reads the blob index: withdraws what processes still on the
 *   source withdrew since (restores, updates and deletes), and nothing else.
 *
 * From the first sync until the finish, the migration gate keeps archival runs, compaction and
 * repairs from running (each pass also holds the archival lock), so entries change only by API
 * withdrawals, on either side.
 */
export class IndexMigration {
  constructor(private readonly deps: IndexMigrationDeps) {}

  async migrate(options: MigrationOptions): Promise<MigrationReport> {
    const { deps } = this;
    const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    const lease = await acquireArchivalLocks(deps.lock, deps.slices, undefined, {
      runId: `index-migrate-${randomUUID().slice(0, 8)}`,
      description: `index migrate (${options.pass}), pid ${process.pid} on ${hostname()}`,
    });
    try {
      const latest = await this.latestCheckpoint();
      const { pass } = options;
      if (pass === 'abandon') refuseAbandon(latest, options.restart === true);
      if (latest?.pass === 'finish' && latest.stage === 'done')
        throw new ValidationError(
          `the migration finished at ${latest.pass_started_at}: the blob index is the archive index, and another pass would undo what it has done since`,
        );
      if (pass === 'sync' && latest?.pass === 'abandon' && latest.stage !== 'done')
        throw new ValidationError(
          `an abandon pass began at ${latest.pass_started_at}: run \`index migrate --abandon\` to complete it before a new migration begins`,
        );
      if (pass === 'sync' && latest?.pass === 'finish')
        throw new ValidationError(
          'a finish pass has begun, so processes read the blob index: a sync pass would undo what they changed; run `index migrate --finish` to complete it',
        );
      if (pass === 'sync' && !options.restart && latest?.blob_root !== undefined) {
        const now = await this.newestRoot();
        if (now !== latest.blob_root)
          throw new ValidationError(
            `the blob index changed since the migration last wrote it (its newest root is ${now ?? 'none'}, the migration left ${latest.blob_root ?? 'none'}): a process reads ARCHIVE_INDEX=blob already, and a sync pass would undo what it changed. Switch the others and run \`index migrate --finish\`; only if no process reads the blob index (a pass killed part way through a page) sync with --restart`,
          );
      }
      if (pass === 'finish' && (!latest?.synced_from || latest.pass === 'abandon'))
        throw new ValidationError(
          'no sync pass has finished: run `billing-archive index migrate` until it says the indexes are in step, then switch to ARCHIVE_INDEX=blob and finish',
        );
      const resumed =
        !options.restart && latest?.pass === pass && latest.stage !== 'done' ? latest : undefined;
      let checkpoint: MigrationCheckpoint =
        resumed ??
        (await this.save(latest, {
          format: INDEX_MIGRATION_FORMAT,
          sequence: latest ? latest.sequence + 1 : 0,
          source: deps.sourceKind,
          pass,
          stage: 'source',
          after_id: null,
          pass_started_at: deps.clock().toISOString(),
          // A migration begun again after an abandoned one syncs from scratch.
          synced_from: latest?.pass === 'abandon' ? null : (latest?.synced_from ?? null),
          blob_root: null,
          tally: emptyTally(),
        }));
      deps.logger.info(
        { pass, resumed: resumed !== undefined, after_id: checkpoint.after_id },
        'index migration started',
      );
      // The checkpoint just written retires the index of processes on the side this pass leaves
      // behind; they notice within RETIREMENT_RECHECK_MS, and what they withdraw until then this
      // pass must still see.
      if (pass !== 'sync') await (deps.sleep ?? systemSleep)(2 * RETIREMENT_RECHECK_MS);
      while (checkpoint.stage !== 'done') {
        throwIfLost(lease);
        checkpoint = await this.step(checkpoint, pageSize, lease);
      }
      const [source, target] = await Promise.all([
        deps.source.summary(),
        // Removed by an abandon: this instance would still answer from the root it cached.
        pass === 'abandon' ? { count: 0, bytes: 0 } : deps.target.summary(),
      ]);
      const report: MigrationReport = {
        pass: checkpoint.pass,
        source: checkpoint.source,
        resumed: resumed !== undefined,
        pass_started_at: checkpoint.pass_started_at,
        finished_at: deps.clock().toISOString(),
        tally: checkpoint.tally,
        synced_from: checkpoint.synced_from,
        counts: { source, target },
        counts_match: source.count === target.count && source.bytes === target.bytes,
      };
      deps.logger.info({ ...report }, 'index migration pass finished');
      return report;
    } finally {
      await lease.release();
    }
  }

  /** One page of the current stage, applied and checkpointed. */
  private async step(
    checkpoint: MigrationCheckpoint,
    pageSize: number,
    lease: LockLease,
  ): Promise<MigrationCheckpoint> {
    // Abandon: a process on the blob index that committed since the last page (a call it let
    // through just before it noticed the abandon) may have withdrawn what was taken back already.
    const root = checkpoint.pass === 'abandon' ? await this.newestRoot() : undefined;
    if (root !== undefined && root !== checkpoint.blob_root && checkpoint.tally.removed === undefined)
      return this.save(
        checkpoint,
        { ...checkpoint, sequence: checkpoint.sequence + 1, stage: 'source', after_id: null },
        root,
      );
    if (checkpoint.pass === 'abandon' && checkpoint.stage === 'target')
      return this.removeBlobIndex(checkpoint, pageSize, lease);
    const { source, target } = this.deps;
    const afterId = checkpoint.after_id ?? undefined;
    const walked = checkpoint.stage === 'source' ? source : target;
    const page = await walked.list({ limit: pageSize, afterId });
    const tally = { ...checkpoint.tally };
    if (page.length > 0) {
      const ids = page.map((entry) => entry.id);
      if (checkpoint.stage === 'source')
        await this.fromSource(checkpoint, page, await target.getMany(ids), tally);
      else await this.fromTarget(checkpoint, page, await source.getMany(ids), tally);
      tally.examined += page.length;
    }
    throwIfLost(lease);
    const last = page.at(-1)?.id;
    const stageDone = page.length < pageSize;
    // A finish walks the blob index twice: a withdrawal that a process left on the old index let
    // through just before it noticed, landing after the first sweep read its id, the second finds.
    const sweepAgain =
      stageDone &&
      checkpoint.pass === 'finish' &&
      checkpoint.stage === 'target' &&
      checkpoint.sweep === undefined;
    const next: MigrationCheckpoint = {
      ...checkpoint,
      sequence: checkpoint.sequence + 1,
      tally,
      ...(sweepAgain
        ? { after_id: null, sweep: 2 }
        : stageDone
          ? checkpoint.stage === 'source'
            ? { stage: 'target', after_id: null }
            : {
                stage: 'done',
                after_id: null,
                synced_from: checkpoint.pass === 'sync' ? checkpoint.pass_started_at : checkpoint.synced_from,
              }
          : { after_id: last ?? null }),
    };
    // Abandon keeps the root as it was before the page was read: a commit meanwhile shows next time.
    return this.save(checkpoint, next, root);
  }

  /**
   * Source entries against what the blob index holds for the same ids. A sync copies each that
   * differs. A finish copies nothing: with archival paused by the migration gate, nothing reached
   * the source since the sync but withdrawals, and a difference here is the blob index's own
   * change since the switch (a restore, update or delete through it), so it is only counted.
   */
  private async fromSource(
    checkpoint: MigrationCheckpoint,
    page: readonly StoredEntry[],
    held: readonly (StoredEntry | undefined)[],
    tally: MigrationTally,
  ): Promise<void> {
    if (checkpoint.pass === 'abandon')
      return this.takeBack(page, held, tally, checkpoint.synced_from !== null);
    const differing = page.filter((entry, i) => {
      const there = held[i];
      return !there || !sameEntry(entry, there);
    });
    if (checkpoint.pass === 'finish') {
      tally.kept += differing.length;
      return;
    }
    if (differing.length > 0) {
      await this.deps.target.putMany(differing.map(withoutEtag));
      tally.copied += differing.length;
    }
  }

  /**
   * Abandon: source entries the blob index lacks. Once a sync has finished, only a withdrawal
   * through a process on the blob index takes one away (archival is paused), and leaves its record
   * live or noted deleted: the source withdraws those too. Before, the blob index may lack an entry
   * because no sync reached it, and a note alone may belong to a delete that failed: only a live
   * record or a confirmed delete counts. The others stay.
   */
  private async takeBack(
    page: readonly StoredEntry[],
    held: readonly (StoredEntry | undefined)[],
    tally: MigrationTally,
    synced: boolean,
  ): Promise<void> {
    for (const [i, entry] of page.entries()) {
      if (held[i] || !(await this.withdrawnForGood(entry, !synced))) {
        if (!held[i] || !sameEntry(entry, held[i])) tally.kept += 1;
        continue;
      }
      if (await withdrawUnlessChanged(this.deps.source, entry)) tally.withdrawn += 1;
      else tally.kept += 1;
    }
  }

  /**
   * Abandon: deletes a page of the blob index's roots, then of its files, once the source has
   * taken back what it needed. Roots go first, so no reader finds a root naming a file gone.
   */
  private async removeBlobIndex(
    checkpoint: MigrationCheckpoint,
    pageSize: number,
    lease: LockLease,
  ): Promise<MigrationCheckpoint> {
    const { store } = this.deps;
    const names: string[] = [];
    for (const prefix of [INDEX_ROOT_PREFIX, INDEX_FILES_PREFIX]) {
      for await (const blob of store.list(prefix)) {
        names.push(blob.name);
        if (names.length >= pageSize) break;
      }
      if (names.length > 0) break;
    }
    // Marked as begun first: from here on the newest root changes by this pass's own deletes.
    if (checkpoint.tally.removed === undefined)
      checkpoint = await this.save(checkpoint, {
        ...checkpoint,
        sequence: checkpoint.sequence + 1,
        tally: { ...checkpoint.tally, removed: 0 },
      });
    await pMap(names, (name) => store.delete(name), { concurrency: 8 });
    throwIfLost(lease);
    const removed = (checkpoint.tally.removed ?? 0) + names.length;
    return this.save(checkpoint, {
      ...checkpoint,
      sequence: checkpoint.sequence + 1,
      tally: { ...checkpoint.tally, removed },
      ...(names.length === 0 && { stage: 'done' as const }),
    });
  }

  /** Blob index entries against the source: the ones the source no longer has. */
  private async fromTarget(
    checkpoint: MigrationCheckpoint,
    page: readonly StoredEntry[],
    sources: readonly (StoredEntry | undefined)[],
    tally: MigrationTally,
  ): Promise<void> {
    // What the first sweep kept, the second meets again: counted once.
    const keep = checkpoint.sweep === undefined ? 1 : 0;
    for (const [i, entry] of page.entries()) {
      if (sources[i]) continue;
      // Finish: withdrawn on the source since the sync by a restore, update or delete, so its
      // record is live or noted deleted; anything else is left for `verify` to judge.
      const withdraw = checkpoint.pass === 'sync' || (await this.withdrawnForGood(entry));
      if (!withdraw) {
        tally.kept += keep;
        continue;
      }
      // Changed in the blob index since this page was read: the newer entry stays.
      if (await withdrawUnlessChanged(this.deps.target, entry)) tally.withdrawn += 1;
      else tally.kept += keep;
    }
  }

  /**
   * Whether the entry's record is live again, or deleted after it was archived: noted so, or with
   * `confirmed`, a delete that completed (a note alone may belong to a delete that failed).
   */
  private async withdrawnForGood(entry: StoredEntry, confirmed = false): Promise<boolean> {
    if (await this.deps.live.get(entry.id)) return true;
    const { deletions } = this.deps;
    const deletedAt = await (confirmed ? deletions.confirmedAt(entry.id) : deletions.deletedAt(entry.id));
    return deletedAt !== undefined && timeOf(deletedAt) >= timeOf(entry.archived_at);
  }

  /** The newest checkpoint; older ones (left by a kill between writing one and deleting the last) go. */
  private async latestCheckpoint(): Promise<MigrationCheckpoint | undefined> {
    const { store } = this.deps;
    const names = await checkpointNames(store);
    const newest = names.at(-1);
    if (newest === undefined) return undefined;
    const checkpoint = parseCheckpoint(await store.get(newest), newest);
    for (const name of names.slice(0, -1)) await store.delete(name);
    return checkpoint;
  }

  /** The blob index's newest root, by name; null before its first commit. */
  private async newestRoot(): Promise<string | null> {
    let newest: string | null = null;
    for await (const blob of this.deps.store.list(INDEX_ROOT_PREFIX)) newest = blob.name;
    return newest;
  }

  /**
   * Writes `next` create-only, with the blob index's newest root as it left it (or `root`, as it
   * was when the work the checkpoint records began), then lets `previous` go.
   */
  private async save(
    previous: MigrationCheckpoint | undefined,
    next: MigrationCheckpoint,
    root?: string | null,
  ): Promise<MigrationCheckpoint> {
    next = { ...next, blob_root: root === undefined ? await this.newestRoot() : root };
    const bytes = encodeCheckpoint(next);
    const { created } = await this.deps.store.putIfAbsent(checkpointName(next.sequence), bytes, {
      sha256: sha256Hex(bytes),
      tier: 'Hot',
    });
    if (!created)
      throw new LockHeldError(
        `index migration checkpoint ${next.sequence} exists already: another migration is running`,
      );
    if (previous) await this.deps.store.delete(checkpointName(previous.sequence));
    return next;
  }
}

/** Throws unless a migration is open that may still be abandoned: begun, and no finish begun. */
function refuseAbandon(latest: MigrationCheckpoint | undefined, restart: boolean): void {
  if (!latest) throw new ValidationError('no index migration has begun: there is nothing to abandon');
  // Begun again part way through its removal, it would find the blob index lacking every entry.
  if (restart)
    throw new ValidationError('an abandon pass always resumes where it stopped: run it without --restart');
  if (latest.pass === 'finish')
    throw new ValidationError(
      `a finish pass began at ${latest.pass_started_at}, so processes read the blob index and the old one is no longer kept up: the migration can no longer be abandoned${latest.stage === 'done' ? '' : '; run `index migrate --finish` to complete it'}`,
    );
  if (latest.pass === 'abandon' && latest.stage === 'done')
    throw new ValidationError(
      `the migration was abandoned already (at ${latest.pass_started_at}): there is nothing to abandon`,
    );
}

/** Milliseconds since the epoch; ISO texts of one instant can differ (`…00Z`, `…00.000Z`). */
function timeOf(iso: string): number {
  return Date.parse(iso);
}
