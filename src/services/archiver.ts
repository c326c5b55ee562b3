import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { crashedRun, isRunId, startedRun } from '../domain/archival-runs.js';
import { canonicalBytes, sha256Hex } from '../domain/billing-record.js';
import { ConflictError, NotFoundError, PreconditionFailedError, ValidationError } from '../domain/errors.js';
import { runOptionProblems } from '../domain/run-options.js';
import { inSlice, sliceLabel, type Slice } from '../domain/slices.js';
import { paceDelayMs } from '../domain/pacing.js';
import { emptyUsage, usagePerRecord, type Usage } from '../domain/usage.js';
import {
  sameLocation,
  withdrawUnlessChanged,
  type ArchiveIndex,
  type StoredEntry,
} from '../ports/archive-index.js';
import type { DeletionNotes } from '../ports/deletion-notes.js';
import type { GarbageQueue } from '../ports/garbage-queue.js';
import {
  liveRecordsAmong,
  type LiveStore,
  type StatusFilter,
  type StoredRecord,
  type UnarchivableRecord,
} from '../ports/live-store.js';
import type { Lock, LockLease } from '../ports/lock.js';
import type { PauseRequest, RunLog, RunRecord } from '../ports/run-log.js';
import { DAY_MS, systemSleep, type Clock, type Sleep } from './clock.js';
import { refuseWhileIndexRebuilt } from './index-rebuild-gate.js';
import { acquireArchivalLocks, throwIfLost } from './archival-locks.js';
import type { DurableBatch } from './layouts/archive-layout.js';
import type { Layouts } from './layouts/layouts.js';
import type { ArchiveReader } from './archive-reader.js';
import type { AuditLog } from './audit-log.js';
import type { HeldCopies } from './held-copies.js';
import { DELETE_IN_FLIGHT_MS } from './deletion-claims.js';
import { InFlight } from './in-flight.js';
import type { MigrationGate } from './migration-gate.js';
import type { RetentionSweep } from './retention-sweep.js';
import type { UsageTally } from './usage-tally.js';

export interface ArchiveRunOptions {
  /** Records last touched more than this many days ago are archived; default from config. */
  olderThanDays?: number | undefined;
  /** Count what would be archived; write nothing. */
  dryRun?: boolean | undefined;
  /** Archive at most this many records in this run. */
  limit?: number | undefined;
  /**
   * Copy and index the records but leave them live (a first migration, or to check the archive
   * before trusting it); a later run without it finishes the move without writing them again.
   */
  keepLive?: boolean | undefined;
  /** Only the records of this slice (its count must be the configured slice count); default all. */
  slice?: Slice | undefined;
  /** Who starts the run, for the run history and the audit trail; default `system`. */
  startedBy?: RunStarter | undefined;
}

/** Who started a run: an identity's id, `system:scheduler`, `cli:<user>`; and the request, over HTTP. */
export interface RunStarter {
  actor: string;
  requestId?: string | undefined;
  client?: string | undefined;
}

export interface ArchiverSettings {
  olderThanDays: number;
  batchSize: number;
  /** How many slices the id space is split into for parallel workers; 1 means no splitting. */
  slices: number;
  /** Request units a second a run may average on Cosmos DB; 0 or absent: no limit. */
  maxRequestUnitsPerSecond?: number | undefined;
  /** Statuses whose records stay live however old (ARCHIVAL_EXCLUDE_STATUSES); none when absent. */
  excludedStatuses?: readonly string[] | undefined;
  /** How long a run stays paused before it ends (ARCHIVAL_MAX_PAUSE_MINUTES); an hour when absent. */
  maxPauseMs?: number | undefined;
}

export interface ArchiverDeps {
  live: LiveStore;
  index: ArchiveIndex;
  garbage: GarbageQueue;
  deletions: DeletionNotes;
  layouts: Layouts;
  /** Reads an archived copy back before a run trusts it in place of writing the record again. */
  reader: ArchiveReader;
  lock: Lock;
  runLog: RunLog;
  retention: RetentionSweep;
  heldCopies: HeldCopies;
  audit: AuditLog;
  usage: UsageTally;
  clock: Clock;
  /** How the run waits when it is ahead of its request unit budget; real time by default. */
  sleep?: Sleep | undefined;
  logger: Logger;
  settings: ArchiverSettings;
  /** Keeps this work from changing the archive while an index migration is open. */
  migrationGate?: MigrationGate | undefined;
}

