import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH, finished, runCli, type CliResult } from '../helpers/cli.js';
import { BACKENDS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { recordedRun } from '../helpers/runs.js';

type Json = Record<string, unknown>;

/** The commands a `--help` page lists (`help` itself aside). */
async function commandsIn(group: string[]): Promise<string[]> {
  const help = await runCli([...group, '--help'], {});
  expect(help.code, help.stderr).toBe(0);
  const section = help.stdout.split(/^Commands:\n/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z-]+)/gm)]
    .map((match) => match[1] ?? '')
    .filter((name) => name !== 'help')
    .map((name) => [...group, name].join(' '));
}

/** Every command `--help` lists, with each one's subcommands (the CLI nests two deep at most). */
async function listCommands(): Promise<string[]> {
  const top = await commandsIn([]);
  const subs = await Promise.all(top.map((command) => commandsIn(command.split(' '))));
  return [...top, ...subs.flat()];
}

/** The same for every backend: listed once (a CLI start per command), then shared. */
let listing: Promise<string[]> | undefined;
const listedCommands = (): Promise<string[]> => (listing ??= listCommands());

/** Spawns the CLI with `input` on standard input (`keys hash` reads the key there). */
async function withInput(args: string[], env: Record<string, string>, input: string): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end(input);
  return finished(child);
}

