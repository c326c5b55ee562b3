import { describe, expect, it } from 'vitest';
import { startedRun, type RunLog, type RunRecord } from '../../src/ports/run-log.js';
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

    it('lists newest first with a limit', async () => {
      await current().save(runRecord('r1', '2026-11-01T00:00:00.000Z'));
      await current().save(runRecord('r3', '2026-11-03T00:00:00.000Z'));
      await current().save(runRecord('r2', '2026-11-02T00:00:00.000Z'));
      expect((await current().list({ limit: 2 })).map((r) => r.run_id)).toEqual(['r3', 'r2']);
      expect((await current().list({ limit: 5 })).map((r) => r.run_id)).toEqual(['r3', 'r2', 'r1']);
    });

    it('marks other running runs of the slice as crashed and counts by status', async () => {
      await current().save(runRecord('dead', '2026-11-01T00:00:00.000Z'));
      await current().save(runRecord('other-slice', '2026-11-01T00:00:00.000Z', { slice: 'range-1' }));
      await current().save(runRecord('done', '2026-11-01T00:00:00.000Z', { status: 'succeeded' }));
      await current().save(runRecord('me', '2026-11-02T00:00:00.000Z'));
      expect(await current().markCrashed('all', 'me', new Date('2026-11-02T00:00:01.000Z'))).toBe(1);
      expect(await current().get('dead')).toMatchObject({
        status: 'crashed',
        finished_at: '2026-11-02T00:00:01.000Z',
      });
      expect((await current().get('dead'))?.errors.at(-1)).toMatch(/stopped without finishing/);
      expect((await current().get('other-slice'))?.status).toBe('running');
      expect(await current().totals()).toEqual({ count: 4, succeeded: 1, failed: 0, crashed: 1, running: 2 });
    });
  });
}