const GARBAGE_PAGE = 500;
/** The longest a run waits for its request unit budget before it looks at its lock again. */
const PACE_STEP_MS = 1_000;
/** How often a paused run looks whether it is to go on (a read each time) and at its lock. */
const PAUSE_POLL_MS = 5_000;
const DEFAULT_MAX_PAUSE_MS = 60 * 60_000;
/** Errors and notes a run keeps, each: the first tell the story; the counts are complete. */
const MAX_NOTES = 20;

/**
 * Runs docs/ARCHITECTURE.md's archival protocol: read a batch of eligible records with their etags, write
 * them durably to the archive, index them, then delete each live copy only if its etag still
 * matches. Every step is safe to repeat, so a run killed at any instant is healed by the next.
 */
export class Archiver {
  private readonly live: LiveStore;
  private readonly index: ArchiveIndex;
  private readonly garbage: GarbageQueue;
  private readonly deletions: DeletionNotes;
  private readonly layouts: Layouts;
  private readonly reader: ArchiveReader;
  private readonly lock: Lock;
  private readonly runLog: RunLog;
  private readonly retention: RetentionSweep;
  private readonly heldCopies: HeldCopies;
  private readonly audit: AuditLog;
  private readonly usage: UsageTally;
  private readonly clock: Clock;
  private readonly sleep: Sleep;
  private readonly logger: Logger;
  private readonly settings: ArchiverSettings;
  private readonly migrationGate: MigrationGate | undefined;
  private readonly inFlight = new InFlight();
  /** Runs that stayed paused past ARCHIVAL_MAX_PAUSE_MINUTES: they end after what they hold. */
  private readonly pausedOut = new WeakSet<RunRecord>();

  constructor(deps: ArchiverDeps) {
    ({
      live: this.live,
      index: this.index,
      garbage: this.garbage,
      deletions: this.deletions,
      layouts: this.layouts,
      reader: this.reader,
      lock: this.lock,
      runLog: this.runLog,
      retention: this.retention,
      heldCopies: this.heldCopies,
      audit: this.audit,
      usage: this.usage,
      clock: this.clock,
      logger: this.logger,
      settings: this.settings,
    } = deps);
    this.sleep = deps.sleep ?? systemSleep;
    this.migrationGate = deps.migrationGate;
  }

  /**
   * Takes the archival lock (LockHeldError when another run holds it) and starts a run. Resolves
   * once the run is recorded; `done` settles when it ends. `settled()` waits for it from this call
   * on, so a shutdown cannot slip in between a run's start and its tracking.
   */
  start(options: ArchiveRunOptions = {}): Promise<{ run: RunRecord; done: Promise<RunRecord> }> {
    const runId = `${this.clock().toISOString().replace(/[-:.]/g, '')}-${randomUUID().slice(0, 8)}`;
    // Everything the run asks of Cosmos DB and the archive store, from its lock to its end.
    const usage = emptyUsage();
    const started = this.usage.measure(usage, () => this.begin(runId, options, usage));
    this.inFlight.track(
      runId,
      started.then(({ done }) => done),
    );
    return started;
  }

  /** Resolves once every run this archiver started has ended. */
  settled(): Promise<void> {
    return this.inFlight.settled();
  }

  /** The ids of the runs this archiver started that have not ended yet. */
  running(): string[] {
    return this.inFlight.ids();
  }

