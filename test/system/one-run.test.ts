import { apiClient } from '../helpers/api.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { invokeArchivalTimer } from '../helpers/functions.js';
import { BACKENDS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { heldReads } from '../helpers/held-reads.js';

/**
 * The archival lock holds across the API, the CLI and the Azure Function: while one runs, the
 * others, started at the same moment, say "already running" and change nothing.
 */
describe.each(BACKENDS)('one archival run across the API, the CLI and the Function (%s)', (backend) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
  });

  it('a run started over HTTP makes a CLI run and a Function run started together stand aside', async () => {
    // The API's run holds the lock inside its first read until the other two have tried.
    const held = heldReads();
    harness = await startHarness({ backend, wrap: held.wrap });
    for (const id of ['c1', 'c2', 'c3'])
      await harness.services.records.create(recordBody({ id, created_at: daysAgo(100) }));
    const started = await apiClient(harness.app).post('/archive', {});
    expect(started.statusCode).toBe(202);

    const env = { ...harness.env, LOG_LEVEL: 'warn' };
    const [cli, fn] = await Promise.all([runCli(['--json', 'archive'], env), invokeArchivalTimer(env)]);
    expect(cli.code).toBe(3);
    expect(cli.stderr).toContain('archival is already running');
    expect(fn.code, fn.error).toBe(0);
    expect(fn.run).toBeNull();
    expect(fn.lines.find((line) => line.level === 'warning')?.text).toMatch(
      /^archival skipped: .*already running/,
    );
    expect((await harness.adapters.live.summary()).count).toBe(3);

    held.release();
    const { archiver } = harness.services;
    await vi.waitFor(
      async () => {
        const runs = await archiver.history(10);
        expect(runs).toHaveLength(1);
        expect(runs[0]).toMatchObject({ status: 'succeeded', archived: 3 });
      },
      { timeout: 10_000 },
    );
  });
});
