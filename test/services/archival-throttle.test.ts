import { afterEach, describe, expect, it } from 'vitest';
import { BACKENDS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';

const BUDGET = 20;

describe.each(BACKENDS)('An archival run under ARCHIVAL_MAX_RU_PER_SECOND (%s)', (backend) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
  });

  it('waits between batches so its request units average at most the budget since it started', async () => {
    // Time passes only while the run waits, so every wait it asks for is one the budget needs.
    let now = Date.now();
    const waits: number[] = [];
    harness = await startHarness({
      backend,
      layout: 'record',
      env: { ARCHIVAL_MAX_RU_PER_SECOND: String(BUDGET), BATCH_SIZE: '10' },
      clock: () => new Date(now),
      sleep: (ms) => {
        waits.push(ms);
        now += ms;
        return Promise.resolve();
      },
    });
    for (let i = 0; i < 40; i++)
      await harness.services.records.create(
        recordBody({ id: `t-${i}`, created_at: daysAgo(100, new Date(now)) }),
      );
    const run = await harness.services.archiver.runOnce();
    expect(run).toMatchObject({ status: 'succeeded', archived: 40 });
    const spent = run.usage?.cosmos.request_units ?? 0;
    if (backend === 'embedded') {
      // No Cosmos DB, no request units: nothing to wait for.
      expect(spent).toBe(0);
      expect(run.throttled_ms).toBeUndefined();
      return;
    }
    // Four batches of ten, each a read, a look-up, a bulk upsert and a bulk delete: the run spent
    // more than its budget allows in no time, so it waited, a second at most each time.
    expect(spent).toBeGreaterThan(BUDGET);
    expect(run.throttled_ms).toBe(waits.reduce((sum, ms) => sum + ms, 0));
    expect(Math.max(...waits)).toBeLessThanOrEqual(1_000);
    // It waited as long as the units spent before its last batch needed (the rest came after it),
    // and no longer than all of them would.
    expect(run.throttled_ms).toBeLessThanOrEqual(Math.ceil((spent / BUDGET) * 1000));
    expect(run.throttled_ms).toBeGreaterThanOrEqual(Math.ceil((spent / BUDGET) * 1000 * 0.5));
  });

  it('does not wait without a budget', async () => {
    const waits: number[] = [];
    harness = await startHarness({
      backend,
      layout: 'record',
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    });
    for (let i = 0; i < 5; i++)
      await harness.services.records.create(recordBody({ id: `n-${i}`, created_at: daysAgo(100) }));
    const run = await harness.services.archiver.runOnce();
    expect(run).toMatchObject({ status: 'succeeded', archived: 5 });
    expect(waits).toEqual([]);
    expect(run.throttled_ms).toBeUndefined();
  });
});