  private async begin(
    runId: string,
    options: ArchiveRunOptions,
    usage: Usage,
  ): Promise<{ run: RunRecord; done: Promise<RunRecord> }> {
    const problems = runOptionProblems(options, this.settings.slices);
    if (problems.length > 0) throw new ValidationError(problems);
    const olderThanDays = options.olderThanDays ?? this.settings.olderThanDays;
    const { slice } = options;
    const lease = await acquireArchivalLocks(this.lock, this.settings.slices, slice, {
      runId,
      description: `pid ${process.pid} on ${hostname()}`,
    });
    try {
      if (!options.dryRun) await this.migrationGate?.refuseWhileOpen('an archival run');
      await refuseWhileIndexRebuilt(this.index, 'an archival run');
      const run = startedRun({
        run_id: runId,
        slice: sliceLabel(slice),
        dry_run: options.dryRun ?? false,
        older_than_days: olderThanDays,
        limit: options.limit ?? null,
        started_at: this.clock().toISOString(),
        host: hostname(),
        pid: process.pid,
      });
      if (options.keepLive) {
        run.keep_live = true;
        run.copied = 0;
      }
      const excluded = this.settings.excludedStatuses ?? [];
      if (excluded.length > 0) run.excluded_statuses = [...excluded];
      const starter = options.startedBy ?? { actor: 'system' };
      run.started_by = starter.actor;
      // Saved with the run each time, as far as it has counted.
      run.usage = usage;
      await this.runLog.save(run);
      // Holding a slice's lock means no other run of it is alive: a 'running' record of it died.
      let crashed = 0;
      for (const covered of this.coveredSlices(slice))
        for (const dead of await this.runLog.listRunning(covered)) {
          if (dead.run_id === runId) continue;
          await this.runLog.save(crashedRun(dead, this.clock()));
          crashed += 1;
        }
      if (crashed > 0)
        this.logger.warn({ runId, crashed }, 'earlier archival runs had died; this run takes over');
      await this.audit.record({
        actor: starter.actor,
        action: 'archive.run.start',
        outcome: 'succeeded',
        run_id: runId,
        request_id: starter.requestId,
        client: starter.client,
        detail: `slice ${run.slice}, older than ${olderThanDays} days${run.dry_run ? ', dry run' : ''}${run.keep_live ? ', keep live (copy only)' : ''}${run.limit === null ? '' : `, at most ${run.limit} records`}`,
      });
      return { run: snapshot(run), done: this.execute(run, lease, slice, starter) };
    } catch (error) {
      await lease.release();
      throw error;
    }
  }

  /** Runs one archival run to its end. */
  async runOnce(options: ArchiveRunOptions = {}): Promise<RunRecord> {
    const { done } = await this.start(options);
    return done;
  }

  /** Runs newest first. */
  async history(limit: number): Promise<RunRecord[]> {
    return this.runLog.list({ limit });
  }

  /** One run, or undefined when unknown. */
  async run(runId: string): Promise<RunRecord | undefined> {
    return this.runLog.get(runId);
  }

  /**
   * Asks a running run, in this process or another, to pause between batches (`paused`) or to go
   * on; the run reads it before its next batch. NotFoundError for an unknown run, ConflictError
   * (`run_not_running`) for one that has ended.
   */
  async askToPause(runId: string, paused: boolean, by: string): Promise<PauseRequest> {
    if (!isRunId(runId))
      throw new ValidationError(
        `${JSON.stringify(runId)} is not a run id such as 20261101T000000000Z-abcd1234`,
      );
    const run = await this.runLog.get(runId);
    if (!run) throw new NotFoundError(`archival run '${runId}' not found`);
    if (run.status !== 'running')
      throw new ConflictError(
        `archival run '${runId}' has ended (${run.status}): only a running run can be paused or resumed`,
        'run_not_running',
      );
    const request = { paused, at: this.clock().toISOString(), by };
    await this.runLog.requestPause(runId, request);
    return request;
  }

  /**
   * Run-history labels no other live run can have while this run holds its locks: its own, and
   * 'all' too for a slice run (a whole-store run would hold this slice's lock).
   */
  private coveredSlices(slice: Slice | undefined): string[] {
    if (this.settings.slices === 1) return ['all'];
    if (slice) return [sliceLabel(slice), 'all'];
    return [
      'all',
      ...Array.from({ length: this.settings.slices }, (_, index) =>
        sliceLabel({ index, count: this.settings.slices }),
      ),
    ];
  }

  private async execute(
    run: RunRecord,
    lease: LockLease,
    slice: Slice | undefined,
    starter: RunStarter,
  ): Promise<RunRecord> {
    const started = Date.now();
    this.logger.info(
      { runId: run.run_id, dryRun: run.dry_run, olderThanDays: run.older_than_days },
      'archival run started',
    );
    try {
      await this.archiveEligible(run, lease, slice);
      // Paused for too long: the operator wanted the run's load gone, so its other steps wait too.
      if (!this.pausedOut.has(run)) await this.afterArchiving(run, lease, slice);
      run.status = run.failed > 0 ? 'failed' : 'succeeded';
    } catch (error) {
      run.status = 'failed';
      run.errors.push(messageOf(error));
      this.logger.error({ err: error, runId: run.run_id }, 'archival run failed');
    } finally {
      run.finished_at = this.clock().toISOString();
      run.duration_ms = Date.now() - started;
      if (run.usage) {
        // Counting stops here, so the history, the summary and the per-record figures agree.
        run.usage = structuredClone(run.usage);
        run.usage_per_archived_record = usagePerRecord(run.usage, run.archived);
      }
      try {
        await this.runLog.save(run);
      } finally {
        await lease.release();
      }
    }
    this.logger.info({ run }, 'archival run finished');
    await this.audit.record({
      actor: starter.actor,
      action: 'archive.run.end',
      outcome: run.status === 'succeeded' ? 'succeeded' : 'failed',
      run_id: run.run_id,
      detail: `${run.keep_live ? `${run.copied ?? 0} copied and kept live, ` : ''}${run.archived} archived, ${run.skipped} skipped, ${run.failed} failed, ${run.expired} expired, ${run.not_archivable ?? 0} not archivable, in ${run.duration_ms} ms`,
    });
    return snapshot(run);
  }

