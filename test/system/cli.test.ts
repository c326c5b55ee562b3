import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/auth/api-keys.js';
import { apiClient } from '../helpers/api.js';
import { CLI_PATH, finished, runCli } from '../helpers/cli.js';
import { BACKENDS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { recordedRun } from '../helpers/runs.js';

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

  it('archive pause and resume ask a running run, in another process, to wait or go on', async () => {
    const runId = '20261201T000000000Z-0000abcd';
    await harness.adapters.runLog.save(recordedRun(runId));
    const paused = await runCli(['--json', 'archive', 'pause', runId], env);
    expect(paused.code, paused.stderr).toBe(0);
    expect(JSON.parse(paused.stdout)).toMatchObject({ run_id: runId, paused: true });
    expect(await harness.adapters.runLog.pauseRequest(runId)).toMatchObject({
      paused: true,
      by: expect.stringMatching(/^cli:/) as unknown,
    });
    expect((await runCli(['--json', 'archive', 'resume', runId], env)).code).toBe(0);
    expect((await harness.adapters.runLog.pauseRequest(runId))?.paused).toBe(false);

    const odd = await runCli(['--json', 'archive', 'pause', 'no/such run'], env);
    expect(odd.code).toBe(2);
    expect(odd.stderr).toMatch(/is not a run id such as/);
    const unknown = await runCli(['--json', 'archive', 'pause', '20261201T000000000Z-deadbeef'], env);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toMatch(/not found/);
    const run = await harness.adapters.runLog.get(runId);
    if (!run) throw new Error('the run was not saved');
    await harness.adapters.runLog.save({ ...run, status: 'crashed' });
    const ended = await runCli(['--json', 'archive', 'resume', runId], env);
    expect(ended.code).toBe(5);
    expect(ended.stderr).toMatch(/has ended \(crashed\)/);
  });

  it('seed creates realistic records of the given age, archive moves them, stats counts them', async () => {
    const seeded = await runCli(['--json', 'seed', '--count', '25', '--age-days', '120'], env);
    expect(seeded.code, seeded.stderr).toBe(0);
    expect(JSON.parse(seeded.stdout)).toEqual({ created: 25, age_days: 120 });
    const sample = (await harness.adapters.live.list({ limit: 1 }))[0]?.doc;
    expect(sample).toMatchObject({
      customer_id: expect.stringMatching(/^cust-/) as unknown,
      status: expect.any(String) as unknown,
    });
    expect(Date.now() - Date.parse(sample?.created_at ?? '')).toBeGreaterThan(119.9 * 86_400_000);

    const dry = await runCli(['--json', 'archive', '--dry-run'], env);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dry_run: true, eligible: 25, archived: 0 });
    const run = await runCli(['--json', 'archive', '--older-than', '100', '--limit', '20'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'succeeded', archived: 20 });

    const stats = await runCli(['--json', 'stats'], env);
    expect(JSON.parse(stats.stdout)).toMatchObject({
      live_records: 5,
      archived_records: 20,
      runs: { count: 2 },
    });
  });

  it('restore brings an archived record back and prints it; a live one exits 5, an unknown one 4', async () => {
    await harness.services.records.create(recordBody({ id: 'inv-1', created_at: daysAgo(100) }));
    await harness.services.archiver.runOnce();
    const restored = await runCli(['--json', 'restore', 'inv-1'], env);
    expect(restored.code, restored.stderr).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({
      id: 'inv-1',
      restored_at: expect.any(String) as unknown,
    });
    expect((await harness.services.records.get('inv-1')).source).toBe('live');
    const again = await runCli(['--json', 'restore', 'inv-1'], env);
    expect(again.code).toBe(5);
    expect(again.stderr).toContain("record 'inv-1' is already live");
    expect((await runCli(['--json', 'restore', 'nope'], env)).code).toBe(4);
  });

  it('restore --customer --from --to runs a restore job with its progress; --dry-run changes nothing', async () => {
    for (const [id, customer, created_at] of [
      ['q-1', 'cust-q', '2025-01-15T10:00:00.000Z'],
      ['q-2', 'cust-q', '2025-03-31T23:59:59.999Z'],
      ['q-3', 'cust-q', '2025-04-01T00:00:00.000Z'],
      ['o-1', 'cust-o', '2025-02-01T00:00:00.000Z'],
    ] as const)
      await harness.services.records.create(recordBody({ id, customer_id: customer, created_at }));
    expect((await harness.services.archiver.runOnce()).archived).toBe(4);
    const quarter = ['restore', '--customer', 'cust-q', '--from', '2025-01-01', '--to', '2025-04-01'];

    const dry = await runCli(['--json', ...quarter, '--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({
      status: 'succeeded',
      dry_run: true,
      counts: { restored: 2 },
    });
    expect((await harness.adapters.live.summary()).count).toBe(0);

    const run = await runCli(['--json', ...quarter], env);
    expect(run.code, run.stderr).toBe(0);
    const job = JSON.parse(run.stdout) as { job_id: string; status: string; counts: { restored: number } };
    expect(job).toMatchObject({ status: 'succeeded', counts: { restored: 2, already_live: 0, failed: 0 } });
    // Progress goes to standard error: the job's id first, the last line its end.
    expect(run.stderr).toContain(`restore job ${job.job_id}`);
    expect(run.stderr.trim().split('\n').at(-1)).toMatch(
      /^restore: 2, [\d.]+\/s, succeeded, pass 1, 2 restored, 0 already live, 0 rehydrating, 0 failed, 0 not found$/,
    );
    for (const id of ['q-1', 'q-2']) expect((await harness.services.records.get(id)).source).toBe('live');
    for (const id of ['q-3', 'o-1']) expect((await harness.services.records.get(id)).source).toBe('archive');
    expect((await harness.services.bulkRestore.job(job.job_id))?.created_by).toMatch(/^cli:/);

    for (const [args, says] of [
      [['restore'], 'give a record id, or at least one of'],
      [['restore', 'q-3', '--customer', 'cust-q'], 'not both'],
      [['restore', '--from', 'yesterday'], 'RFC 3339'],
      [['restore', '--status', 'lost'], 'lost'],
    ] as const) {
      const refused = await runCli(['--json', ...args], env);
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toContain(says);
    }
    expect((await harness.services.records.get('q-3')).source).toBe('archive');
  });

  it('audit prints who changed what, naming the CLI user for what the CLI changed', async () => {
    await harness.services.records.create(recordBody({ id: 'inv-2', created_at: daysAgo(100) }));
    expect((await runCli(['--json', 'archive'], env)).code).toBe(0);
    expect((await runCli(['--json', 'restore', 'inv-2'], env)).code).toBe(0);
    const audit = await runCli(['--json', 'audit', '--record-id', 'inv-2'], env);
    expect(audit.code, audit.stderr).toBe(0);
    const { items } = JSON.parse(audit.stdout) as {
      items: { action: string; actor: string; outcome: string }[];
    };
    expect(items).toMatchObject([{ action: 'record.restore', outcome: 'succeeded' }]);
    expect(items[0]?.actor).toMatch(/^cli:.+@.+$/);
    const runs = JSON.parse(
      (await runCli(['--json', 'audit', '--actor', items[0]?.actor ?? ''], env)).stdout,
    ) as {
      items: { action: string }[];
    };
    expect(runs.items.map((e) => e.action)).toEqual([
      'archive.run.start',
      'archive.run.end',
      'record.restore',
    ]);
    expect((await runCli(['--json', 'audit', '--from', 'yesterday'], env)).code).toBe(2);
  });

  it('exits 3 with a clear message when another archival run holds the lock', async () => {
    await harness.services.records.create(recordBody({ id: 'inv-1', created_at: daysAgo(100) }));
    const lease = await harness.adapters.lock.acquire('archival-all', {
      runId: 'busy-run',
      description: 'the API',
    });
    try {
      const result = await runCli(['--json', 'archive'], env);
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(/archival is already running \(run busy-run by the API since/);
      expect((await harness.services.records.get('inv-1')).source).toBe('live');
    } finally {
      await lease.release();
    }
  });

  it('exits 2 naming the bad variable or argument', async () => {
    const badEnv = await runCli(['--json', 'stats'], { ...env, BATCH_SIZE: 'lots' });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toContain('BATCH_SIZE');
    const badArg = await runCli(['--json', 'archive', '--older-than', '-3'], env);
    expect(badArg.code).toBe(2);
    expect(badArg.stderr).toContain('--older-than');
    const unknown = await runCli(['--json', 'explode'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'explode'");
  });

  it('refuses run options in the same words as the API, and runs nothing', async () => {
    const cli = await runCli(['--json', 'archive', '--older-than', '40000', '--limit', '0'], env);
    expect(cli.code).toBe(2);
    const api = await apiClient(harness.app).post('/archive/sync', { older_than_days: 40000, limit: 0 });
    expect(api.statusCode).toBe(400);
    const { message } = api.json<{ message: string }>();
    expect(message).toBe(
      'older_than_days must be a whole number from 0 to 36500 (got 40000); limit must be a whole number ≥ 1 (got 0)',
    );
    expect(cli.stderr).toContain(`billing-archive: ${message}\n`);
    expect(await harness.services.archiver.history(10)).toEqual([]);
  });
});

describe('billing-archive keys', () => {
  it('create prints a new key once with the API_KEYS entry that accepts it, and the API accepts it', async () => {
    const made = await runCli(
      ['--json', 'keys', 'create', '--name', 'auditor', '--role', 'reader+legal'],
      {},
    );
    expect(made.code, made.stderr).toBe(0);
    const { key, api_keys_entry: entry } = JSON.parse(made.stdout) as { key: string; api_keys_entry: string };
    expect(key).toMatch(/^bkarch_/);
    expect(entry).toBe(`auditor:reader+legal:${hashApiKey(key)}`);
    expect(made.stderr).toContain('shown this once');
    const harness = await startHarness({ env: { API_KEYS: entry } });
    try {
      expect((await apiClient(harness.app, key).get('/stats')).statusCode).toBe(200);
      expect((await apiClient(harness.app, key).post('/billing', recordBody())).statusCode).toBe(403);
    } finally {
      await harness.destroy();
    }
  });

  it('hash reads an existing key from standard input, never from the command line', async () => {
    const child = spawn(
      process.execPath,
      [CLI_PATH, '--json', 'keys', 'hash', '--name', 'legacy', '--role', 'operator'],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    child.stdin.end('a-key-from-elsewhere\n');
    const result = await finished(child);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      api_keys_entry: `legacy:operator:${hashApiKey('a-key-from-elsewhere')}`,
    });
  });

  it('refuses an unknown role, naming the allowed ones', async () => {
    const result = await runCli(['--json', 'keys', 'create', '--name', 'x', '--role', 'superuser'], {});
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('reader, writer, operator, admin, legal');
  });
});
