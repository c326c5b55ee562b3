import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunLog, RunRecord } from '../../src/ports/run-log.js';
import type { StoreFixture } from './live-store-contract.js';

export function runRecord(runId: string, startedAt: string, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    run_id: runId,
    slice: 'all',
    status: 'running',
    dry_run: false,
    older_than_days: 90,
    limit: null,
    started_at: startedAt,
    finished_at: null,
    duration_ms: 0,
    batches: 0,
    eligible: 0,
    archived: 0,
    skipped: 0,
    failed: 0,
    bytes: 0,
    garbage_collected: 0,
    errors: [],
    host: 'test',
    pid: 1,
    ...extra,
  };
}

/** What every RunLog adapter must do, run unchanged over each of them. */
export function describeRunLogContract(name: string, make: () => Promise<StoreFixture<RunLog>>): void {
  describe(`RunLog contract: ${name}`, () => {
    let fixture: StoreFixture<RunLog>;
    let log: RunLog;
    beforeEach(async () => {
      fixture = await make();
      log = fixture.store;
    });
    afterEach(async () => {
      await fixture.dispose();
    });

    it('saves, replaces and gets runs; unknown ids are undefined', async () => {
      await log.save(runRecord('r1', '2026-11-01T00:00:00.000Z'));
      await log.save(runRecord('r1', '2026-11-01T00:00:00.000Z', { status: 'succeeded', archived: 5 }));
      expect(await log.get('r1')).toMatchObject({ status: 'succeeded', archived: 5 });
      expect(await log.get('nope')).toBeUndefined();
    });

    it('lists newest first with a limit and a before bound', async () => {
      await log.save(runRecord('r1', '2026-11-01T00:00:00.000Z'));
      await log.save(runRecord('r3', '2026-11-03T00:00:00.000Z'));
      await log.save(runRecord('r2', '2026-11-02T00:00:00.000Z'));
      expect((await log.list({ limit: 2 })).map((r) => r.run_id)).toEqual(['r3', 'r2']);
      expect((await log.list({ limit: 5, before: '2026-11-03T00:00:00.000Z' })).map((r) => r.run_id)).toEqual(
        ['r2', 'r1'],
      );
    });

    it('marks other running runs of the slice as crashed and counts by status', async () => {
      await log.save(runRecord('dead', '2026-11-01T00:00:00.000Z'));
      await log.save(runRecord('other-slice', '2026-11-01T00:00:00.000Z', { slice: 'range-1' }));
      await log.save(runRecord('done', '2026-11-01T00:00:00.000Z', { status: 'succeeded' }));
      await log.save(runRecord('me', '2026-11-02T00:00:00.000Z'));
      expect(await log.markCrashed('all', 'me', new Date('2026-11-02T00:00:01.000Z'))).toBe(1);
      expect(await log.get('dead')).toMatchObject({
        status: 'crashed',
        finished_at: '2026-11-02T00:00:01.000Z',
      });
      expect((await log.get('dead'))?.errors.at(-1)).toMatch(/stopped without finishing/);
      expect((await log.get('other-slice'))?.status).toBe('running');
      expect(await log.totals()).toEqual({ count: 4, succeeded: 1, failed: 0, crashed: 1, running: 2 });
    });
  });
}
