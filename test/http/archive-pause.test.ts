import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Adapters } from '../../src/composition-root.js';
import type { RunRecord } from '../../src/ports/run-log.js';
import { apiClient, expectError, type ApiClient } from '../helpers/api.js';
import { TEST_KEYS } from '../helpers/keys.js';
import { BACKENDS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';

/**
 * Pausing and resuming archival runs (issue 16) through the API, on each backend. Time is the
 * test's: the run's clock moves only while it sleeps, and each of its sleeps (a paused run polls
 * once a second) calls `onSleep`, so a test acts while the run waits, and a long pause takes no time.
 */
describe.each(BACKENDS)('pausing and resuming an archival run (%s)', (backend) => {
  let harness: Harness;
  let api: ApiClient;
  let nowMs: number;
  let sleeps: number;
  let onSleep: (() => Promise<void>) | undefined;
  /** Called once, when the run has read its second page of eligible records. */
  let afterSecondPage: (() => Promise<void>) | undefined;

  function hookPages(adapters: Adapters): Adapters {
    const live = Object.create(adapters.live) as typeof adapters.live;
    let pages = 0;
    live.findEligible = async (query) => {
      const page = await adapters.live.findEligible(query);
      pages += 1;
      const hook = afterSecondPage;
      if (pages === 2 && hook) {
        afterSecondPage = undefined;
        await hook();
      }
      return page;
    };
    return { ...adapters, live };
  }

  /** The service over fresh stores, with 20 records due for archival. */
  async function boot(env: Record<string, string> = {}): Promise<void> {
    nowMs = Date.now();
    sleeps = 0;
    onSleep = undefined;
    afterSecondPage = undefined;
    harness = await startHarness({
      backend,
      layout: 'segment',
      env: { BATCH_SIZE: '5', ARCHIVAL_MAX_PAUSE_MINUTES: '2', ARCHIVAL_SCHEDULE: '', ...env },
      clock: () => new Date(nowMs),
      sleep: async (ms) => {
        nowMs += ms;
        sleeps += 1;
        await onSleep?.();
      },
      wrap: hookPages,
    });
    api = apiClient(harness.app);
    for (let i = 0; i < 20; i++)
      expect(
        (
          await api.post(
            '/billing',
            recordBody({ id: `p-${String(i).padStart(2, '0')}`, created_at: daysAgo(200) }),
          )
        ).statusCode,
      ).toBe(201);
  }

  beforeEach(async () => {
    await boot();
  });
  afterEach(async () => {
    await harness.destroy();
  });

  const runOf = async (runId: string) => (await api.get(`/archive/runs/${runId}`)).json<RunRecord>();

  /** Starts a run in the background; its id, once the server answered. */
  async function startRun(): Promise<string> {
    const response = await api.post('/archive', {});
    expect(response.statusCode).toBe(202);
    return response.json<{ run_id: string }>().run_id;
  }

  const running = () => harness.services.archiver.running()[0] ?? '';

  it('pauses between batches, holding its lock, and goes on where it stopped when resumed', async () => {
    afterSecondPage = async () => {
      const asked = await api.post(`/archive/runs/${running()}/pause`);
      expect(asked.statusCode).toBe(202);
      expect(asked.json()).toMatchObject({
        run_id: running(),
        paused: true,
        status_url: `/archive/runs/${running()}`,
      });
    };
    let whilePaused: RunRecord | undefined;
    onSleep = async () => {
      const runId = running();
      if (sleeps === 1) {
        whilePaused = await runOf(runId);
        // Paused, the run still holds the lock: no other run starts.
        expectError(await api.post('/archive/sync', {}), 409, 'archival_running');
      }
      if (sleeps === 3) {
        // Nothing moved while it waited.
        expect((await runOf(runId)).archived).toBe(whilePaused?.archived);
        expect((await api.post(`/archive/runs/${runId}/resume`)).statusCode).toBe(202);
      }
    };
    const runId = await startRun();
    await harness.services.archiver.settled();

    expect(whilePaused).toMatchObject({
      status: 'running',
      paused_at: expect.any(String) as unknown,
      paused_by: expect.stringContaining('root') as unknown,
    });
    expect(whilePaused?.archived).toBeLessThan(20);
    const ended = await runOf(runId);
    expect(ended).toMatchObject({ status: 'succeeded', archived: 20, paused_ms: 15_000 });
    expect(ended.paused_at).toBeUndefined();
    expect(sleeps).toBe(3);
    expect((await harness.adapters.live.summary()).count).toBe(0);
  });

  it('ends cleanly, lock released, when it stays paused longer than ARCHIVAL_MAX_PAUSE_MINUTES', async () => {
    afterSecondPage = async () => {
      expect((await api.post(`/archive/runs/${running()}/pause`)).statusCode).toBe(202);
    };
    const runId = await startRun();
    await harness.services.archiver.settled();

    const ended = await runOf(runId);
    expect(ended.status).toBe('succeeded');
    expect(ended.archived).toBeGreaterThan(0);
    expect(ended.archived).toBeLessThan(20);
    expect(ended.notes?.[0]).toMatch(
      /^paused at .* for longer than 2 minutes \(ARCHIVAL_MAX_PAUSE_MINUTES\): ended after \d+ records; the next run goes on$/,
    );
    expect(ended.paused_ms).toBeGreaterThanOrEqual(120_000);
    // Every record it took is archived or still live, none lost; the next run goes on.
    expect((await harness.adapters.live.summary()).count).toBe(20 - ended.archived);
    const next = (await api.post('/archive/sync', {})).json<RunRecord>();
    expect(next).toMatchObject({ status: 'succeeded', archived: 20 - ended.archived });
  });

  it('refuses to pause a run that is not running, or that does not exist', async () => {
    const done = (await api.post('/archive/sync', {})).json<RunRecord>();
    const refused = expectError(await api.post(`/archive/runs/${done.run_id}/pause`), 409, 'run_not_running');
    expect(refused).toMatch(/has ended \(succeeded\): only a running run can be paused or resumed/);
    expectError(await api.post(`/archive/runs/${done.run_id}/resume`), 409, 'run_not_running');
    expectError(await api.post('/archive/runs/20261201T000000000Z-deadbeef/pause'), 404, 'not_found');
    expectError(await api.post('/archive/runs/not%20a%20run/pause'), 400, 'validation_error');
    // Each request is audited with the run it named, refused or not.
    const audit = (await apiClient(harness.app, TEST_KEYS.admin).get('/audit?limit=1000')).json<{
      items: { action: string; outcome: string; run_id?: string }[];
    }>();
    const asked = audit.items.filter((entry) => entry.action.startsWith('archive.run.'));
    expect(
      asked.filter((entry) => entry.action !== 'archive.run.start' && entry.action !== 'archive.run.end'),
    ).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'archive.run.pause', outcome: 'refused', run_id: done.run_id }),
        expect.objectContaining({ action: 'archive.run.resume', outcome: 'refused', run_id: done.run_id }),
        expect.objectContaining({
          action: 'archive.run.pause',
          outcome: 'refused',
          run_id: '20261201T000000000Z-deadbeef',
        }),
      ]),
    );
  });

  it('keeps to ARCHIVAL_MAX_RU_PER_SECOND after a resume: time spent paused earns no budget', async () => {
    // Paused for ten minutes, a run on a budget of 1 request unit a second must not burst after.
    await harness.destroy();
    await boot({ ARCHIVAL_MAX_RU_PER_SECOND: '1', ARCHIVAL_MAX_PAUSE_MINUTES: '60' });
    afterSecondPage = async () => {
      expect((await api.post(`/archive/runs/${running()}/pause`)).statusCode).toBe(202);
    };
    let resumedAt = 0;
    onSleep = async () => {
      if (resumedAt === 0 && nowMs - startMs >= 10 * 60_000) {
        expect((await api.post(`/archive/runs/${running()}/resume`)).statusCode).toBe(202);
        resumedAt = nowMs;
      }
    };
    const startMs = nowMs;
    const runId = await startRun();
    await harness.services.archiver.settled();
    const ended = await runOf(runId);
    expect(ended).toMatchObject({ status: 'succeeded', archived: 20 });
    expect(resumedAt).toBeGreaterThan(0);
    const spent = ended.usage?.cosmos.request_units ?? 0;
    if (backend === 'azure') {
      // Over the time it worked (the pause left out), it kept to about 1 unit a second; counting
      // the pause as budget, it would have spent its 10 minutes' credit at once after the resume.
      const workingSeconds = (nowMs - startMs - (ended.paused_ms ?? 0)) / 1000;
      expect(ended.paused_ms).toBeGreaterThanOrEqual(9 * 60_000);
      expect(spent).toBeGreaterThan(40);
      expect(workingSeconds).toBeGreaterThanOrEqual(spent * 0.5);
    } else expect(spent).toBe(0);
  });
});
