import type { PauseRequest, RunLog, RunRecord, RunTotals, VerificationRecord } from '../../ports/run-log.js';
import { attempt } from './open-database.js';
import { SqliteAdapter } from './sqlite-file.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS archive_runs (
  run_id TEXT PRIMARY KEY,
  slice TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at TEXT NOT NULL,
  run TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS archive_runs_by_start ON archive_runs (started_at, run_id);
CREATE TABLE IF NOT EXISTS archive_run_pauses (
  run_id TEXT PRIMARY KEY,
  request TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS verifications (
  verification_id TEXT PRIMARY KEY,
  finished_at TEXT NOT NULL,
  verification TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS verifications_by_end ON verifications (finished_at, verification_id);
`;

/** Run history on a SQLite file: the run as JSON plus the columns queries need. */
export class SqliteRunLog extends SqliteAdapter implements RunLog {
  constructor(path: string) {
    super(path, SCHEMA, 'SqliteRunLog');
  }

  save(run: RunRecord): Promise<void> {
    return attempt(() => {
      this.file
        .prepare(
          `INSERT INTO archive_runs (run_id, slice, status, started_at, run) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, run = excluded.run`,
        )
        .run(run.run_id, run.slice, run.status, run.started_at, JSON.stringify(run));
    });
  }

  get(runId: string): Promise<RunRecord | undefined> {
    return attempt(() => {
      const row = this.file
        .prepare<[string], { run: string }>('SELECT run FROM archive_runs WHERE run_id = ?')
        .get(runId);
      return row && (JSON.parse(row.run) as RunRecord);
    });
  }

  list(query: { limit: number }): Promise<RunRecord[]> {
    return attempt(() =>
      this.file
        .prepare<[number], { run: string }>(
          'SELECT run FROM archive_runs ORDER BY started_at DESC, run_id DESC LIMIT ?',
        )
        .all(query.limit)
        .map((row) => JSON.parse(row.run) as RunRecord),
    );
  }

  listRunning(slice: string): Promise<RunRecord[]> {
    return attempt(() =>
      this.file
        .prepare<[string], { run: string }>(
          "SELECT run FROM archive_runs WHERE slice = ? AND status = 'running'",
        )
        .all(slice)
        .map((row) => JSON.parse(row.run) as RunRecord),
    );
  }

  totals(): Promise<RunTotals> {
    return attempt(() => {
      const rows = this.file
        .prepare<[], { status: string; n: number }>(
          'SELECT status, COUNT(*) AS n FROM archive_runs GROUP BY status',
        )
        .all();
      const byStatus = new Map(rows.map((row) => [row.status, row.n]));
      return {
        count: rows.reduce((sum, row) => sum + row.n, 0),
        succeeded: byStatus.get('succeeded') ?? 0,
        failed: byStatus.get('failed') ?? 0,
        crashed: byStatus.get('crashed') ?? 0,
        running: byStatus.get('running') ?? 0,
      };
    });
  }

  requestPause(runId: string, request: PauseRequest): Promise<void> {
    return attempt(() => {
      this.file
        .prepare(
          `INSERT INTO archive_run_pauses (run_id, request) VALUES (?, ?)
           ON CONFLICT (run_id) DO UPDATE SET request = excluded.request`,
        )
        .run(runId, JSON.stringify(request));
    });
  }

  saveVerification(verification: VerificationRecord): Promise<void> {
    return attempt(() => {
      this.file
        .prepare(
          `INSERT INTO verifications (verification_id, finished_at, verification) VALUES (?, ?, ?)
           ON CONFLICT (verification_id) DO UPDATE SET
             finished_at = excluded.finished_at, verification = excluded.verification`,
        )
        .run(verification.verification_id, verification.finished_at, JSON.stringify(verification));
    });
  }

  listVerifications(query: { limit: number }): Promise<VerificationRecord[]> {
    return attempt(() =>
      this.file
        .prepare<[number], { verification: string }>(
          'SELECT verification FROM verifications ORDER BY finished_at DESC, verification_id DESC LIMIT ?',
        )
        .all(query.limit)
        .map((row) => JSON.parse(row.verification) as VerificationRecord),
    );
  }

  pauseRequest(runId: string): Promise<PauseRequest | undefined> {
    return attempt(() => {
      const row = this.file
        .prepare<[string], { request: string }>('SELECT request FROM archive_run_pauses WHERE run_id = ?')
        .get(runId);
      return row && (JSON.parse(row.request) as PauseRequest);
    });
  }
}
