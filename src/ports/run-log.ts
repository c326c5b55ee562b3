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
  errors: string[];
  host: string;
  pid: number;
  /** Who started it (an identity's id, `system:scheduler`, `cli:<user>`); absent on older runs. */
  started_by?: string;
}

export type NewRun = Pick<
  RunRecord,
  'run_id' | 'slice' | 'dry_run' | 'older_than_days' | 'limit' | 'started_at' | 'host' | 'pid'
>;

/** A run as recorded when it starts: running, every count at zero. */
export function startedRun(run: NewRun): RunRecord {
  return {
    ...run,
    status: 'running',
    finished_at: null,
    duration_ms: 0,
    batches: 0,
    eligible: 0,
    archived: 0,
    skipped: 0,
    failed: 0,
    bytes: 0,
    garbage_collected: 0,
    expired: 0,
    kept_on_hold: 0,
    held_copied: 0,
    held_copy_pending: 0,
    errors: [],
  };
}

/** A run whose process died while it was running, as the next run of its slice records it. */
export function crashedRun(run: RunRecord, now: Date): RunRecord {
  return {
    ...run,
    status: 'crashed',
    finished_at: now.toISOString(),
    errors: [...run.errors, 'the run stopped without finishing (its process died); the next run took over'],
  };
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
  /** Marks runs of `slice` still 'running' as 'crashed', except `exceptRunId`; returns how many. */
  markCrashed(slice: string, exceptRunId: string, now: Date): Promise<number>;
  /** Counts by status. */
  totals(): Promise<RunTotals>;
  /** Readiness probe: resolves when the history answers, cheaply. */
  ping(): Promise<void>;
}
