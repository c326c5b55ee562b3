import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import pMap from 'p-map';
import type { Logger } from 'pino';
import type { RecordDocument } from '../domain/billing-record.js';
import type { CreationKey } from '../domain/creation-order.js';
import {
  ArchivedOfflineError,
  ConflictError,
  DomainError,
  IndexRebuildingError,
  NotFoundError,
  PreconditionFailedError,
  StoreUnavailableError,
} from '../domain/errors.js';
import { instantMs } from '../domain/record-times.js';
import {
  describeCounts,
  describeTarget,
  isFinished,
  newRestoreJob,
  restoreTarget,
  withError,
  type RestoreTargetInput,
} from '../domain/restore-jobs.js';
import { withdrawUnlessChanged, type ArchiveIndex, type StoredEntry } from '../ports/archive-index.js';
import type { ArchiveStore } from '../ports/archive-store.js';
import type { DeletionNotes } from '../ports/deletion-notes.js';
import { liveRecordsAmong, type LiveStore, type StoredRecord } from '../ports/live-store.js';
import type {
  JobOwner,
  PageInHand,
  RestoreCounts,
  RestoreJob,
  RestoreJobs,
  RestoreQuery,
  StoredRestoreJob,
  WaitingBlob,
} from '../ports/restore-jobs.js';
import type { ArchiveReader, VerifiedRecord } from './archive-reader.js';
import type { AuditLog } from './audit-log.js';
import type { Clock, Sleep } from './clock.js';
import type { DeletedDuringRuns } from './deleted-during-run.js';
import { DELETE_IN_FLIGHT_MS } from './deletion-claims.js';
import { InFlight } from './in-flight.js';
import type { Restorer } from './restorer.js';

/** Records a job takes at once: one intent, one look at both stores, one save. */
const PAGE = 100;

/** Rounds of saving a job while others keep changing it (cancels), before giving up. */
const SAVE_ROUNDS = 5;

/** Tries at one record whose archived version keeps changing under the job. */
const RESTORE_ATTEMPTS = 3;

/** Times a page is taken in hand before a record a store keeps failing counts as failed. */
const MAX_PAGE_ATTEMPTS = 8;

/** Blobs looked at between two heartbeats of a waiting job. */
const PROBES_PER_HEARTBEAT = 200;

/** Records restored between two heartbeats of a page. */
const RECORDS_PER_HEARTBEAT = 25;

/** Records a page restores at once: each is a few requests to the stores, independent of the others. */
const RESTORES_AT_ONCE = 8;

/**
 * Blobs a job waits for at once, so the job stays far below Cosmos DB's 2 MB a document: records
 * of further Archive-tier blobs are counted and their blobs rehydrated in a later pass.
 */
export const MAX_WAITING_BLOBS = 2000;

export interface JobTiming {
  /** How often an owner saves its job while it waits: the sign it is alive. */
  heartbeatMs: number;
  /**
   * How long after its last save a job is taken for abandoned and may be claimed: well over the
   * longest page, and over the clocks' skew between machines.
   */
  staleMs: number;
  /** How often a waiting job looks at its Archive-tier blobs. */
  rehydrationPollMs: number;
  /** How long a job waits for one blob before it counts the blob's records as failed. */
  maxWaitMs: number;
  /** The first wait after a store failed a step; it doubles up to `maxRetryMs`. */
  retryMs: number;
  maxRetryMs: number;
}

const DEFAULT_TIMING: JobTiming = {
  heartbeatMs: 30_000,
  staleMs: 10 * 60_000,
  rehydrationPollMs: 10 * 60_000,
  // Azure's Standard priority takes up to 15 hours.
  maxWaitMs: 48 * 60 * 60_000,
  retryMs: 5_000,
  maxRetryMs: 5 * 60_000,
};

export interface BulkRestoreDeps {
  live: LiveStore;
  index: ArchiveIndex;
  /** Asked directly for one byte of a blob: whether it is online yet, and to start its rehydration. */
  store: ArchiveStore;
  reader: ArchiveReader;
  restorer: Restorer;
  deletions: DeletionNotes;
  deletedAmong: DeletedDuringRuns;
  jobs: RestoreJobs;
  audit: AuditLog;
  clock: Clock;
  sleep: Sleep;
  logger: Logger;
  timing?: Partial<JobTiming>;
}

/** What a caller asks for: a query or a list of ids, never both. */
export interface RestoreRequest extends RestoreTargetInput {
  dryRun?: boolean | undefined;
  /** Who asks, as the audit trail names them. */
  by: string;
  requestId?: string | undefined;
  client?: string | undefined;
}

