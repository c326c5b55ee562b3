import type { Usage, UsagePerRecord } from '../domain/usage.js';
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'crashed';

/** One archival run as the history keeps it; counts are updated after every batch. */
export interface RunRecord {
  run_id: string;
  slice: string;
  status: RunStatus;
  dry_run: boolean;
  older_than_days: number;
  limit: number | null;
  started_at: string;
  finished_at: string | null;
  duration_ms: number;
  batches: number;
  /** Records found old enough (in a dry run: what would be archived). */
  eligible: number;
  archived: number;
  skipped: number;
  failed: number;
  bytes: number;
  garbage_collected: number;
  /** Archived records removed because they were older than RETENTION_DAYS (dry run: would be). */
  expired: number;
  /** Records older than RETENTION_DAYS kept because they are under legal hold. */
  kept_on_hold: number;
  /** Held records copied out of reach of the lifecycle policy's delete rule. */
  held_copied: number;
  /** Held records whose copy waits for their blob to leave the Archive tier. */
  held_copy_pending: number;
  /**
   * Documents of the run's slice whose timestamps do not read as instants, left live (docs/OPERATIONS.md,
   * "Documents the archiver cannot archive"); absent on runs recorded before it was counted.
   */
  not_archivable?: number;
  errors: string[];
  /** The first of what the run met that is no error of its own (such as which documents are not archivable). */
  notes?: string[];
  host: string;
  pid: number;
  /** Who started it (an identity's id, `system:scheduler`, `cli:<user>`); absent on older runs. */
  started_by?: string;
  /** Cosmos DB requests (with request units) and archive store operations it made; absent on older runs. */
  usage?: Usage;
  /** How long it waited to keep within ARCHIVAL_MAX_RU_PER_SECOND; absent when it never waited. */
  throttled_ms?: number;
  /** ARCHIVAL_EXCLUDE_STATUSES as the run applied it; absent when it excluded none. */
  excluded_statuses?: string[];
  /**
   * In a dry run that excluded statuses: the records of each that are old enough and would be
   * archived but for the exclusion.
   */
  kept_live_by_status?: Record<string, number>;
  /** `usage` divided by the records archived, once the run ended; null when it archived none. */
  usage_per_archived_record?: UsagePerRecord | null;
  /** A keep-live run (`archive --keep-live`): it copies and indexes records but leaves them live. */
  keep_live?: boolean;
  /** In a keep-live run: the records copied and indexed, left live (`archived` stays 0). */
  copied?: number;
  /** In a keep-live run: the records whose archived copy already held exactly their bytes. */
  already_copied?: number;
  /** When the run paused between batches, while it is paused (it holds its lock); absent otherwise. */
  paused_at?: string;
  /** Who asked it to pause, while it is paused. */
  paused_by?: string;
  /** How long it stayed paused, in all; absent when it never paused. */
  paused_ms?: number;
}

/** How a verify pass ended: nothing missing or corrupt, something missing or corrupt, or it stopped. */
export type VerificationOutcome = 'passed' | 'failed' | 'error';

/** What one finding kind counted; the pass's full report (every field, the first findings) is the CLI's. */
export interface VerificationFindings {
  missing: number;
  corrupt: number;
  unindexed: number;
  orphans: number;
  dead_records: number;
  live_and_archived: number;
  offline: number;
  not_archivable: number;
  unconfirmed_deletes: number;
}

/** One problem a verify found, as kept with it: the first few that fail it. */
export interface VerificationProblem {
  kind: 'missing' | 'corrupt' | 'unindexed';
  blob: string;
  id?: string;
  message: string;
}

/** One verify pass (`billing-archive verify`) as the history keeps it, for the console and `doctor`. */
export interface VerificationRecord {
  /** `verify-` then the start time and a random suffix: never a run id, which starts with a digit. */
  verification_id: string;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  outcome: VerificationOutcome;
  /** Whether it repaired (`--repair`) as well as checked. */
  repair: boolean;
  /** Who started it, as runs name it (`cli:<user>@<host>`). */
  started_by: string;
  host: string;
  /** Absent when it stopped with an error before a report. */
  checked?: {
    entries: number;
    segments: number;
    segment_records: number;
    record_blobs: number;
    live_records: number;
  };
  findings?: VerificationFindings;
  /** The first missing, corrupt and unindexed findings, at most ten. */
  problems?: VerificationProblem[];
  /** What a repair did: entries rebuilt and orphans removed. */
  repaired?: { entries_rebuilt: number; orphans_removed: number };
  /** Why it stopped, when `outcome` is 'error'. */
  error?: string;
}

/** What was last asked of a running run: to pause (`paused`) or to go on, when and by whom. */
export interface PauseRequest {
  paused: boolean;
  at: string;
  by: string;
}

export interface RunTotals {
  count: number;
  succeeded: number;
  failed: number;
  crashed: number;
  running: number;
}

/** History of archival runs (Cosmos DB container or SQLite table). */
export interface RunLog {
  init(): Promise<void>;
  close(): Promise<void>;
  /** Inserts or replaces the run with this run_id. */
  save(run: RunRecord): Promise<void>;
  /** The run, or undefined when unknown. */
  get(runId: string): Promise<RunRecord | undefined>;
  /** Runs newest first. */
  list(query: { limit: number }): Promise<RunRecord[]>;
  /** Runs of `slice` whose status is 'running', in no particular order. */
  listRunning(slice: string): Promise<RunRecord[]>;
  /** Counts by status. */
  totals(): Promise<RunTotals>;
  /** Records what is asked of a run (kept apart from the run, which saves itself after every batch). */
  requestPause(runId: string, request: PauseRequest): Promise<void>;
  /** What was last asked of the run, or undefined when nothing was. */
  pauseRequest(runId: string): Promise<PauseRequest | undefined>;
  /** Keeps one verify pass; its id is never a run's. */
  saveVerification(verification: VerificationRecord): Promise<void>;
  /** Verify passes newest first (by when they finished). */
  listVerifications(query: { limit: number }): Promise<VerificationRecord[]>;
  /** Readiness probe: resolves when the history answers, cheaply. */
  ping(): Promise<void>;
}
