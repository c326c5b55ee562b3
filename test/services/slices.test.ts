import { afterEach, describe, expect, it } from 'vitest';
import { startedRun } from '../../src/domain/archival-runs.js';
import { LockHeldError, ValidationError } from '../../src/domain/errors.js';
import { sliceIndexOf } from '../../src/domain/slices.js';
import type { RunLog, RunRecord } from '../../src/ports/run-log.js';
import { runCli } from '../helpers/cli.js';
import { BACKENDS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { intercept } from '../helpers/intercept.js';

const owner = { runId: 'other-worker', description: 'another worker' };

describe.each(BACKENDS)('archival split into slices (%s)', (backend) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
  });

  async function seed(h: Harness, count: number): Promise<string[]> {
    const ids = Array.from({ length: count }, (_, i) => `s${i}`);
    for (const id of ids) await h.services.records.create(recordBody({ id, created_at: daysAgo(100) }));
    return ids;
  }

  it('lets workers archive their slices side by side, disjointly, covering every record', async () => {
    harness = await startHarness({ backend, env: { ARCHIVAL_SLICES: '3', BATCH_SIZE: '4' } });
    const ids = await seed(harness, 30);
    const { archiver } = harness.services;
    const runs = await Promise.all(
      [0, 1, 2].map((index) => archiver.runOnce({ slice: { index, count: 3 } })),
    );
    for (const [index, run] of runs.entries()) {
      const mine = ids.filter((id) => sliceIndexOf(id, 3) === index);
      expect(run).toMatchObject({
        status: 'succeeded',
        slice: `${index}/3`,
        eligible: mine.length,
        archived: mine.length,
      });
    }
    expect(runs.reduce((sum, run) => sum + run.archived, 0)).toBe(30);
    for (const id of ids) {
      const entry = await harness.adapters.index.get(id);
      expect(entry?.run_id).toBe(runs[sliceIndexOf(id, 3)]?.run_id);
    }
    expect((await harness.adapters.live.summary()).count).toBe(0);
  });

  it('never overlaps: a slice run holds its lock, a whole-store run needs every slice lock', async () => {
    harness = await startHarness({ backend, env: { ARCHIVAL_SLICES: '3' } });
    const ids = await seed(harness, 12);
    const { archiver } = harness.services;
    const held = await harness.adapters.lock.acquire('archival-slice-1-of-3', owner);
    try {
      await expect(archiver.runOnce()).rejects.toSatisfy(
        (e) =>
          e instanceof LockHeldError &&
          e.message.includes('a slice is running') &&
          e.message.includes('other-worker'),
      );
      await expect(archiver.runOnce({ slice: { index: 1, count: 3 } })).rejects.toBeInstanceOf(LockHeldError);
      const run = await archiver.runOnce({ slice: { index: 0, count: 3 } });
      expect(run.archived).toBe(ids.filter((id) => sliceIndexOf(id, 3) === 0).length);
      // The refused whole-store run released the slice locks it had taken.
      await expect(archiver.runOnce({ slice: { index: 2, count: 3 } })).resolves.toMatchObject({
        status: 'succeeded',
      });
    } finally {
      await held.release();
    }
    const whole = await archiver.start();
    await expect(harness.adapters.lock.acquire('archival-slice-0-of-3', owner)).rejects.toBeInstanceOf(
      LockHeldError,
    );
    await whole.done;
    expect((await harness.adapters.live.summary()).count).toBe(0);
  });

  it('marks a whole-store run that died as crashed when a slice run starts, and only that run', async () => {
    const saved: RunRecord[] = [];
    harness = await startHarness({
      backend,
      env: { ARCHIVAL_SLICES: '2' },
      wrap: (adapters) => ({
        ...adapters,
        runLog: intercept<RunLog>(adapters.runLog, {
          save: async (run) => {
            saved.push({ ...run });
            await adapters.runLog.save(run);
          },
        }),
      }),
    });
    const dead = startedRun({
      run_id: 'dead-whole-store-run',
      slice: 'all',
      dry_run: false,
      older_than_days: 90,
      limit: null,
      started_at: daysAgo(1),
      host: 'gone',
      pid: 1,
    });
    await harness.adapters.runLog.save(dead);
    await harness.services.archiver.runOnce({ slice: { index: 1, count: 2 } });
    expect(await harness.adapters.runLog.get('dead-whole-store-run')).toMatchObject({ status: 'crashed' });
    // The starting run is 'running' too when the dead are looked for; it never records itself crashed.
    expect(saved.filter((run) => run.status === 'crashed').map((run) => run.run_id)).toEqual([
      'dead-whole-store-run',
    ]);
  });

  it('refuses a slice of another split than ARCHIVAL_SLICES, naming it', async () => {
    harness = await startHarness({ backend, env: { ARCHIVAL_SLICES: '3' } });
    await expect(harness.services.archiver.runOnce({ slice: { index: 0, count: 2 } })).rejects.toSatisfy(
      (e) => e instanceof ValidationError && e.message.includes('ARCHIVAL_SLICES is 3'),
    );
  });

  it('collects only its own slice’s garbage', async () => {
    // One blob per record makes each collected blob visible in the count.
    harness = await startHarness({ backend, layout: 'record', env: { ARCHIVAL_SLICES: '2' } });
    const ids = await seed(harness, 12);
    await harness.services.archiver.runOnce();
    for (const id of ids) await harness.services.records.restore(id);
    const slice0 = ids.filter((id) => sliceIndexOf(id, 2) === 0);
    const run = await harness.services.archiver.runOnce({ slice: { index: 0, count: 2 } });
    expect(run.garbage_collected).toBe(slice0.length);
    const left = await harness.adapters.garbage.list({ limit: 100 });
    expect(left.map((g) => g.id).sort()).toEqual(ids.filter((id) => sliceIndexOf(id, 2) === 1).sort());
  });

  it('runs as CLI workers in separate processes: `archive --slice K/N`', async () => {
    harness = await startHarness({ backend, env: { ARCHIVAL_SLICES: '2' } });
    await seed(harness, 20);
    const env = { ...harness.env, ARCHIVAL_SLICES: '2', LOG_LEVEL: 'warn' };
    const [a, b] = await Promise.all([
      runCli(['--json', 'archive', '--slice', '0/2'], env),
      runCli(['--json', 'archive', '--slice', '1/2'], env),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const archived = [a, b].map((r) => (JSON.parse(r.stdout) as { archived: number }).archived);
    expect(archived[0]).toBeGreaterThan(0);
    expect(archived[1]).toBeGreaterThan(0);
    expect((archived[0] ?? 0) + (archived[1] ?? 0)).toBe(20);
    const bad = await runCli(['--json', 'archive', '--slice', '2/2'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('0 ≤ K < N');
  });
});
