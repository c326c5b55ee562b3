import { describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, PreconditionFailedError } from '../../src/domain/errors.js';
import { newRestoreJob } from '../../src/domain/restore-jobs.js';
import type { RestoreJob, RestoreJobs } from '../../src/ports/restore-jobs.js';
import { useFreshStore, type StoreFixture } from './store-fixture.js';

function job(jobId: string, createdAt: string): RestoreJob {
  return newRestoreJob({
    job_id: jobId,
    dry_run: false,
    query: { customer_id: 'c-1', created_from: '2025-01-01T00:00:00.000Z' },
    ids: null,
    created_at: createdAt,
    created_by: 'ops',
  });
}

/** What every RestoreJobs adapter must do, run unchanged over each of them. */
export function describeRestoreJobsContract(
  name: string,
  make: () => Promise<StoreFixture<RestoreJobs>>,
): void {
  describe(`RestoreJobs contract: ${name}`, () => {
    const current = useFreshStore(make);

    it('answers the readiness probe', async () => {
      await expect(current().ping()).resolves.toBeUndefined();
    });

    it('creates a job once and reads it back whole; unknown ids are undefined', async () => {
      const first = job('j1', '2026-11-01T00:00:00.000Z');
      const created = await current().create(first);
      expect(created.job).toEqual(first);
      expect(await current().get('j1')).toEqual({ job: first, etag: created.etag });
      await expect(current().create({ ...first, created_by: 'other' })).rejects.toBeInstanceOf(ConflictError);
      expect((await current().get('j1'))?.job.created_by).toBe('ops');
      expect(await current().get('nope')).toBeUndefined();
    });

    it('replaces a job only while it is the version read', async () => {
      const created = await current().create(job('j1', '2026-11-01T00:00:00.000Z'));
      const mine = { ...created.job, counts: { ...created.job.counts, restored: 100 } };
      const saved = await current().replace(mine, created.etag);
      expect(saved.etag).not.toBe(created.etag);
      expect((await current().get('j1'))?.job.counts.restored).toBe(100);
      // A second writer still holding the first version loses, and changes nothing.
      await expect(
        current().replace({ ...created.job, owner: { claim: 'x', host: 'h', pid: 2 } }, created.etag),
      ).rejects.toBeInstanceOf(PreconditionFailedError);
      expect(await current().get('j1')).toEqual(saved);
      await expect(
        current().replace(job('gone', '2026-11-01T00:00:00.000Z'), saved.etag),
      ).rejects.toBeInstanceOf(NotFoundError);
    });

    it('lists newest first with a limit, and the unfinished ones with their etags', async () => {
      await current().create(job('j1', '2026-11-01T00:00:00.000Z'));
      const j3 = await current().create(job('j3', '2026-11-03T00:00:00.000Z'));
      const j2 = await current().create(job('j2', '2026-11-02T00:00:00.000Z'));
      expect((await current().list({ limit: 2 })).map((j) => j.job_id)).toEqual(['j3', 'j2']);
      expect((await current().list({ limit: 5 })).map((j) => j.job_id)).toEqual(['j3', 'j2', 'j1']);
      await current().replace({ ...j3.job, status: 'waiting' }, j3.etag);
      await current().replace({ ...j2.job, status: 'succeeded' }, j2.etag);
      const unfinished = await current().listUnfinished();
      expect(unfinished.map((s) => [s.job.job_id, s.job.status]).sort()).toEqual([
        ['j1', 'running'],
        ['j3', 'waiting'],
      ]);
      for (const s of unfinished) expect(await current().get(s.job.job_id)).toEqual(s);
    });
  });
}