/** Told after every save of a job this process works on: the job as saved. */
export type JobProgress = (job: RestoreJob) => void;

/** How a step saves the job it works on: with changes, or as it is (a heartbeat). */
interface Step {
  save(job: RestoreJob): Promise<RestoreJob>;
  heartbeat(): Promise<RestoreJob>;
}

/** The job changed hands (claimed by another worker), ended or went: this worker stops. */
class JobLost extends Error {}

/**
 * What became of one record of a page, for the counts: `left` a record that no longer counts
 * (deleted meanwhile, or its body does not match the status asked for), `skip` one that never
 * counted.
 */
type Outcome = 'restored' | 'already_live' | 'failed' | 'left' | 'skip';

/**
 * Bulk restore jobs: a query's or a list's archived records made live page by page, each page
 * saved as an intent before it is touched and as progress after, so a job survives a crash and
 * goes on in whichever process claims it. Records are made live through `Restorer.bringBack`
 * (live copy first, create-only), so none is restored twice or lost. Archive-tier records start
 * one rehydration per blob; the job waits for them and restores them in later passes.
 */
export class BulkRestore {
  private readonly timing: JobTiming;
  private readonly inFlight = new InFlight();
  private readonly stopping = new AbortController();
  private watcher: NodeJS.Timeout | undefined;

  constructor(private readonly deps: BulkRestoreDeps) {
    this.timing = { ...DEFAULT_TIMING, ...deps.timing };
  }

  /** Creates the job, owned by this process, and works on it in the background. */
  async start(request: RestoreRequest): Promise<RestoreJob> {
    const stored = await this.create(request);
    this.inBackground(stored);
    return stored.job;
  }

  /** Creates the job, owned by this process, for `runHere` (the CLI, which shows its progress). */
  async create(request: RestoreRequest): Promise<StoredRestoreJob> {
    const { query, ids } = restoreTarget(request);
    const now = this.deps.clock();
    const job: RestoreJob = {
      ...newRestoreJob({
        job_id: `restore-${now.toISOString().replace(/[-:.]/g, '')}-${randomUUID().slice(0, 8)}`,
        dry_run: request.dryRun ?? false,
        query,
        ids,
        created_at: now.toISOString(),
        created_by: request.by,
      }),
      owner: newOwner(),
    };
    const stored = await this.deps.jobs.create(job);
    await this.deps.audit.record({
      actor: request.by,
      action: 'restore.job.start',
      outcome: 'succeeded',
      run_id: job.job_id,
      request_id: request.requestId,
      client: request.client,
      detail: describeTarget(job),
    });
    return stored;
  }

  /** Works on an owned job until it ends, this process stops or another worker takes it. */
  async runHere(stored: StoredRestoreJob, progress?: JobProgress): Promise<RestoreJob> {
    return this.drive(stored, progress);
  }

  async job(jobId: string): Promise<RestoreJob | undefined> {
    return (await this.deps.jobs.get(jobId))?.job;
  }

  async jobs(limit: number): Promise<RestoreJob[]> {
    return this.deps.jobs.list({ limit });
  }

