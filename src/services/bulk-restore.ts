import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { isValidRecordId, RECORD_STATUSES, type RecordDocument } from '../domain/billing-record.js';
import { compareText, type CreationKey } from '../domain/creation-order.js';
import {
  ArchivedOfflineError,
  ConflictError,
  DomainError,
  IndexRebuildingError,
  NotFoundError,
  PreconditionFailedError,
  StoreUnavailableError,
  ValidationError,
} from '../domain/errors.js';
import { instantMs } from '../domain/record-times.js';
import { isFinished, MAX_JOB_IDS, newRestoreJob, withError } from '../domain/restore-jobs.js';
import { timeBound } from '../domain/time-bounds.js';
import {
  allEntriesIn,
  withdrawUnlessChanged,
  withoutEtag,
  type ArchiveIndex,
  type StoredEntry,
} from '../ports/archive-index.js';
import { liveRecordsAmong, type LiveStore } from '../ports/live-store.js';
import type {
  JobOwner,
  JobPosition,
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
import { InFlight } from './in-flight.js';
import type { Restorer } from './restorer.js';

/** Records a job takes at once: one intent, one look at both stores, one save. */
const PAGE = 100;

/** Rounds of saving a job while others keep changing it (cancels), before giving up. */
const SAVE_ROUNDS = 5;

export interface JobTiming {
  /** How often an owner saves its job while it waits: the sign it is alive. */
  heartbeatMs: number;
  /** How long after its last save a job is taken for abandoned and may be claimed. */
  staleMs: number;
  /** How often a waiting job looks at its Archive-tier blobs. */
  rehydrationPollMs: number;
  /** The first wait after a store failed a page; it doubles up to `maxRetryMs`. */
  retryMs: number;
  maxRetryMs: number;
}

const DEFAULT_TIMING: JobTiming = {
  heartbeatMs: 30_000,
  staleMs: 120_000,
  rehydrationPollMs: 600_000,
  retryMs: 5_000,
  maxRetryMs: 300_000,
};

export interface BulkRestoreDeps {
  live: LiveStore;
  index: ArchiveIndex;
  reader: ArchiveReader;
  restorer: Restorer;
  deletedAmong: DeletedDuringRuns;
  jobs: RestoreJobs;
  audit: AuditLog;
  clock: Clock;
  sleep: Sleep;
  logger: Logger;
  timing?: Partial<JobTiming>;
}

/** What a caller asks for: a query or a list of ids, never both. */
export interface RestoreRequest {
  query?: RestoreQuery | undefined;
  ids?: readonly string[] | undefined;
  dryRun?: boolean | undefined;
  /** Who asks, as the audit trail names them. */
  by: string;
  requestId?: string | undefined;
  client?: string | undefined;
}

/** Told after every page a job saves: the job as saved. */
export type JobProgress = (job: RestoreJob) => void;

/** How a step saves the job it works on: with changes, or as it is (a heartbeat). */
interface Step {
  save(job: RestoreJob): Promise<RestoreJob>;
  heartbeat(): Promise<RestoreJob>;
}

/** The job changed hands (claimed by another process) or went: this process stops working on it. */
class JobLost extends Error {}

/**
 * Bulk restore jobs: a query's or a list's archived records made live page by page, each page
 * saved as an intent before it is touched and as progress after, so a job survives a crash and
 * goes on in whichever process claims it. Records are made live through `Restorer.bringBack`
 * (live copy first, create-only), so none is restored twice or lost. Archive-tier records start
 * one rehydration per blob; the job waits for them and restores them in later passes.
 */
export class BulkRestore {
  private readonly owner: JobOwner = { instance: randomUUID(), host: hostname(), pid: process.pid };
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
      owner: this.owner,
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

  /** Works on an owned job until it ends, this process stops or another process takes it. */
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
   * Cancels a job: its owner stops before its next page (what it restored stays live); a job
   * nobody works on ends at once. ConflictError `job_finished` once it has ended.
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
      const changed: RestoreJob = this.isAbandoned(job, now)
        ? { ...job, cancel, status: 'cancelled', finished_at: now.toISOString(), owner: null, page: null }
        : { ...job, cancel };
      try {
        return (await this.deps.jobs.replace(changed, stored.etag)).job;
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
   * Claims the unfinished jobs whose owner stopped saving them (a crash, a restart, a CLI that was
   * stopped) and works on them in the background; the ids claimed.
   */
  async resumeAbandoned(): Promise<string[]> {
    const claimed: string[] = [];
    const now = this.deps.clock();
    for (const stored of await this.deps.jobs.listUnfinished()) {
      if (this.inFlight.ids().includes(stored.job.job_id)) continue;
      if (stored.job.owner?.instance !== this.owner.instance && !this.isAbandoned(stored.job, now)) continue;
      let mine: StoredRestoreJob;
      try {
        mine = await this.deps.jobs.replace(
          { ...stored.job, owner: this.owner, updated_at: now.toISOString() },
          stored.etag,
        );
      } catch (error) {
        // Another process claimed it first, or it was cancelled.
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
      stored.job.job_id,
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

  /** The job's loop: a page at a time, a wait at a time, each step saved. */
  private async drive(start: StoredRestoreJob, progress?: JobProgress): Promise<RestoreJob> {
    let current = start;
    const save = async (job: RestoreJob): Promise<RestoreJob> => {
      current = await this.saveOwned(current, job);
      progress?.(current.job);
      return current.job;
    };
    const step: Step = { save, heartbeat: () => save(current.job) };
    let retryMs = this.timing.retryMs;
    try {
      for (;;) {
        const job = current.job;
        if (isFinished(job)) return job;
        if (this.stopped()) return await save({ ...job, owner: null });
        if (job.cancel) return await this.finish(step, job, 'cancelled');
        try {
          if (job.status === 'waiting') await this.waitStep(step, job);
          else await this.pageStep(step, job);
          retryMs = this.timing.retryMs;
        } catch (error) {
          if (!isPassing(error)) throw error;
          this.deps.logger.warn(
            { err: error, jobId: job.job_id, retryMs },
            'restore job: a store failed; trying the step again',
          );
          await this.pause(retryMs, step);
          retryMs = Math.min(retryMs * 2, this.timing.maxRetryMs);
        }
      }
    } catch (error) {
      if (error instanceof JobLost) {
        this.deps.logger.warn({ jobId: start.job.job_id }, 'restore job taken over by another process');
        return (await this.deps.jobs.get(start.job.job_id))?.job ?? current.job;
      }
      this.deps.logger.error({ err: error, jobId: start.job.job_id }, 'restore job failed');
      const problem =
        error instanceof DomainError ? `${error.code}: ${error.message}` : 'failed with an unexpected error';
      return this.finish(step, withError(current.job, problem), 'failed');
    }
  }

  /** One page: the intent saved, then worked through, then the progress saved. */
  private async pageStep(step: Step, job: RestoreJob): Promise<void> {
    let inHand = job;
    if (!inHand.page) {
      const next = await this.nextPage(inHand);
      if (!next) {
        await this.endPass(step, inHand);
        return;
      }
      inHand = await step.save({ ...inHand, page: { ...next, at: this.deps.clock().toISOString() } });
    }
    const page = inHand.page;
    if (!page) return;
    const worked = await this.work(inHand, page.ids, page.at);
    await step.save({
      ...worked,
      status: 'running',
      position: page.next,
      page: null,
    });
  }

  /** The next page's ids and where the one after starts, or undefined at the end of the pass. */
  private async nextPage(job: RestoreJob): Promise<{ ids: string[]; next: JobPosition } | undefined> {
    const { position } = job;
    if ('done' in position) {
      const ids = (job.ids ?? []).slice(position.done, position.done + PAGE);
      return ids.length === 0 ? undefined : { ids, next: { done: position.done + ids.length } };
    }
    const query = job.query ?? {};
    if ('after' in position) {
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
      return { ids: entries.map((entry) => entry.id), next: { after } };
    }
    // A later pass: the entries of each blob back from the Archive tier that match the query.
    for (let blob = position.blob; blob < job.ready.length; blob++) {
      const name = job.ready[blob] as string;
      const afterId = blob === position.blob ? position.after_id : null;
      const ids = (await allEntriesIn(this.deps.index, name))
        .filter(
          (entry) => matchesQuery(entry, query) && (afterId === null || compareText(entry.id, afterId) > 0),
        )
        .map((entry) => entry.id)
        .sort(compareText)
        .slice(0, PAGE);
      const last = ids.at(-1);
      if (last !== undefined) return { ids, next: { blob, after_id: last } };
    }
    return undefined;
  }

  /**
   * What a page's records come to, restored where they are archived and not live. `at` is when
   * the page was taken in hand: a record live with a `restored_at` since was restored by this
   * page's earlier attempt, cut off by a crash, and is counted restored (its entry withdrawn
   * if the crash came before that).
   */
  private async work(job: RestoreJob, ids: readonly string[], at: string): Promise<RestoreJob> {
    const later = job.pass > 1;
    const ready = new Set(job.ready);
    const counts: RestoreCounts = { ...job.counts };
    let problems = job;
    const fail = (id: string, error: unknown): void => {
      counts.failed++;
      if (later) counts.rehydrating--;
      const reason = error instanceof Error ? error.message : String(error);
      problems = withError(problems, `record '${id}': ${reason}`);
    };
    const found = await this.deps.index.getMany(ids);
    const present = found.filter((entry): entry is StoredEntry => entry !== undefined);
    const deleted = await this.deps.deletedAmong(present);
    const live = new Map(
      (await liveRecordsAmong(this.deps.live, ids)).map((record) => [record.doc.id, record]),
    );
    const atMs = Date.parse(at);
    const toRead: StoredEntry[] = [];
    for (const [i, id] of ids.entries()) {
      const indexed = found[i];
      const entry = indexed && !deleted.has(id) ? indexed : undefined;
      // A later pass takes only records of blobs back from the Archive tier.
      if (later && (!entry || !ready.has(entry.location.blob))) continue;
      const record = live.get(id);
      if (record) {
        if (!matchesStatus(record.doc, job.query)) continue;
        const restoredMs = instantMs(record.doc.restored_at);
        const ours = restoredMs !== undefined && restoredMs >= atMs;
        if (ours) {
          if (entry && !job.dry_run && Date.parse(entry.archived_at) <= restoredMs)
            await withdrawUnlessChanged(this.deps.index, entry);
          counts.restored++;
          if (later) counts.rehydrating--;
        } else if (!later) counts.already_live++;
        continue;
      }
      if (entry) toRead.push(entry);
      else if (job.ids) counts.not_found++;
    }
    const reads = await this.deps.reader.readMany(toRead, { rehydrate: false });
    const offline = new Map<string, StoredEntry[]>();
    for (const [i, entry] of toRead.entries()) {
      const read = reads[i] as VerifiedRecord | Error;
      if (read instanceof ArchivedOfflineError) {
        const same = offline.get(entry.location.blob) ?? [];
        same.push(entry);
        offline.set(entry.location.blob, same);
        continue;
      }
      if (isPassing(read)) throw read;
      if (read instanceof Error) {
        fail(entry.id, read);
        continue;
      }
      if (!matchesStatus(read.doc, job.query)) {
        if (later) counts.rehydrating--;
        continue;
      }
      if (job.dry_run) {
        counts.restored++;
        continue;
      }
      const outcome = await this.restoreOne(entry, read.doc).catch((error: unknown) => {
        if (isPassing(error) || !(error instanceof DomainError)) throw error;
        return error;
      });
      if (outcome instanceof DomainError) fail(entry.id, outcome);
      else if (outcome === 'deleted') {
        if (later) counts.rehydrating--;
      } else {
        counts[outcome]++;
        if (later) counts.rehydrating--;
      }
    }
    const waiting = await this.startRehydrations(job, offline);
    // A later pass found these offline again: they were counted waiting already.
    if (!later) for (const same of offline.values()) counts.rehydrating += same.length;
    return { ...problems, counts, waiting };
  }

  private async restoreOne(
    entry: StoredEntry,
    doc: RecordDocument,
  ): Promise<'restored' | 'already_live' | 'deleted'> {
    const outcome = await this.deps.restorer.bringBack(entry, {
      ...doc,
      restored_at: this.deps.clock().toISOString(),
    });
    switch (outcome.kind) {
      case 'live':
        return 'restored';
      case 'already-live':
        return 'already_live';
      case 'deleted':
        return 'deleted';
    }
  }

  /**
   * Starts one rehydration per blob the page met offline (a dry run starts none) and notes the
   * blobs the job now waits for.
   */
  private async startRehydrations(
    job: RestoreJob,
    offline: Map<string, StoredEntry[]>,
  ): Promise<WaitingBlob[]> {
    const waiting = [...job.waiting];
    const known = new Set(waiting.map((blob) => blob.blob));
    for (const [blob, same] of offline) {
      const first = same[0] as StoredEntry;
      if (known.has(blob)) continue;
      known.add(blob);
      if (job.dry_run) continue;
      await this.rehydrate(first);
      waiting.push({ blob, probe: withoutEtag(first) });
    }
    return waiting;
  }

  /** Starts the blob's rehydration by reading one of its records (an Azure Copy Blob, create-only). */
  private async rehydrate(entry: StoredEntry | WaitingBlob['probe']): Promise<void> {
    try {
      await this.deps.reader.readBytes(entry, { rehydrate: true });
    } catch (error) {
      if (!(error instanceof ArchivedOfflineError)) throw error;
    }
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
   * A waiting job: until its next check, one heartbeat; then one read of each blob it waits for.
   * Blobs back online start the next pass.
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
    for (const blob of job.waiting) {
      try {
        await this.deps.reader.readBytes(blob.probe, { rehydrate: false });
        ready.push(blob.blob);
      } catch (error) {
        if (error instanceof ArchivedOfflineError) {
          // Nothing under way (a copy expired or was removed): start it again.
          if (!error.rehydrating) await this.rehydrate(blob.probe);
          waiting.push(blob);
        } else if (isPassing(error)) waiting.push(blob);
        // Gone or damaged: the pass counts its records as failed.
        else ready.push(blob.blob);
      }
    }
    const nextCheck = new Date(this.deps.clock().getTime() + this.timing.rehydrationPollMs).toISOString();
    if (ready.length === 0) {
      await step.save({ ...job, waiting, next_check_at: nextCheck });
      return;
    }
    await step.save({
      ...job,
      status: 'running',
      pass: job.pass + 1,
      waiting,
      ready,
      next_check_at: null,
      position: job.ids ? { done: 0 } : { blob: 0, after_id: null },
    });
  }

  /**
   * Waits `ms`, saving the job every heartbeat so nobody takes it for abandoned; ends early when
   * the process stops or the job is cancelled.
   */
  private async pause(ms: number, step: Step): Promise<void> {
    const until = this.deps.clock().getTime() + ms;
    for (;;) {
      const left = until - this.deps.clock().getTime();
      if (left <= 0 || this.stopped()) return;
      await Promise.race([
        this.deps.sleep(Math.min(left, this.timing.heartbeatMs)),
        new Promise((resolve) => {
          this.stopping.signal.addEventListener('abort', resolve, { once: true });
        }),
      ]);
      if (this.stopped() || (await step.heartbeat()).cancel) return;
    }
  }

  private async finish(
    step: Step,
    job: RestoreJob,
    status: 'succeeded' | 'failed' | 'cancelled',
  ): Promise<RestoreJob> {
    const now = this.deps.clock().toISOString();
    const ended = await step.save({
      ...job,
      status,
      finished_at: now,
      owner: null,
      page: null,
      next_check_at: null,
      // What still waits when a job ends was restored or deleted by others meanwhile.
      counts:
        status === 'succeeded'
          ? { ...job.counts, rehydrating: job.dry_run ? job.counts.rehydrating : 0 }
          : job.counts,
    });
    await this.deps.audit.record({
      actor: job.cancel?.by ?? job.created_by,
      action: 'restore.job.end',
      outcome: status === 'failed' ? 'failed' : 'succeeded',
      run_id: job.job_id,
      detail: `${status}: ${describeCounts(ended)}`,
    });
    return ended;
  }

  /**
   * Saves the job as this process's: on a conflict, takes what others may change (a cancel) and
   * saves again; JobLost when another process owns it now or it is gone.
   */
  private async saveOwned(current: StoredRestoreJob, job: RestoreJob): Promise<StoredRestoreJob> {
    let etag = current.etag;
    let next: RestoreJob = {
      ...job,
      updated_at: this.deps.clock().toISOString(),
      owner: isFinished(job) || job.owner === null ? null : this.owner,
    };
    for (let round = 0; round < SAVE_ROUNDS; round++) {
      try {
        return await this.deps.jobs.replace(next, etag);
      } catch (error) {
        if (!(error instanceof PreconditionFailedError || error instanceof NotFoundError)) throw error;
      }
      const now = await this.deps.jobs.get(job.job_id);
      if (!now || now.job.owner?.instance !== this.owner.instance || isFinished(now.job)) throw new JobLost();
      etag = now.etag;
      next = { ...next, cancel: now.job.cancel };
    }
    throw new JobLost();
  }
}

/** Store failures a job waits out and tries again, rather than ending. */
function isPassing(error: unknown): error is StoreUnavailableError | IndexRebuildingError {
  return error instanceof StoreUnavailableError || error instanceof IndexRebuildingError;
}

function matchesStatus(doc: RecordDocument, query: RestoreQuery | null): boolean {
  return query?.status === undefined || doc.status === query.status;
}

function matchesQuery(entry: StoredEntry, query: RestoreQuery): boolean {
  return (
    (query.customer_id === undefined || entry.customer_id === query.customer_id) &&
    (query.created_from === undefined || compareText(entry.created_at, query.created_from) >= 0) &&
    (query.created_to === undefined || compareText(entry.created_at, query.created_to) < 0)
  );
}

/** The query or ids a request names, checked: ValidationError with one sentence per problem. */
export function restoreTarget(request: RestoreRequest): { query: RestoreQuery | null; ids: string[] | null } {
  const problems: string[] = [];
  const { query, ids } = request;
  const filters = query && Object.values(query).some((value) => value !== undefined);
  if (ids !== undefined && filters) problems.push('give either ids or query filters, not both');
  if (ids !== undefined) {
    if (ids.length === 0) problems.push('ids must name at least one record');
    if (ids.length > MAX_JOB_IDS)
      problems.push(
        `ids may name at most ${MAX_JOB_IDS} records; restore more with a query or in several jobs`,
      );
    const bad = ids.find((id) => !isValidRecordId(id));
    if (bad !== undefined) problems.push(`ids holds '${bad.slice(0, 64)}', which is no record id`);
    if (problems.length > 0) throw new ValidationError(problems);
    return { query: null, ids: [...new Set(ids)] };
  }
  if (!filters)
    problems.push(
      'give ids, or at least one of customer_id, created_from, created_to and status: a job never restores the whole archive',
    );
  const createdFrom = timeBound('created_from', query?.created_from, problems);
  const createdTo = timeBound('created_to', query?.created_to, problems);
  if (createdFrom !== undefined && createdTo !== undefined && createdFrom >= createdTo)
    problems.push('created_from must be before created_to');
  if (query?.status !== undefined && !(RECORD_STATUSES as readonly string[]).includes(query.status))
    problems.push(`status must be one of ${RECORD_STATUSES.join(', ')}`);
  if (query?.customer_id !== undefined && query.customer_id.length === 0)
    problems.push('customer_id must not be empty');
  if (problems.length > 0) throw new ValidationError(problems);
  return {
    query: {
      customer_id: query?.customer_id,
      created_from: createdFrom,
      created_to: createdTo,
      status: query?.status,
    },
    ids: null,
  };
}

function describeTarget(job: RestoreJob): string {
  const what = job.ids
    ? `${job.ids.length} ids`
    : Object.entries(job.query ?? {})
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) => `${key}=${String(value)}`)
        .join(' ');
  return `${job.dry_run ? 'dry run: ' : ''}${what}`;
}

function describeCounts(job: RestoreJob): string {
  const c = job.counts;
  return `restored ${c.restored}, already live ${c.already_live}, rehydrating ${c.rehydrating}, failed ${c.failed}, not found ${c.not_found}`;
}