describe.each(BACKENDS)('every CLI command prints JSON a script can parse with --json (%s)', (backend) => {
  let harness: Harness;
  let env: Record<string, string>;
  const covered = new Set<string>();
  const runningId = '20261201T000000000Z-0000feed';

  beforeAll(async () => {
    harness = await startHarness({ backend });
    env = {
      ...harness.env,
      LOG_LEVEL: 'warn',
      // What `lifecycle deploy --dry-run` names in the request it prints; it sends nothing.
      AZURE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000',
      AZURE_RESOURCE_GROUP: 'billing',
      AZURE_STORAGE_ACCOUNT: 'billingarchive',
    };
    await harness.services.records.create(
      recordBody({ id: 'json-1', customer_id: 'cust-json', created_at: daysAgo(200) }),
    );
  });
  afterAll(async () => {
    await harness.destroy();
  });

  /** Runs `command` with --json, expects `code`, and returns what standard output parses to. */
  async function json(command: string, args: string[], code = 0, input?: string): Promise<Json> {
    covered.add(command);
    const argv = ['--json', ...command.split(' '), ...args];
    const result = input === undefined ? await runCli(argv, env) : await withInput(argv, env, input);
    expect(result.code, `${command}: ${result.stderr}`).toBe(code);
    return JSON.parse(result.stdout) as Json;
  }

  it('seed, archive (a dry run and a real one), pause and resume', async () => {
    expect(await json('seed', ['--count', '4', '--age-days', '150'])).toEqual({ created: 4, age_days: 150 });
    expect(await json('archive', ['--dry-run'])).toMatchObject({
      status: 'succeeded',
      dry_run: true,
      eligible: 5,
    });
    expect(await json('archive', [])).toMatchObject({ status: 'succeeded', archived: 5, failed: 0 });
    await harness.adapters.runLog.save(recordedRun(runningId));
    expect(await json('archive pause', [runningId])).toMatchObject({ run_id: runningId, paused: true });
    expect(await json('archive resume', [runningId])).toMatchObject({ run_id: runningId, paused: false });
  });

  it('restore one record, and a restore job', async () => {
    expect(await json('restore', ['json-1'])).toMatchObject({ id: 'json-1', customer_id: 'cust-json' });
    const job = await json('restore', ['--customer', 'cust-json', '--dry-run']);
    expect(job).toMatchObject({ status: 'succeeded', dry_run: true });
  });

  it('keys create and keys hash', async () => {
    const made = await json('keys create', ['--name', 'script', '--role', 'reader']);
    expect(made).toMatchObject({ name: 'script', roles: 'reader' });
    expect(made.api_keys_entry).toMatch(/^script:reader:/);
    const hashed = await json(
      'keys hash',
      ['--name', 'script', '--role', 'reader'],
      0,
      `${String(made.key)}\n`,
    );
    expect(hashed).toEqual({ api_keys_entry: made.api_keys_entry });
  });

  it('audit, verify, compact, stats, cost and doctor', async () => {
    const audit = await json('audit', ['--limit', '50']);
    expect((audit.items as { action: string }[]).map((entry) => entry.action)).toContain('record.seed');
    expect(await json('verify', [])).toMatchObject({ ok: true, missing: { count: 0 } });
    expect(await json('compact', ['--dry-run'])).toMatchObject({ dry_run: true });
    expect(await json('stats', [])).toMatchObject({ archived_records: 4, live_records: 1 });
    expect(await json('cost', [])).toMatchObject({ currency: 'USD', archive: { records: 4 } });
    const doctor = await json('doctor', [], 0);
    expect(doctor).toMatchObject({
      ok: true,
      records: { live: 1, archived: 4 },
      last_run: { status: 'succeeded' },
      // The verify just above, kept in the run history.
      last_verify: { outcome: 'passed', findings: { missing: 0, corrupt: 0 } },
      lock_holders: [expect.objectContaining({ run_id: runningId, host: 'elsewhere', process_alive: null })],
    });
    expect(Object.values(doctor.stores as Record<string, { ok: boolean }>).every((store) => store.ok)).toBe(
      true,
    );
  });

  it('index migrate, lifecycle deploy and lifecycle simulate', async () => {
    // A first sync pass copies every entry, so it is not yet in step: exit 1, and its report.
    expect(await json('index migrate', [], 1)).toMatchObject({ pass: 'sync', tally: { copied: 4 } });
    expect(await json('lifecycle deploy', ['--dry-run'])).toMatchObject({
      method: 'PUT',
      url: expect.stringContaining('/storageAccounts/billingarchive/managementPolicies/default') as unknown,
    });
    if (backend === 'azure')
      expect(await json('lifecycle simulate', ['--days', '30', '--dry-run'])).toMatchObject({
        dry_run: true,
        days: 30,
      });
    else {
      // The embedded archive has no tiers to simulate: a clear refusal, and nothing on stdout.
      covered.add('lifecycle simulate');
      const refused = await runCli(['--json', 'lifecycle', 'simulate', '--days', '30'], env);
      expect(refused.code).toBe(2);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toContain('needs an archive store with access tiers');
    }
  });

  it(
    'covers every command --help lists, but serve (which runs the API and prints its logs)',
    { timeout: 60_000 },
    async () => {
      // serve runs the API and prints its logs; keys, index and lifecycle only hold their subcommands.
      expect(new Set([...covered, 'serve', 'keys', 'index', 'lifecycle'])).toEqual(
        new Set(await listedCommands()),
      );
    },
  );

  it('without --json, prints text for a person: the summary, or the result as YAML', async () => {
    const stats = await runCli(['stats'], env);
    expect(stats.stdout).toMatch(/^live_records: 1\narchived_records: 4\n/);
    const verify = await runCli(['verify'], env);
    expect(verify.stdout).toMatch(/^checked \d+ index entries/);
    expect(verify.stdout.trim().split('\n').at(-1)).toBe('verify: no record is missing or corrupt');
    const doctor = await runCli(['doctor'], env);
    expect(doctor.stdout).toMatch(/^billing-archive \S+ on Node 20\./);
    expect(doctor.stdout).toContain(`lock:      run ${runningId} (slice all) on elsewhere pid 1`);
    expect(doctor.stdout).toMatch(/^verified: {2}\S+Z passed$/m);
    for (const text of [stats.stdout, verify.stdout, doctor.stdout])
      expect(() => JSON.parse(text) as unknown).toThrow();
  });
});

describe('doctor when the stores cannot be opened', () => {
  it('still reports the configuration and versions, says what failed, and exits 1', async () => {
    // A data directory under a regular file: the embedded stores cannot be made.
    const env = { DATA_DIR: `${CLI_PATH}/data`, LOG_LEVEL: 'warn' };
    const result = await runCli(['--json', 'doctor'], env);
    expect(result.code, result.stderr).toBe(1);
    const report = JSON.parse(result.stdout) as {
      ok: boolean;
      versions: Record<string, string>;
      stores: Record<string, { ok: boolean; error?: string }>;
      advice: { level: string; text: string }[];
    };
    expect(report.ok).toBe(false);
    expect(report.versions.node).toBe(process.versions.node);
    expect(report.stores.opening).toMatchObject({
      ok: false,
      error: expect.stringContaining('ENOTDIR') as unknown,
    });
    expect(report.advice[0]).toMatchObject({
      level: 'fix',
      text: expect.stringContaining('could not be opened') as unknown,
    });
  });
});
