import { describe, expect, it } from 'vitest';
import { crashedRun, startedRun } from '../../src/domain/archival-runs.js';
import type { RunLog, RunRecord, VerificationRecord } from '../../src/ports/run-log.js';
import { useFreshStore, type StoreFixture } from './store-fixture.js';

function runRecord(runId: string, startedAt: string, extra: Partial<RunRecord> = {}): RunRecord {
  const base = {
    run_id: runId,
    slice: 'all',
    dry_run: false,
    older_than_days: 90,
    limit: null,
    host: 'test',
    pid: 1,
  };
  return { ...startedRun({ ...base, started_at: startedAt }), ...extra };
}

function verification(
  id: string,
  finishedAt: string,
  extra: Partial<VerificationRecord> = {},
): VerificationRecord {
  return {
    verification_id: id,
    started_at: '2026-11-01T00:00:00.000Z',
    finished_at: finishedAt,
    duration_ms: 1200,
    outcome: 'passed',
    repair: false,
    started_by: 'cli:ops@host',
    host: 'host',
    checked: { entries: 3, segments: 1, segment_records: 2, record_blobs: 1, live_records: 4 },
    ...extra,
  };
}

/** What every RunLog adapter must do, run unchanged over each of them. */
export function describeRunLogContract(name: string, make: () => Promise<StoreFixture<RunLog>>): void {
  describe(`RunLog contract: ${name}`, () => {
    const current = useFreshStore(make);

    it('answers the readiness probe', async () => {
      await expect(current().ping()).resolves.toBeUndefined();
    });

    it('saves, replaces and gets runs; unknown ids are undefined', async () => {
      await current().save(runRecord('r1', '2026-11-01T00:00:00.000Z'));
      await current().save(runRecord('r1', '2026-11-01T00:00:00.000Z', { status: 'succeeded', archived: 5 }));
      expect(await current().get('r1')).toMatchObject({ status: 'succeeded', archived: 5 });
      expect(await current().get('nope')).toBeUndefined();
    });

    it('keeps what is asked of a run apart from the run, the last request standing', async () => {
      const run = runRecord('r1', '2026-11-01T00:00:00.000Z');
      await current().save(run);
      expect(await current().pauseRequest('r1')).toBeUndefined();
      const pause = { paused: true, at: '2026-11-01T00:01:00.000Z', by: 'ops' };
      await current().requestPause('r1', pause);
      expect(await current().pauseRequest('r1')).toEqual(pause);
      // The run saving itself after a batch leaves the request as it is.
      await current().save({ ...run, batches: 3 });
      expect(await current().pauseRequest('r1')).toEqual(pause);
      const resume = { paused: false, at: '2026-11-01T00:02:00.000Z', by: 'ops-2' };
      await current().requestPause('r1', resume);
      expect(await current().pauseRequest('r1')).toEqual(resume);
      // Requests are not runs: the history and the counts hold runs only.
      expect((await current().list({ limit: 10 })).map((r) => r.run_id)).toEqual(['r1']);
      expect((await current().totals()).count).toBe(1);
      expect(await current().pauseRequest('other')).toBeUndefined();
    });

    it('lists newest first with a limit', async () => {
      await current().save(runRecord('r1', '2026-11-01T00:00:00.000Z'));
      await current().save(runRecord('r3', '2026-11-03T00:00:00.000Z'));
      await current().save(runRecord('r2', '2026-11-02T00:00:00.000Z'));
      expect((await current().list({ limit: 2 })).map((r) => r.run_id)).toEqual(['r3', 'r2']);
      expect((await current().list({ limit: 5 })).map((r) => r.run_id)).toEqual(['r3', 'r2', 'r1']);
    });

    it('lists the running runs of a slice, whole, and counts by status', async () => {
      const otherSlice = runRecord('other-slice', '2026-11-01T00:00:00.000Z', { slice: 'range-1' });
      await current().save(runRecord('dead', '2026-11-01T00:00:00.000Z'));
      await current().save(otherSlice);
      await current().save(runRecord('done', '2026-11-01T00:00:00.000Z', { status: 'succeeded' }));
      await current().save(runRecord('me', '2026-11-02T00:00:00.000Z'));
      const running = async (slice: string): Promise<string[]> =>
        (await current().listRunning(slice)).map((r) => r.run_id).sort();
      expect(await running('all')).toEqual(['dead', 'me']);
      expect(await current().listRunning('range-1')).toEqual([otherSlice]);
      expect(await running('range-2')).toEqual([]);

      const dead = await current().get('dead');
      if (!dead) throw new Error('the saved run is missing');
      await current().save(crashedRun(dead, new Date('2026-11-02T00:00:01.000Z')));
      expect(await running('all')).toEqual(['me']);
      expect(await current().get('dead')).toMatchObject({
        status: 'crashed',
        finished_at: '2026-11-02T00:00:01.000Z',
      });
      expect(await current().totals()).toEqual({ count: 4, succeeded: 1, failed: 0, crashed: 1, running: 2 });
    });

    it('keeps verify passes newest first, whole, and apart from the runs', async () => {
      expect(await current().listVerifications({ limit: 5 })).toEqual([]);
      await current().save(runRecord('r1', '2026-11-01T00:00:00.000Z'));
      const failed = verification('verify-2', '2026-11-02T00:00:00.000Z', {
        outcome: 'failed',
        findings: {
          missing: 1,
          corrupt: 0,
          unindexed: 0,
          orphans: 2,
          dead_records: 0,
          live_and_archived: 0,
          offline: 0,
          not_archivable: 0,
          unconfirmed_deletes: 0,
        },
        problems: [{ kind: 'missing', blob: 'records/a.json', id: 'a', message: 'blob not found' }],
      });
      await current().saveVerification(verification('verify-1', '2026-11-01T00:00:00.000Z'));
      await current().saveVerification(failed);
      await current().saveVerification(
        verification('verify-3', '2026-11-03T00:00:00.000Z', { outcome: 'error', error: 'store down' }),
      );
      const listed = await current().listVerifications({ limit: 2 });
      expect(listed.map((v) => v.verification_id)).toEqual(['verify-3', 'verify-2']);
      expect(listed[1]).toEqual(failed);
      expect((await current().listVerifications({ limit: 5 })).map((v) => v.verification_id)).toEqual([
        'verify-3',
        'verify-2',
        'verify-1',
      ]);
      // Verify passes are not runs: the run history, a run read and the counts hold runs only.
      expect((await current().list({ limit: 10 })).map((r) => r.run_id)).toEqual(['r1']);
      expect(await current().get('verify-2')).toBeUndefined();
      expect((await current().totals()).count).toBe(1);
    });
  });
}
