import { startedRun } from '../../src/domain/archival-runs.js';
import type { RunRecord } from '../../src/ports/run-log.js';

/**
 * A run as the history records it when it starts (status `running`, every count 0), for tests
 * that need a run in the history without running one: one whose process is gone, say.
 */
export function recordedRun(runId: string, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    ...startedRun({
      run_id: runId,
      slice: 'all',
      dry_run: false,
      older_than_days: 90,
      limit: null,
      started_at: new Date().toISOString(),
      host: 'elsewhere',
      pid: 1,
    }),
    ...extra,
  };
}