  /**
   * Cancels a job: its worker stops before its next page (what it restored stays live). A job
   * nobody works on ends at once, or, left with a page in hand, once this process has settled
   * what that page's attempt did. ConflictError `job_finished` once it has ended.
   */
  async cancel(jobId: string, by: string): Promise<RestoreJob> {
    for (let round = 0; round < SAVE_ROUNDS; round++) {
      const stored = await this.deps.jobs.get(jobId);
      if (!stored) throw new NotFoundError(`restore job '${jobId}' not found`);
      const { job } = stored;
      if (isFinished(job))
        throw new ConflictError(`restore job '${jobId}' has ended (${job.status})`, 'job_finished');
      const now = this.deps.clock();
      const cancel = job.cancel ?? { at: now.toISOString(), by };
      const abandoned = this.isAbandoned(job, now);
      // Nobody works on it: it ends now, unless a page is in hand, which this process settles
      // first (a dead attempt's work on it may need finishing), then ends.
      const endsNow = abandoned && job.page === null;
      const takesOver = abandoned && job.page !== null;
      const changed: RestoreJob = endsNow
        ? { ...job, cancel, status: 'cancelled', finished_at: now.toISOString(), owner: null }
        : { ...job, cancel, ...(takesOver && { owner: newOwner(), updated_at: now.toISOString() }) };
      try {
        const saved = await this.deps.jobs.replace(changed, stored.etag);
        if (endsNow) await this.auditEnd(saved.job);
        if (takesOver) this.inBackground(saved);
        return saved.job;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError)) throw error;
      }
    }
    throw new ConflictError(
      `restore job '${jobId}' kept changing while it was being cancelled; try again`,
      'concurrent_modification',
    );
  }

  /**
   * Claims the unfinished jobs whose worker stopped saving them (a crash, a restart, a CLI that
   * was stopped) and works on them in the background; the ids claimed.
   */
  async resumeAbandoned(): Promise<string[]> {
    const claimed: string[] = [];
    const now = this.deps.clock();
    for (const stored of await this.deps.jobs.listUnfinished()) {
      if (!this.isAbandoned(stored.job, now)) continue;
      let mine: StoredRestoreJob;
      try {
        mine = await this.deps.jobs.replace(
          { ...stored.job, owner: newOwner(), updated_at: now.toISOString() },
          stored.etag,
        );
      } catch (error) {
        // Another worker claimed it first, or it was cancelled.
        if (error instanceof PreconditionFailedError || error instanceof NotFoundError) continue;
        throw error;
      }
      this.deps.logger.info({ jobId: mine.job.job_id }, 'resuming an abandoned restore job');
      this.inBackground(mine);
      claimed.push(mine.job.job_id);
    }
    return claimed;
  }

  /** Looks for abandoned jobs now and every `intervalMs` until `stop`. */
  watch(intervalMs: number): void {
    const look = (): void => {
      this.resumeAbandoned().catch((error: unknown) => {
        this.deps.logger.warn({ err: error }, 'could not look for abandoned restore jobs');
      });
    };
    look();
    this.watcher = setInterval(look, intervalMs);
    this.watcher.unref();
  }

  /** Stops at the next page or wait: each job is handed back unowned, for a restart to take at once. */
  async stop(): Promise<void> {
    clearInterval(this.watcher);
    this.stopping.abort();
    await this.inFlight.settled();
  }

  /** Ids of the jobs this process works on. */
  running(): string[] {
    return this.inFlight.ids();
  }

  private inBackground(stored: StoredRestoreJob): void {
    this.inFlight.track(
      `${stored.job.job_id} ${stored.job.owner?.claim ?? ''}`,
      this.drive(stored).catch((error: unknown) => {
        this.deps.logger.error({ err: error, jobId: stored.job.job_id }, 'restore job stopped');
      }),
    );
  }

  private stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  private isAbandoned(job: RestoreJob, now: Date): boolean {
    return job.owner === null || now.getTime() - Date.parse(job.updated_at) > this.timing.staleMs;
  }

  /**
   * The job's loop: a page at a time, a wait at a time, each step saved. A store that fails a step
   * is waited out and the step tried again; only an unexpected error ends the job `failed`.
   */
  private async drive(start: StoredRestoreJob, progress?: JobProgress): Promise<RestoreJob> {
    const owner = start.job.owner;
    if (!owner) return start.job;
    let current = start;
    const save = async (job: RestoreJob): Promise<RestoreJob> => {
      current = await this.saveOwned(current, job, owner);
      progress?.(current.job);
      return current.job;
    };
    const step: Step = { save, heartbeat: () => save(current.job) };
    let retryMs = this.timing.retryMs;
    let backoff = 0;
    for (;;) {
      try {
        if (backoff > 0) await this.pause(backoff, step);
        backoff = 0;
        const job = current.job;
        if (isFinished(job)) return job;
        if (this.stopped()) return await this.handBack(step, job);
        // A page in hand is done (again) first: it may hold a crashed attempt's work to settle.
        if (job.cancel && (!job.page || job.page.attempts > MAX_PAGE_ATTEMPTS))
          return await this.finish(step, unsettled(job), 'cancelled');
        if (job.status === 'waiting') await this.waitStep(step, job);
        else await this.pageStep(step, job);
        retryMs = this.timing.retryMs;
      } catch (error) {
        if (error instanceof JobLost) {
          this.deps.logger.warn({ jobId: start.job.job_id }, 'restore job taken over by another worker');
          return current.job;
        }
        if (this.stopped()) return this.handBack(step, current.job);
        if (isPassing(error)) {
          this.deps.logger.warn(
            { err: error, jobId: start.job.job_id, retryMs },
            'restore job: a store failed; trying the step again',
          );
          backoff = retryMs;
          retryMs = Math.min(retryMs * 2, this.timing.maxRetryMs);
          continue;
        }
        this.deps.logger.error({ err: error, jobId: start.job.job_id }, 'restore job failed');
        const problem =
          error instanceof DomainError
            ? `${error.code}: ${error.message}`
            : 'failed with an unexpected error';
        try {
          return await this.finish(step, withError(current.job, problem), 'failed');
        } catch (cannot) {
          if (cannot instanceof JobLost || isPassing(cannot)) return current.job;
          throw cannot;
        }
      }
    }
  }

  /** Saves the job unowned, for another worker to take at once; a failure leaves it to go stale. */
  private async handBack(step: Step, job: RestoreJob): Promise<RestoreJob> {
    try {
      return await step.save({ ...job, owner: null });
    } catch (error) {
      this.deps.logger.warn({ err: error, jobId: job.job_id }, 'restore job not handed back; it goes stale');
      return job;
    }
  }

  /** One page: the intent saved, then worked through, then the progress saved. */
  private async pageStep(step: Step, job: RestoreJob): Promise<void> {
    let inHand = job;
    const redo = inHand.page !== null;
    if (inHand.page) {
      inHand = await step.save({ ...inHand, page: { ...inHand.page, attempts: inHand.page.attempts + 1 } });
    } else {
      const next = await this.nextPage(inHand);
      if (!next) {
        await this.endPass(step, inHand);
        return;
      }
      inHand = await step.save({
        ...inHand,
        page: { ...next, at: this.deps.clock().toISOString(), attempts: 1 },
      });
    }
    const page = inHand.page;
    if (!page) return;
    const worked = await this.work(inHand, page, redo, step);
    await step.save({ ...worked, position: page.next, page: null });
  }

  /** The next page's ids with their entries' archival times, or undefined at the end of the pass. */
  private async nextPage(job: RestoreJob): Promise<Omit<PageInHand, 'at' | 'attempts'> | undefined> {
    const { position } = job;
    if ('done' in position) {
      const ids = (job.ids ?? []).slice(position.done, position.done + PAGE);
      if (ids.length === 0) return undefined;
      const entries = await this.deps.index.getMany(ids);
      return { ids, archived: archivedVersions(entries), next: { done: position.done + ids.length } };
    }
    const query = job.query ?? {};
    const entries = await this.deps.index.list({
      limit: PAGE,
      byCreation: { after: position.after ?? undefined },
      customerId: query.customer_id,
      createdFrom: query.created_from,
      createdBefore: query.created_to,
    });
    const last = entries.at(-1);
    if (!last) return undefined;
    const after: CreationKey = { createdAt: last.created_at, id: last.id };
    return { ids: entries.map((entry) => entry.id), archived: archivedVersions(entries), next: { after } };
  }

  /**
   * What a page's records come to. The first pass counts every record; a later pass restores what
   * is still archived outside the blobs still waiting, counting only what changes. On a page done
   * again (`redo`: the earlier attempt died or failed part way), a record live with a
   * `restored_at` since the page was taken in hand was made live by that attempt.
   */
  private async work(job: RestoreJob, page: PageInHand, redo: boolean, step: Step): Promise<RestoreJob> {
    const { ids } = page;
    // A cancelled job only settles what the page's earlier attempt did: it restores nothing new.
    const settleOnly = job.cancel !== null;
    const later = job.pass > 1;
    const waitingFor = new Set(job.waiting.map((blob) => blob.blob));
    const ready = new Set(job.ready);
    const givenUp = new Set(job.given_up);
    // A page a store failed again and again: what fails it now counts against its record.
    const lenient = page.attempts > MAX_PAGE_ATTEMPTS;
    const counts: RestoreCounts = { ...job.counts };
    let noted = job;
    const note = (id: string, reason: string): void => {
      this.deps.logger.warn({ jobId: job.job_id, recordId: id, reason }, 'restore job: a record to look at');
      noted = withError(noted, `record '${id}': ${reason}`);
    };
    const entries = await this.deps.index.getMany(ids);
    const live = new Map(
      (await liveRecordsAmong(this.deps.live, ids)).map((record) => [record.doc.id, record]),
    );
    // A record the index read missed and the live read too may have been archived in between:
    // the index is asked again before the record is called not found.
    const missed = ids.filter((id, i) => !entries[i] && !live.has(id));
    if (missed.length > 0) {
      const again = await this.deps.index.getMany(missed);
      missed.forEach((id, k) => {
        const entry = again[k];
        if (entry) entries[ids.indexOf(id)] = entry;
      });
    }
    const present = entries.filter((entry): entry is StoredEntry => entry !== undefined);
    const deleted = await this.deps.deletedAmong(present);
    const toRead: StoredEntry[] = [];
    /** Each record's outcome, and whether it was counted waiting (its blob just came back). */
    const outcomes: [Outcome, boolean][] = [];
    const counted = (entry: StoredEntry | undefined): boolean =>
      later && entry !== undefined && ready.has(entry.location.blob);
    for (const [i, id] of ids.entries()) {
      const indexed = entries[i];
      const entry = indexed && !deleted.has(id) ? indexed : undefined;
      const record = live.get(id);
      if (record) {
        outcomes.push([await this.alreadyLive(job, page, redo, record, entry, note), counted(entry)]);
        continue;
      }
      if (entry) toRead.push(entry);
      else if (job.ids && !later) counts.not_found++;
    }
    // A later pass leaves the blobs still waited for, and counts those given up once.
    const reading: StoredEntry[] = [];
    for (const entry of toRead) {
      const { blob } = entry.location;
      if (later && waitingFor.has(blob)) continue;
      if (later && givenUp.has(blob)) {
        if (ready.has(blob)) {
          outcomes.push(['failed', true]);
          note(
            entry.id,
            `its blob stayed in the Archive tier longer than RESTORE_MAX_WAIT_HOURS (${this.timing.maxWaitMs / 3_600_000})`,
          );
        }
        continue;
      }
      reading.push(entry);
    }
    if (settleOnly) {
      for (const [outcome, wasWaiting] of outcomes) tally(counts, outcome, wasWaiting);
      return { ...noted, counts };
    }
    const reads = await this.deps.reader.readMany(reading, { rehydrate: false });
    // Every read failing alike is the store out, not these records: waited out a while longer.
    const refused = reads.filter(isPassing);
    if (refused.length > 0 && refused.length === reads.length && page.attempts <= MAX_PAGE_ATTEMPTS * 3)
      throw refused[0] as Error;
    const offline = new Map<string, StoredEntry[]>();
    const toRestore: { entry: StoredEntry; read: VerifiedRecord }[] = [];
    for (const [i, entry] of reading.entries()) {
      const read = reads[i] as VerifiedRecord | Error;
      if (read instanceof ArchivedOfflineError) {
        const same = offline.get(entry.location.blob) ?? [];
        same.push(entry);
        offline.set(entry.location.blob, same);
        continue;
      }
      if (isPassing(read) && !lenient) throw read;
      if (read instanceof Error) {
        // A later pass counts only what came back: other failures were counted when first met.
        if (!later || ready.has(entry.location.blob)) {
          outcomes.push(['failed', counted(entry)]);
          note(entry.id, read.message);
        }
        continue;
      }
      if (!matchesStatus(read.doc, job.query)) {
        outcomes.push(['left', counted(entry)]);
        continue;
      }
      if (job.dry_run) {
        outcomes.push(['restored', counted(entry)]);
        continue;
      }
      toRestore.push({ entry, read });
    }
    // Records are independent: a few at once, and a heartbeat between batches.
    for (let from = 0; from < toRestore.length; from += RECORDS_PER_HEARTBEAT) {
      if (from > 0) await step.heartbeat();
      const batch = toRestore.slice(from, from + RECORDS_PER_HEARTBEAT);
      const restored = await pMap(batch, ({ entry, read }) => this.restoreOne(entry, read, job.query), {
        concurrency: RESTORES_AT_ONCE,
      });
      batch.forEach(({ entry }, k) => {
        const outcome = restored[k] as Awaited<ReturnType<BulkRestore['restoreOne']>>;
        if (typeof outcome === 'string') outcomes.push([outcome, counted(entry)]);
        else if ('offline' in outcome) {
          const same = offline.get(outcome.offline.location.blob) ?? [];
          same.push(outcome.offline);
          offline.set(outcome.offline.location.blob, same);
        } else {
          outcomes.push(['failed', counted(entry)]);
          note(entry.id, outcome.reason);
        }
      });
    }
    const { waiting, started } = await this.waitFor(job, offline, note);
    for (const [outcome, wasWaiting] of outcomes) tally(counts, outcome, wasWaiting);
    // Offline records count once, when the first pass meets them; a blob whose rehydration could
    // not be started (gone) counts its records failed.
    for (const [blob, same] of offline) {
      if (!started.has(blob)) {
        for (const entry of same) if (!later || counted(entry)) tally(counts, 'failed', counted(entry));
      } else if (!later) counts.rehydrating += same.length;
    }
    return { ...noted, counts, waiting };
  }

  /**
   * A record found live. On a page done again, one this page's earlier attempt made live counts
   * as restored: the entry a crash left beside it is withdrawn (unless it is a run's copy of the
   * live record itself), and where a delete withdrew the entry first, the copy made live is
   * deleted again, as `Restorer.bringBack` would have.
   */
  private async alreadyLive(
    job: RestoreJob,
    page: PageInHand,
    redo: boolean,
    record: StoredRecord,
    entry: StoredEntry | undefined,
    note: (id: string, reason: string) => void,
  ): Promise<Outcome> {
    if (!matchesStatus(record.doc, job.query)) return 'skip';
    const restoredMs = instantMs(record.doc.restored_at);
    const ours = redo && restoredMs !== undefined && restoredMs >= Date.parse(page.at);
    if (!ours) return job.pass > 1 ? 'skip' : 'already_live';
    if (job.dry_run) return 'restored';
    const id = record.doc.id;
    if (entry) {
      // The entry the crash left beside it, when it still holds the version the page restored, is
      // withdrawn (unless it changes meanwhile). Any other version stays: a run's copy of the
      // live record, archived since, or a version that must not be lost to an older one.
      if (entry.sha256 === page.archived[id]?.sha256) await withdrawUnlessChanged(this.deps.index, entry);
      return 'restored';
    }
    // A delete that withdrew the entry before the attempt could, and was answered, won: the
    // copy the attempt made live is deleted again. A note alone may be a delete that failed.
    const archivedAt = page.archived[id]?.archived_at;
    const confirmedAt = await this.deps.deletions.confirmedAt(id);
    if (archivedAt !== undefined && confirmedAt !== undefined && confirmedAt >= archivedAt) {
      try {
        await this.deps.live.delete(id, record.etag);
        return 'left';
      } catch (error) {
        // Changed by a client since: that version stands.
        if (!(error instanceof PreconditionFailedError || error instanceof NotFoundError)) throw error;
      }
    } else if (archivedAt !== undefined) {
      // Noted and never confirmed: a delete that failed, or one whose confirmation was lost. The
      // record stays live; someone should look.
      const deletedAt = await this.deps.deletions.deletedAt(id);
      const since = new Date(Date.parse(archivedAt) - DELETE_IN_FLIGHT_MS).toISOString();
      if (deletedAt !== undefined && deletedAt >= since)
        note(
          id,
          'restored, though a delete of it was noted and never confirmed: check whether it was meant to go',
        );
    }
    return 'restored';
  }

  /**
   * Makes one record live as archived plus `restored_at`. A record whose entry changed under the
   * job (archived again since, or put back by a retention sweep that met a hold) is looked up
   * again as the page looked it up, a few times at most.
   */
  private async restoreOne(
    entry: StoredEntry,
    read: VerifiedRecord,
    query: RestoreQuery | null,
  ): Promise<Outcome | { reason: string } | { offline: StoredEntry }> {
    let current = entry;
    let doc = read.doc;
    for (let attempt = 0; attempt < RESTORE_ATTEMPTS; attempt++) {
      const outcome = await this.deps.restorer.bringBack(current, {
        ...doc,
        restored_at: this.deps.clock().toISOString(),
      });
      if (outcome.kind === 'live') return 'restored';
      if (outcome.kind === 'already-live') return 'already_live';
      const fresh = await this.deps.index.get(entry.id);
      if (!fresh || (await this.deps.deletedAmong([fresh])).has(fresh.id)) return 'left';
      if (await this.deps.live.get(entry.id)) return 'already_live';
      try {
        doc = (await this.deps.reader.readRecord(fresh, { rehydrate: false })).doc;
      } catch (error) {
        if (error instanceof ArchivedOfflineError) return { offline: fresh };
        if (isPassing(error) || !(error instanceof DomainError)) throw error;
        return { reason: error.message };
      }
      if (!matchesStatus(doc, query)) return 'left';
      current = fresh;
    }
    return { reason: 'its archived version kept changing while it was being restored' };
  }

  /**
   * Starts one rehydration per blob the page met offline (a dry run only notes the blob), up to
   * MAX_WAITING_BLOBS waited for at once; the blobs the job now waits for, and those whose
   * rehydration is under way (or, past the cap, will be in a later pass).
   */
  private async waitFor(
    job: RestoreJob,
    offline: Map<string, StoredEntry[]>,
    note: (id: string, reason: string) => void,
  ): Promise<{ waiting: WaitingBlob[]; started: Set<string> }> {
    const waiting = [...job.waiting];
    const known = new Set(waiting.map((blob) => blob.blob));
    const started = new Set<string>();
    const since = this.deps.clock().toISOString();
    for (const [blob, same] of offline) {
      if (known.has(blob)) {
        started.add(blob);
        continue;
      }
      if (waiting.length >= MAX_WAITING_BLOBS) {
        started.add(blob);
        continue;
      }
      if (!job.dry_run) {
        const problem = await this.rehydrate(blob);
        if (problem !== undefined) {
          for (const entry of same) note(entry.id, problem);
          continue;
        }
      }
      started.add(blob);
      known.add(blob);
      waiting.push({ blob, since });
    }
    return { waiting, started };
  }

  /**
   * Starts the blob's rehydration with a one-byte read (an Azure Copy Blob, create-only): why it
   * could not, or undefined when it is under way (or the blob is online already).
   */
  private async rehydrate(blob: string): Promise<string | undefined> {
    try {
      await this.deps.store.get(blob, { offset: 0, length: 1 }, { rehydrate: true });
    } catch (error) {
      if (error instanceof ArchivedOfflineError) return undefined;
      if (isPassing(error) || !(error instanceof DomainError)) throw error;
      return error.message;
    }
    return undefined;
  }

  /** The end of a pass: done, or waiting for the blobs still offline. */
  private async endPass(step: Step, job: RestoreJob): Promise<void> {
    if (job.dry_run || job.waiting.length === 0) {
      await this.finish(step, job, 'succeeded');
      return;
    }
    const next = this.deps.clock().getTime() + this.timing.rehydrationPollMs;
    await step.save({ ...job, status: 'waiting', ready: [], next_check_at: new Date(next).toISOString() });
  }

  /**
   * A waiting job: until its next check, heartbeats; then a one-byte read of each blob it waits
   * for. Blobs back online, or waited for past the longest wait, start the next pass.
   */
  private async waitStep(step: Step, job: RestoreJob): Promise<void> {
    const now = this.deps.clock().getTime();
    const due = job.next_check_at === null ? now : Date.parse(job.next_check_at);
    if (due > now) {
      await this.pause(due - now, step);
      return;
    }
    const waiting: WaitingBlob[] = [];
    const ready: string[] = [];
    const givenUp: string[] = [];
    for (const [k, blob] of job.waiting.entries()) {
      if (k > 0 && k % PROBES_PER_HEARTBEAT === 0) await step.heartbeat();
      if (now - Date.parse(blob.since) > this.timing.maxWaitMs) {
        givenUp.push(blob.blob);
        continue;
      }
      if (await this.isOnline(blob.blob)) ready.push(blob.blob);
      else waiting.push(blob);
    }
    const nextCheck = new Date(this.deps.clock().getTime() + this.timing.rehydrationPollMs).toISOString();
    if (ready.length === 0 && givenUp.length === 0) {
      await step.save({ ...job, waiting, next_check_at: nextCheck });
      return;
    }
    await step.save({
      ...job,
      status: 'running',
      pass: job.pass + 1,
      waiting,
      ready: [...ready, ...givenUp],
      given_up: [...job.given_up, ...givenUp],
      next_check_at: null,
      position: job.ids ? { done: 0 } : { after: null },
    });
  }

  /**
   * Whether a waited-for blob reads now. A blob gone or damaged counts as back: the pass meets
   * its records and counts them failed. A rehydration no longer under way is started again.
   */
  private async isOnline(blob: string): Promise<boolean> {
    try {
      await this.deps.store.get(blob, { offset: 0, length: 1 }, { rehydrate: false });
      return true;
    } catch (error) {
      if (isPassing(error)) return false;
      if (!(error instanceof ArchivedOfflineError)) return true;
      if (!error.rehydrating) return (await this.rehydrate(blob)) !== undefined;
      return false;
    }
  }

  /**
   * Waits `ms`, saving the job every heartbeat so nobody takes it for abandoned; ends early when
   * the process stops or the job is cancelled. A heartbeat a store fails is skipped.
   */
  private async pause(ms: number, step: Step): Promise<void> {
    const until = this.deps.clock().getTime() + ms;
    for (;;) {
      const left = until - this.deps.clock().getTime();
      if (left <= 0 || this.stopped()) return;
      await this.sleepUnlessStopped(Math.min(left, this.timing.heartbeatMs));
      if (this.stopped()) return;
      try {
        if ((await step.heartbeat()).cancel) return;
      } catch (error) {
        if (!isPassing(error)) throw error;
        this.deps.logger.warn({ err: error }, 'restore job: a heartbeat could not be saved');
      }
    }
  }

  private async sleepUnlessStopped(ms: number): Promise<void> {
    const { signal } = this.stopping;
    let wake: (() => void) | undefined;
    const stopped = new Promise<void>((resolve) => {
      wake = () => {
        resolve();
      };
      signal.addEventListener('abort', wake, { once: true });
    });
    try {
      await Promise.race([this.deps.sleep(ms), stopped]);
    } finally {
      if (wake) signal.removeEventListener('abort', wake);
    }
  }

  private async finish(
    step: Step,
    job: RestoreJob,
    status: 'succeeded' | 'failed' | 'cancelled',
  ): Promise<RestoreJob> {
    const ended = await step.save({
      ...job,
      status,
      finished_at: this.deps.clock().toISOString(),
      page: null,
      next_check_at: null,
      // What still waits when a job ends was restored or deleted by others meanwhile.
      counts: status === 'succeeded' && !job.dry_run ? { ...job.counts, rehydrating: 0 } : job.counts,
    });
    await this.auditEnd(ended);
    return ended;
  }

  private async auditEnd(job: RestoreJob): Promise<void> {
    await this.deps.audit.record({
      actor: job.cancel?.by ?? job.created_by,
      action: 'restore.job.end',
      outcome: job.status === 'failed' ? 'failed' : 'succeeded',
      run_id: job.job_id,
      detail: `${job.status}: ${describeCounts(job)}`,
    });
  }

  /**
   * Saves the job as this worker's (unowned once it ends or is handed back): on a conflict, takes
   * what others may change (a cancel) and saves again; JobLost when another worker claimed it,
   * or it ended or went.
   */
  private async saveOwned(
    current: StoredRestoreJob,
    job: RestoreJob,
    owner: JobOwner,
  ): Promise<StoredRestoreJob> {
    let etag = current.etag;
    let next: RestoreJob = {
      ...job,
      updated_at: this.deps.clock().toISOString(),
      owner: isFinished(job) || job.owner === null ? null : owner,
      // A cancel is never taken back: one a heartbeat learned stays, whatever copy is saved.
      cancel: job.cancel ?? current.job.cancel,
    };
    for (let round = 0; round < SAVE_ROUNDS; round++) {
      try {
        return await this.deps.jobs.replace(next, etag);
      } catch (error) {
        if (!(error instanceof PreconditionFailedError || error instanceof NotFoundError)) throw error;
      }
      const now = await this.deps.jobs.get(job.job_id);
      if (!now || now.job.owner?.claim !== owner.claim || isFinished(now.job)) throw new JobLost();
      etag = now.etag;
      next = { ...next, cancel: now.job.cancel };
    }
    throw new JobLost();
  }
}