  /** Retention, held copies and garbage: the run's steps after the archiving pass. */
  private async afterArchiving(run: RunRecord, lease: LockLease, slice: Slice | undefined): Promise<void> {
    const checkLease = () => {
      throwIfLost(lease);
    };
    for await (const outcome of this.retention.sweep(
      { runId: run.run_id, dryRun: run.dry_run },
      checkLease,
      slice,
    ))
      run[outcome] += 1;
    if (!run.dry_run) {
      for await (const outcome of this.heldCopies.keep(run.run_id, checkLease, slice)) run[outcome] += 1;
      await this.runLog.save(run);
      // Last, so the blobs retention left without entries go in the same run.
      await this.collectGarbage(run, lease, slice);
      await this.pruneIndexRoots(run);
    }
  }

  private async archiveEligible(run: RunRecord, lease: LockLease, slice: Slice | undefined): Promise<void> {
    const touchedBefore = new Date(this.clock().getTime() - run.older_than_days * DAY_MS);
    const writer = run.dry_run
      ? undefined
      : this.layouts.writing.open({ runId: run.run_id, archivedAt: run.started_at });
    const statuses = run.excluded_statuses && { exclude: run.excluded_statuses };
    for await (const page of this.eligiblePages(run, lease, slice, touchedBefore, statuses)) {
      for (const found of page.unarchivable) this.noteUnarchivable(run, found);
      const mine = page.records;
      if (mine.length === 0) continue;
      run.batches += 1;
      run.eligible += mine.length;
      const { unwritten, archivedAlready } = writer
        ? await this.alreadyArchived(mine)
        : { unwritten: mine, archivedAlready: [] };
      if (run.keep_live) run.already_copied = (run.already_copied ?? 0) + archivedAlready.length;
      else if (archivedAlready.length > 0) await this.finishMove(archivedAlready, run, lease);
      // The history is saved after each durable step (in indexAndDelete), not after every read.
      for (const batch of (await writer?.add(unwritten)) ?? []) await this.indexAndDelete(batch, run, lease);
    }
    for (const batch of (await writer?.finish()) ?? []) await this.indexAndDelete(batch, run, lease);
    // A run paused out counts no further: its figures would be partial.
    if (run.dry_run && run.excluded_statuses && !this.pausedOut.has(run))
      await this.countKeptLive(run, touchedBefore, slice, lease);
  }

  /**
   * One pass over the eligible records, a page at a time, each paced against the budget and the
   * lock: the slice's own only (every slice reads them all), and no more than the run's limit.
   */
  private async *eligiblePages(
    run: RunRecord,
    lease: LockLease,
    slice: Slice | undefined,
    touchedBefore: Date,
    statuses: StatusFilter | undefined,
  ): AsyncGenerator<{ records: StoredRecord[]; unarchivable: UnarchivableRecord[] }> {
    let remaining = run.limit ?? Number.POSITIVE_INFINITY;
    let continuation: string | undefined;
    do {
      if (!(await this.goOn(run, lease))) return;
      await this.pace(run, lease);
      const page = await this.live.findEligible({
        touchedBefore,
        limit: Math.min(this.settings.batchSize, remaining),
        continuation,
        statuses,
      });
      continuation = page.continuation;
      const records = page.records.filter((record) => inSlice(record.doc.id, slice));
      remaining -= records.length;
      yield { records, unarchivable: page.unarchivable.filter((found) => inSlice(found.id, slice)) };
    } while (continuation !== undefined && remaining > 0);
  }

