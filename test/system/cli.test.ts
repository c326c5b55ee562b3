import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { BACKENDS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';

describe.each(BACKENDS)('billing-archive CLI (%s)', (backend) => {
  let harness: Harness;
  let env: Record<string, string>;
  beforeEach(async () => {
    harness = await startHarness({ backend });
    env = { ...harness.env, LOG_LEVEL: 'warn' };
  });
  afterEach(async () => {
    await harness.destroy();
  });

  it('seed creates realistic records of the given age, archive moves them, stats counts them', async () => {
    const seeded = await runCli(['seed', '--count', '25', '--age-days', '120'], env);
    expect(seeded.code, seeded.stderr).toBe(0);
    expect(JSON.parse(seeded.stdout)).toEqual({ created: 25, age_days: 120 });
    const sample = (await harness.adapters.live.list({ limit: 1 }))[0]?.doc;
    expect(sample).toMatchObject({
      customer_id: expect.stringMatching(/^cust-/) as unknown,
      status: expect.any(String) as unknown,
    });
    expect(Date.now() - Date.parse(sample?.created_at ?? '')).toBeGreaterThan(119.9 * 86_400_000);

    const dry = await runCli(['archive', '--dry-run'], env);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dry_run: true, eligible: 25, archived: 0 });
    const run = await runCli(['archive', '--older-than', '100', '--limit', '20'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'succeeded', archived: 20 });

    const stats = await runCli(['stats'], env);
    expect(JSON.parse(stats.stdout)).toMatchObject({
      live_records: 5,
      archived_records: 20,
      runs: { count: 2 },
    });
  });

  it('restore brings an archived record back and prints it; a live one exits 5, an unknown one 4', async () => {
    await harness.services.records.create(recordBody({ id: 'inv-1', created_at: daysAgo(100) }));
    await harness.services.archiver.runOnce();
    const restored = await runCli(['restore', 'inv-1'], env);
    expect(restored.code, restored.stderr).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({
      id: 'inv-1',
      restored_at: expect.any(String) as unknown,
    });
    expect((await harness.services.records.get('inv-1')).source).toBe('live');
    const again = await runCli(['restore', 'inv-1'], env);
    expect(again.code).toBe(5);
    expect(again.stderr).toContain("record 'inv-1' is already live");
    expect((await runCli(['restore', 'nope'], env)).code).toBe(4);
  });

  it('exits 3 with a clear message when another archival run holds the lock', async () => {
    await harness.services.records.create(recordBody({ id: 'inv-1', created_at: daysAgo(100) }));
    const lease = await harness.adapters.lock.acquire('archival-all', {
      runId: 'busy-run',
      description: 'the API',
    });
    try {
      const result = await runCli(['archive'], env);
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(/archival is already running \(run busy-run by the API since/);
      expect((await harness.services.records.get('inv-1')).source).toBe('live');
    } finally {
      await lease.release();
    }
  });

  it('exits 2 naming the bad variable or argument', async () => {
    const badEnv = await runCli(['stats'], { ...env, BATCH_SIZE: 'lots' });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toContain('BATCH_SIZE');
    const badArg = await runCli(['archive', '--older-than', '-3'], env);
    expect(badArg.code).toBe(2);
    expect(badArg.stderr).toContain('--older-than');
    const unknown = await runCli(['explode'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'explode'");
  });
});
