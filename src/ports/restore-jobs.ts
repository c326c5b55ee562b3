import type { CreationKey } from '../domain/creation-order.js';

/**
 * `running` while it pages; `waiting` while it waits for Archive-tier blobs to rehydrate; then
 * `succeeded` (every record it found is counted), `failed` (an error it could not get past) or
 * `cancelled`.
 */
export type RestoreJobStatus = 'running' | 'waiting' | 'succeeded' | 'failed' | 'cancelled';

/** Which archived records a job restores: every filter given must match. */
export interface RestoreQuery {
  customer_id?: string | undefined;
  /** Inclusive, an RFC 3339 instant as the index compares it (UTC text). */
  created_from?: string | undefined;
  /** Exclusive. */
  created_to?: string | undefined;
  /** Told by the record's body, so Archive-tier records are matched once they are rehydrated. */
  status?: string | undefined;
}

export interface RestoreCounts {
  /** Made live by this job. */
  restored: number;
  /** Live already when the job came to them (another restore, or a keep-live copy). */
  already_live: number;
  /** Waiting for their blob to leave the Archive tier (a dry run: would need it). */
  rehydrating: number;
  /** Could not be restored: the archived copy is gone or fails its hash (see `errors`). */
  failed: number;
  /** Ids asked for that are neither live nor archived. */
  not_found: number;
}

/** An Archive-tier blob the job waits for, since when. */
export interface WaitingBlob {
  blob: string;
  since: string;
}

/**
 * The page being worked on, saved before any of it is restored: after a crash the page is done
 * again from these ids, and the records the crashed attempt restored are told by their
 * `restored_at` (at or after `at`), so they are counted once.
 */
export interface PageInHand {
  ids: string[];
  at: string;
  /**
   * Each id's entry as the page found it: the version it restores (an entry holding another
   * version is never withdrawn for it), and when it was archived (a delete confirmed since won).
   */
  archived: Record<string, { archived_at: string; sha256: string }>;
  /** How many times the page was taken in hand: past a few, a record a store keeps failing counts as failed. */
  attempts: number;
  /** Where the next page starts once this one is done. */
  next: JobPosition;
}

/** Where a job's pages stand: past a creation key (a query) or past a number of ids (a list). */
export type JobPosition = { after: CreationKey | null } | { done: number };

/** The process working on a job; it saves the job at least every heartbeat. */
export interface JobOwner {
  /** New with every claim, so two workers never take one job for theirs. */
  claim: string;
  host: string;
  pid: number;
}

export interface RestoreJob {
  job_id: string;
  status: RestoreJobStatus;
  dry_run: boolean;
  /** The query, or null when the job restores a list of ids. */
  query: RestoreQuery | null;
  /** The ids asked for, or null for a query. */
  ids: string[] | null;
  created_at: string;
  /** Who asked for it (an identity's id, or `cli:<user>`). */
  created_by: string;
  /** Saved by its owner at every page and heartbeat. */
  updated_at: string;
  finished_at: string | null;
  /**
   * 1 for the first pass; each later pass, once blobs came back from the Archive tier, goes over
   * the records still archived, leaving those of blobs still waiting.
   */
  pass: number;
  position: JobPosition;
  page: PageInHand | null;
  counts: RestoreCounts;
  /**
   * Blobs whose rehydration the job started and waits for (a dry run: the blobs it would
   * rehydrate, none started).
   */
  waiting: WaitingBlob[];
  /** Blobs back online, or given up, since the last pass: the current pass counts their records. */
  ready: string[];
  /** Blobs that stayed offline past the longest wait: their records count as failed. */
  given_up: string[];
  /** When a waiting job next looks at its blobs. */
  next_check_at: string | null;
  owner: JobOwner | null;
  cancel: { at: string; by: string } | null;
  /** The first problems met, one sentence each. */
  errors: string[];
}

export interface StoredRestoreJob {
  job: RestoreJob;
  etag: string;
}

/** Bulk restore jobs (Cosmos DB container or SQLite table), written only conditionally. */
export interface RestoreJobs {
  init(): Promise<void>;
  close(): Promise<void>;
  /** Stores a new job; ConflictError when its id exists. */
  create(job: RestoreJob): Promise<StoredRestoreJob>;
  /** The job with its etag, or undefined when unknown. */
  get(jobId: string): Promise<StoredRestoreJob | undefined>;
  /**
   * Replaces the job only while it is still the version `ifMatch` names: PreconditionFailedError
   * when another process changed it, NotFoundError when it is gone.
   */
  replace(job: RestoreJob, ifMatch: string): Promise<StoredRestoreJob>;
  /** Jobs newest first. */
  list(query: { limit: number }): Promise<RestoreJob[]>;
  /** Jobs still running or waiting, with their etags, in no particular order. */
  listUnfinished(): Promise<StoredRestoreJob[]>;
  /** Readiness probe: resolves when the store answers, cheaply. */
  ping(): Promise<void>;
}