  /**
   * What ARCHIVAL_EXCLUDE_STATUSES keeps live that would otherwise go, by status (up to the run's
   * limit, when it has one): a dry run's second pass over those statuses only. Real runs leave it
   * out: the exclusion is there so that runs do not fetch those records every night.
   */
  private async countKeptLive(
    run: RunRecord,
    touchedBefore: Date,
    slice: Slice | undefined,
    lease: LockLease,
  ): Promise<void> {
    const excluded = run.excluded_statuses ?? [];
    const kept: Record<string, number> = Object.fromEntries(excluded.map((status) => [status, 0]));
    for await (const { records } of this.eligiblePages(run, lease, slice, touchedBefore, { only: excluded }))
      for (const { doc } of records)
        if (typeof doc.status === 'string') kept[doc.status] = (kept[doc.status] ?? 0) + 1;
    run.kept_live_by_status = kept;
  }

  /** Indexes what the layout made durable, then deletes each live copy still at the version read. */
  private async indexAndDelete(batch: DurableBatch, run: RunRecord, lease: LockLease): Promise<void> {
    for (const failure of batch.failed) {
      run.failed += 1;
      this.noteError(
        run,
        `record '${failure.id}' could not be written to the archive: ${failure.error.message}`,
      );
    }
    if (batch.written.length === 0) {
      if (batch.failed.length > 0)
        throw new Error('no record of the batch could be written to the archive; stopping the run');
      return;
    }
    // A lost lock may soon be another run's: check before every step that changes what is stored.
    // (A failed lease renewal reports the loss at least 10 s before the lease can expire.)
    await this.pace(run, lease);
    const entries = await this.index.putMany(batch.written.map((item) => item.entry));
    const etags = new Map(batch.written.map((item) => [item.entry.id, item.etag]));
    if (run.keep_live) {
      await this.keepLive(entries, etags, run);
      await this.runLog.save(run);
      return;
    }
    for (let start = 0; start < entries.length; start += this.settings.batchSize) {
      const chunk = entries.slice(start, start + this.settings.batchSize);
      await this.pace(run, lease);
      const deleted = await this.live.deleteMany(
        chunk.map((entry) => ({ id: entry.id, etag: etags.get(entry.id) ?? '' })),
      );
      for (const [i, entry] of chunk.entries()) {
        if (deleted[i] || (await this.goneUndeleted(entry.id, clientDeletesSince(run)))) {
          run.archived += 1;
          run.bytes += entry.size;
        } else {
          // Changed, or deleted by a client, since it was read: the new entry goes.
          await this.withdrawOwn(entry);
          run.skipped += 1;
        }
      }
    }
    await this.runLog.save(run);
  }

  /**
   * The records whose archived copy already holds exactly their bytes (a keep-live run copied them,
   * or a run was killed between indexing and deleting them), apart from those still to write. The
   * copy is read back and verified first: one gone, damaged or offline is written again instead,
   * and never stands in for the live record.
   */
  private async alreadyArchived(
    records: readonly StoredRecord[],
  ): Promise<{ unwritten: StoredRecord[]; archivedAlready: { record: StoredRecord; entry: StoredEntry }[] }> {
    const entries = await this.index.getMany(records.map((record) => record.doc.id));
    const unwritten: StoredRecord[] = [];
    const matching: { record: StoredRecord; entry: StoredEntry }[] = [];
    records.forEach((record, i) => {
      const entry = entries[i];
      if (entry && entry.sha256 === sha256Hex(canonicalBytes(record.doc))) matching.push({ record, entry });
      else unwritten.push(record);
    });
    const reads = await this.reader.readMany(
      matching.map(({ entry }) => entry),
      { rehydrate: false },
    );
    const archivedAlready = matching.filter((_, i) => {
      const read = reads[i];
      return read !== undefined && !(read instanceof Error);
    });
    for (const [i, { record }] of matching.entries()) if (reads[i] instanceof Error) unwritten.push(record);
    return { unwritten, archivedAlready };
  }

