import { ConflictError, NotFoundError, PreconditionFailedError } from '../../domain/errors.js';
import type { RestoreJob, RestoreJobs, StoredRestoreJob } from '../../ports/restore-jobs.js';
import { attempt } from './open-database.js';
import { SqliteAdapter } from './sqlite-file.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS restore_jobs (
  job_id TEXT PRIMARY KEY,
  created_at TEXT NOT NULL,
  status TEXT NOT NULL,
  version INTEGER NOT NULL,
  job TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS restore_jobs_by_creation ON restore_jobs (created_at, job_id);
CREATE INDEX IF NOT EXISTS restore_jobs_by_status ON restore_jobs (status);
`;

const UNFINISHED = "status IN ('running', 'waiting')";

interface Row {
  version: number;
  job: string;
}

/** Restore jobs on a SQLite file: the job as JSON, a version number as its etag. */
export class SqliteRestoreJobs extends SqliteAdapter implements RestoreJobs {
  constructor(path: string) {
    super(path, SCHEMA, 'SqliteRestoreJobs');
  }

  create(job: RestoreJob): Promise<StoredRestoreJob> {
    return attempt(() => {
      const { changes } = this.file
        .prepare(
          `INSERT INTO restore_jobs (job_id, created_at, status, version, job) VALUES (?, ?, ?, 1, ?)
           ON CONFLICT (job_id) DO NOTHING`,
        )
        .run(job.job_id, job.created_at, job.status, JSON.stringify(job));
      if (changes === 0) throw new ConflictError(`restore job '${job.job_id}' exists already`);
      return { job, etag: '1' };
    });
  }

  get(jobId: string): Promise<StoredRestoreJob | undefined> {
    return attempt(() => {
      const row = this.file
        .prepare<[string], Row>('SELECT version, job FROM restore_jobs WHERE job_id = ?')
        .get(jobId);
      return row && stored(row);
    });
  }

  replace(job: RestoreJob, ifMatch: string): Promise<StoredRestoreJob> {
    return attempt(() => {
      const version = Number(ifMatch);
      const { changes } = this.file
        .prepare(
          `UPDATE restore_jobs SET status = ?, version = version + 1, job = ?
           WHERE job_id = ? AND version = ?`,
        )
        .run(job.status, JSON.stringify(job), job.job_id, version);
      if (changes === 1) return { job, etag: String(version + 1) };
      const exists = this.file
        .prepare<[string], { n: number }>('SELECT 1 AS n FROM restore_jobs WHERE job_id = ?')
        .get(job.job_id);
      if (!exists) throw new NotFoundError(`restore job '${job.job_id}' not found`);
      throw new PreconditionFailedError(`restore job '${job.job_id}' has changed since version ${ifMatch}`);
    });
  }

  list(query: { limit: number }): Promise<RestoreJob[]> {
    return attempt(() =>
      this.file
        .prepare<[number], Row>(
          'SELECT version, job FROM restore_jobs ORDER BY created_at DESC, job_id DESC LIMIT ?',
        )
        .all(query.limit)
        .map((row) => stored(row).job),
    );
  }

  listUnfinished(): Promise<StoredRestoreJob[]> {
    return attempt(() =>
      this.file
        .prepare<[], Row>(`SELECT version, job FROM restore_jobs WHERE ${UNFINISHED}`)
        .all()
        .map(stored),
    );
  }
}

function stored(row: Row): StoredRestoreJob {
  return { job: JSON.parse(row.job) as RestoreJob, etag: String(row.version) };
}
