import type { RestoreJob, RestoreQuery } from '../ports/restore-jobs.js';
import { isValidRecordId, RECORD_STATUSES } from './billing-record.js';
import { ValidationError } from './errors.js';
import { timeBound } from './time-bounds.js';

/** How many ids one job may be given: more go in a query, or in several jobs. */
export const MAX_JOB_IDS = 1000;

/** The first problems a job keeps, so its record stays small however many records fail. */
export const MAX_JOB_ERRORS = 20;

/** What a new job is made of. */
export interface NewRestoreJob {
  job_id: string;
  dry_run: boolean;
  query: RestoreQuery | null;
  ids: string[] | null;
  created_at: string;
  created_by: string;
}

/** A job as stored when it is asked for: nobody works on it yet, every count at zero. */
export function newRestoreJob(job: NewRestoreJob): RestoreJob {
  return {
    ...job,
    status: 'running',
    updated_at: job.created_at,
    finished_at: null,
    pass: 1,
    position: job.ids ? { done: 0 } : { after: null },
    page: null,
    counts: { restored: 0, already_live: 0, rehydrating: 0, failed: 0, not_found: 0 },
    waiting: [],
    ready: [],
    given_up: [],
    next_check_at: null,
    owner: null,
    cancel: null,
    errors: [],
  };
}

/** Whether the job has ended: it never runs again. */
export function isFinished(job: RestoreJob): boolean {
  return job.status !== 'running' && job.status !== 'waiting';
}

/** The job with one more problem noted, the first MAX_JOB_ERRORS kept. */
export function withError(job: RestoreJob, problem: string): RestoreJob {
  return job.errors.length >= MAX_JOB_ERRORS ? job : { ...job, errors: [...job.errors, problem] };
}

/** What a caller names: a query or a list of ids, never both. */
export interface RestoreTargetInput {
  query?: RestoreQuery | undefined;
  ids?: readonly string[] | undefined;
}

/**
 * The query or ids a request names, checked: ValidationError with one sentence per problem. A
 * query needs a customer or both ends of a creation range, so no job restores (or, in the Archive
 * tier, rehydrates) the whole archive by accident.
 */
export function restoreTarget(request: RestoreTargetInput): {
  query: RestoreQuery | null;
  ids: string[] | null;
} {
  const problems: string[] = [];
  const { query, ids } = request;
  const filters = query !== undefined && Object.values(query).some((value) => value !== undefined);
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
  const createdFrom = timeBound('created_from', query?.created_from, problems);
  const createdTo = timeBound('created_to', query?.created_to, problems);
  if (createdFrom !== undefined && createdTo !== undefined && createdFrom >= createdTo)
    problems.push('created_from must be before created_to');
  if (query?.status !== undefined && !(RECORD_STATUSES as readonly string[]).includes(query.status))
    problems.push(`status must be one of ${RECORD_STATUSES.join(', ')}`);
  if (query?.customer_id !== undefined && query.customer_id.length === 0)
    problems.push('customer_id must not be empty');
  if (
    query?.customer_id === undefined &&
    (query?.created_from === undefined || query.created_to === undefined)
  )
    problems.push(
      'give ids, a customer_id, or both created_from and created_to: a job never restores the whole archive',
    );
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

/** What the job asked for, in one line (the audit trail's detail). */
export function describeTarget(job: RestoreJob): string {
  const what = job.ids
    ? `${job.ids.length} ids`
    : Object.entries(job.query ?? {})
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) => `${key}=${String(value)}`)
        .join(' ');
  return `${job.dry_run ? 'dry run: ' : ''}${what}`;
}

/** The job's counts, in one line (the audit trail's detail, the CLI's progress). */
export function describeCounts(job: RestoreJob): string {
  const c = job.counts;
  return `restored ${c.restored}, already live ${c.already_live}, rehydrating ${c.rehydrating}, failed ${c.failed}, not found ${c.not_found}`;
}