/** A cancelled job whose page in hand could not be settled: the page dropped, its ids noted. */
function unsettled(job: RestoreJob): RestoreJob {
  if (!job.page) return job;
  const ids = job.page.ids;
  return withError(
    { ...job, page: null },
    `cancelled with a page a store kept failing: ${ids.length} records from '${ids[0] ?? ''}' were not settled; verify them`,
  );
}

function newOwner(): JobOwner {
  return { claim: randomUUID(), host: hostname(), pid: process.pid };
}

/**
 * Adds one record's outcome to the counts; a record counted waiting (its blob just came back)
 * leaves `rehydrating`, never below zero.
 */
function tally(counts: RestoreCounts, outcome: Outcome, wasWaiting: boolean): void {
  if (outcome === 'skip') return;
  if (outcome !== 'left') counts[outcome]++;
  if (wasWaiting) counts.rehydrating = Math.max(0, counts.rehydrating - 1);
}

function archivedVersions(entries: readonly (StoredEntry | undefined)[]): PageInHand['archived'] {
  const versions: PageInHand['archived'] = {};
  for (const entry of entries)
    if (entry) versions[entry.id] = { archived_at: entry.archived_at, sha256: entry.sha256 };
  return versions;
}

/** Store failures a job waits out and tries again, rather than ending. */
function isPassing(error: unknown): error is StoreUnavailableError | IndexRebuildingError {
  return error instanceof StoreUnavailableError || error instanceof IndexRebuildingError;
}

function matchesStatus(doc: RecordDocument, query: RestoreQuery | null): boolean {
  return query?.status === undefined || doc.status === query.status;
}
