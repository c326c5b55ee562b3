import type { RunRecord } from '../ports/run-log.js';

/** What a run id may be: runs are named `20261101T000000000Z-abcd1234`; callers choose the text. */
export const RUN_ID_PATTERN = '^[A-Za-z0-9-]{1,100}$';
const RUN_ID = new RegExp(RUN_ID_PATTERN);

export function isRunId(text: string): boolean {
  return RUN_ID.test(text);
}

/** What a run is started with; every count starts at zero. */
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
    not_archivable: 0,
    errors: [],
    notes: [],
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
