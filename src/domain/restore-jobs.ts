import type { RestoreJob, RestoreQuery } from '../ports/restore-jobs.js';

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