  /**
   * Finishes moving records whose archived copy is already indexed: deletes the live copy if it is
   * still the one read (its etag). One that changed meanwhile keeps its entry (a later run archives
   * the change); one a client deleted loses it.
   */
  private async finishMove(
    items: readonly { record: StoredRecord; entry: StoredEntry }[],
    run: RunRecord,
    lease: LockLease,
  ): Promise<void> {
    await this.pace(run, lease);
    const deleted = await this.live.deleteMany(
      items.map(({ record }) => ({ id: record.doc.id, etag: record.etag })),
    );
    for (const [i, { entry }] of items.entries()) {
      if (deleted[i] || (await this.goneUndeleted(entry.id, clientDeletesSince(run)))) {
        run.archived += 1;
        run.bytes += entry.size;
        continue;
      }
      run.skipped += 1;
      // Deleted by a client: its delete withdraws the entry too, unless it died first; then the
      // entry would bring the record back, so it goes here (a changed record keeps it for now).
      if (!(await this.live.get(entry.id))) await withdrawUnlessChanged(this.index, entry);
    }
    await this.runLog.save(run);
  }

  /**
   * A keep-live run leaves the records live, so it never meets a delete it could miss: it looks
   * again after indexing. A record changed or deleted since it was read loses the new entry (a
   * client's delete that came before the entry found none to withdraw).
   */
  private async keepLive(
    entries: readonly StoredEntry[],
    etags: ReadonlyMap<string, string>,
    run: RunRecord,
  ): Promise<void> {
    const found = await liveRecordsAmong(
      this.live,
      entries.map((entry) => entry.id),
    );
    const now = new Map(found.map((record) => [record.doc.id, record.etag]));
    for (const entry of entries) {
      if (now.get(entry.id) === etags.get(entry.id)) {
        run.copied = (run.copied ?? 0) + 1;
        run.bytes += entry.size;
      } else {
        await this.withdrawOwn(entry);
        run.skipped += 1;
      }
    }
  }

  /**
   * Withdraws the entry this run just wrote. Only this run writes entries of its records while it
   * holds the locks (requests only withdraw them), so an entry that changed since but still holds
   * this run's copy is this run's own write landing again (a retried index write whose first copy
   * arrived late): it goes too, at its new etag. Any other entry is left.
   */
  private async withdrawOwn(entry: StoredEntry): Promise<void> {
    try {
      await this.index.withdraw(entry.id, entry.etag);
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
      const now = await this.index.get(entry.id);
      if (
        now &&
        now.run_id === entry.run_id &&
        now.sha256 === entry.sha256 &&
        sameLocation(now.location, entry.location)
      )
        await withdrawUnlessChanged(this.index, now);
    }
  }

  /**
   * Between batches: whether the run goes on. Asked to pause (`POST /archive/runs/{id}/pause`), it
   * waits here holding its lock, its history saying since when, until it is asked to resume (true)
   * or has waited ARCHIVAL_MAX_PAUSE_MINUTES (false: it ends cleanly after what it holds).
   */
  private async goOn(run: RunRecord, lease: LockLease): Promise<boolean> {
    if (this.pausedOut.has(run)) return false;
    let request = await this.runLog.pauseRequest(run.run_id);
    if (!request?.paused) return true;
    const pausedAt = this.clock();
    run.paused_at = pausedAt.toISOString();
    run.paused_by = request.by;
    await this.runLog.save(run);
    this.logger.info({ runId: run.run_id, by: request.by }, 'archival run paused between batches');
    const maxPauseMs = this.settings.maxPauseMs ?? DEFAULT_MAX_PAUSE_MS;
    let waited = 0;
    try {
      while (request?.paused && waited < maxPauseMs) {
        throwIfLost(lease);
        await this.sleep(PAUSE_POLL_MS);
        waited = this.clock().getTime() - pausedAt.getTime();
        request = await this.runLog.pauseRequest(run.run_id);
      }
      throwIfLost(lease);
    } finally {
      // Resumed, paused out, or failed while it waited: the history no longer says it waits.
      delete run.paused_at;
      delete run.paused_by;
      run.paused_ms = (run.paused_ms ?? 0) + waited;
    }
    if (request?.paused) {
      this.pausedOut.add(run);
      // Not an error: the run ends as asked, and the next one goes on where it stopped.
      (run.notes ??= []).unshift(
        `paused at ${pausedAt.toISOString()} for longer than ${Math.round(maxPauseMs / 60_000)} minutes (ARCHIVAL_MAX_PAUSE_MINUTES): ended after ${run.archived} records; the next run goes on`,
      );
      this.logger.warn({ runId: run.run_id }, 'archival run paused for too long; it ends');
    } else this.logger.info({ runId: run.run_id, pausedMs: waited }, 'archival run resumed');
    await this.runLog.save(run);
    return !request?.paused;
  }

  /**
   * Waits while the run is ahead of its request unit budget (ARCHIVAL_MAX_RU_PER_SECOND), averaged
   * from its start, in steps short enough to notice a lost lock; then checks the lock. A batch's
   * own requests may burst above the budget: it is kept between batches.
   */
  private async pace(run: RunRecord, lease: LockLease): Promise<void> {
    const budget = this.settings.maxRequestUnitsPerSecond ?? 0;
    for (;;) {
      throwIfLost(lease);
      const spent = run.usage?.cosmos.request_units ?? 0;
      // Time spent paused earns no budget: a resumed run keeps to the rate it was paused to relieve.
      const working = this.clock().getTime() - Date.parse(run.started_at) - (run.paused_ms ?? 0);
      const wait = paceDelayMs(spent, working, budget);
      if (wait <= 0) return;
      const step = Math.min(wait, PACE_STEP_MS);
      await this.sleep(step);
      run.throttled_ms = (run.throttled_ms ?? 0) + step;
    }
  }

  /**
   * Whether a record the conditional delete missed is gone from the live store although no client
   * deleted it since `since`: another run took it (a lock lost under it) or this run's own delete
   * landed with its answer lost. Its new entry may then be its only copy, so it stays. A document
   * another system deletes straight from Cosmos DB during the run therefore stays archived.
   * `since` reaches back before the run's start, as a DELETE notes first and deletes after.
   */
  private async goneUndeleted(id: string, since: string): Promise<boolean> {
    if (await this.live.get(id)) return false;
    const deletedAt = await this.deletions.deletedAt(id);
    return deletedAt === undefined || deletedAt < since;
  }

  /**
   * Deletes blobs no index entry points to any more (left by restores, updates and deletes). Only
   * the archiver adds entries, and only for records of the slices it holds the locks of: so it
   * collects only those records' garbage, and no new reference can appear meanwhile.
   */
  private async collectGarbage(run: RunRecord, lease: LockLease, slice: Slice | undefined): Promise<void> {
    let afterSeq: string | undefined;
    // Many dead records of one segment each leave a note; the segment goes once.
    const deleted = new Set<string>();
    for (;;) {
      throwIfLost(lease);
      const garbage = await this.garbage.list({ limit: GARBAGE_PAGE, afterSeq });
      if (garbage.length === 0) return;
      afterSeq = garbage.at(-1)?.seq;
      const mine = garbage.filter((item) => inSlice(item.id, slice));
      for (const item of mine) {
        throwIfLost(lease);
        const layout = this.layouts.of(item.location);
        if (deleted.has(item.location.blob) || (await layout.stillReferenced(this.index, item))) continue;
        deleted.add(item.location.blob);
        await layout.remove(item.location.blob);
        run.garbage_collected += 1;
      }
      await this.garbage.forget(mine.map((item) => item.seq));
    }
  }

  /** A blob-native index's superseded roots; a failure is the next run's to retry, never this run's. */
  private async pruneIndexRoots(run: RunRecord): Promise<void> {
    const { upkeep } = this.index;
    if (!upkeep) return;
    try {
      const pruned = await upkeep.pruneRoots();
      if (pruned > 0) this.logger.info({ runId: run.run_id, pruned }, 'old archive index roots pruned');
    } catch (error) {
      this.logger.warn(
        { err: error, runId: run.run_id },
        'pruning old archive index roots failed; the next run tries again',
      );
    }
  }

  /** Not an error of the run: the document stays live, and the run (and `verify`) say why. */
  private noteUnarchivable(run: RunRecord, found: UnarchivableRecord): void {
    run.not_archivable = (run.not_archivable ?? 0) + 1;
    const notes = (run.notes ??= []);
    if (notes.length >= MAX_NOTES) return;
    const note = `record '${found.id}' is not archivable and stays live: ${found.problem}`;
    this.logger.warn({ runId: run.run_id, id: found.id }, note);
    notes.push(note);
  }

  private noteError(run: RunRecord, message: string): void {
    this.logger.error({ runId: run.run_id }, message);
    // Keep the history readable on a bad day: the first errors tell the story.
    if (run.errors.length < MAX_NOTES) run.errors.push(message);
  }
}

function clientDeletesSince(run: RunRecord): string {
  return new Date(Date.parse(run.started_at) - DELETE_IN_FLIGHT_MS).toISOString();
}

/** A copy of the run that the run's further counting does not change. */
function snapshot(run: RunRecord): RunRecord {
  return structuredClone(run);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
