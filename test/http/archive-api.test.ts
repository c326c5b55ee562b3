import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { apiClient, expectError, type ApiClient } from '../helpers/api.js';
import { SETUPS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';

interface Run {
  run_id: string;
  status: string;
  dry_run: boolean;
  eligible: number;
  archived: number;
  skipped: number;
  failed: number;
  batches: number;
  duration_ms: number;
  bytes: number;
}

describe.each(SETUPS)('archive API ($backend, $layout layout)', ({ backend, layout }) => {
  let harness: Harness;
  let api: ApiClient;
  beforeEach(async () => {
    harness = await startHarness({ backend, layout, env: { BATCH_SIZE: '3' } });
    api = apiClient(harness.app);
  });
  afterEach(async () => {
    await harness.destroy();
  });

  async function seed(count: number, ageDays: number, prefix = 'r'): Promise<void> {
    for (let i = 0; i < count; i++) {
      const response = await api.post(
        '/billing',
        recordBody({ id: `${prefix}${i}`, created_at: daysAgo(ageDays) }),
      );
      expect(response.statusCode).toBe(201);
    }
  }

  it('POST /archive/sync archives records older than the threshold in batches and reports the run', async () => {
    await seed(7, 100, 'old');
    await seed(2, 10, 'new');
    const response = await api.post('/archive/sync');
    expect(response.statusCode).toBe(200);
    const run = response.json<Run>();
    expect(run).toMatchObject({
      status: 'succeeded',
      eligible: 7,
      archived: 7,
      skipped: 0,
      failed: 0,
      batches: 3,
    });
    expect(run.run_id).toBeTruthy();
    expect(run.duration_ms).toBeGreaterThanOrEqual(0);
    expect(run.bytes).toBeGreaterThan(0);
    expect((await harness.adapters.live.summary()).count).toBe(2);
    expect((await harness.adapters.index.summary()).count).toBe(7);
    expect((await api.get('/billing/old3')).headers['x-record-source']).toBe('archive');
    expect((await api.get('/billing/new1')).headers['x-record-source']).toBe('live');
  });

  it('honours older_than_days, dry_run and limit', async () => {
    await seed(5, 40);
    const dry = (await api.post('/archive/sync', { older_than_days: 30, dry_run: true })).json<Run>();
    expect(dry).toMatchObject({ dry_run: true, eligible: 5, archived: 0 });
    expect((await harness.adapters.live.summary()).count).toBe(5);
    expect((await api.post('/archive/sync')).json<Run>()).toMatchObject({ eligible: 0, archived: 0 });
    const limited = (await api.post('/archive/sync', { older_than_days: 30, limit: 2 })).json<Run>();
    expect(limited).toMatchObject({ archived: 2 });
    expect((await harness.adapters.live.summary()).count).toBe(3);
  });

  it.each([
    [{ older_than_days: -1 }, 'older_than_days'],
    [{ older_than_days: '30' }, 'older_than_days'],
    [{ dry_run: 'yes' }, 'dry_run'],
    [{ limit: 0 }, 'limit'],
    [{ surprise: 1 }, 'surprise'],
  ])('answers 400 for options %j and runs nothing', async (body, needle) => {
    await seed(1, 100);
    expect(expectError(await api.post('/archive/sync', body), 400, 'validation_error')).toContain(needle);
    expect(expectError(await api.post('/archive', body), 400, 'validation_error')).toContain(needle);
    expect((await harness.adapters.live.summary()).count).toBe(1);
    expect((await api.get('/archive/runs')).json<{ items: Run[] }>().items).toEqual([]);
  });

  it('POST /archive answers 202 at once and the run shows up finished in the history', async () => {
    await seed(4, 100);
    const response = await api.post('/archive');
    expect(response.statusCode).toBe(202);
    const { run_id: runId, status_url: statusUrl } = response.json<{ run_id: string; status_url: string }>();
    expect(response.headers.location).toBe(statusUrl);
    await vi.waitFor(async () => {
      expect((await api.get(statusUrl)).json<Run>()).toMatchObject({
        run_id: runId,
        status: 'succeeded',
        archived: 4,
      });
    });
    const history = (await api.get('/archive/runs')).json<{ items: Run[] }>();
    expect(history.items.map((r) => r.run_id)).toEqual([runId]);
    expectError(await api.get('/archive/runs/unknown-run'), 404, 'not_found');
    // Characters no run id has never reach the run history's query (on Cosmos DB they were a 503).
    for (const bad of ['bad%23id', 'bad%5Cid', 'a%20b', 'x'.repeat(101)])
      expect(expectError(await api.get(`/archive/runs/${bad}`), 400, 'validation_error')).toContain(
        'path parameter run_id must be a run id',
      );
  });

  it('answers 409 to a second run while one holds the lock, and changes nothing', async () => {
    await seed(2, 100);
    const lease = await harness.adapters.lock.acquire('archival-all', {
      runId: 'other',
      description: 'another process',
    });
    try {
      expect(expectError(await api.post('/archive/sync'), 409, 'archival_running')).toContain('other');
      expectError(await api.post('/archive'), 409, 'archival_running');
      expect((await harness.adapters.live.summary()).count).toBe(2);
    } finally {
      await lease.release();
    }
    expect((await api.post('/archive/sync')).json<Run>()).toMatchObject({ archived: 2 });
  });

  it('GET /archive/records lists index entries with paging and a customer filter', async () => {
    await api.post('/billing', recordBody({ id: 'a1', customer_id: 'c-9', created_at: daysAgo(100) }));
    await seed(3, 100);
    await api.post('/archive/sync');
    const all = (await api.get('/archive/records?limit=2')).json<{
      items: { id: string }[];
      next_after: string;
    }>();
    expect(all.items.map((e) => e.id)).toEqual(['a1', 'r0']);
    expect(all.next_after).toBe('r0');
    const byCustomer = (await api.get('/archive/records?customer_id=c-9')).json<{
      items: { id: string; sha256: string }[];
    }>();
    expect(byCustomer.items).toHaveLength(1);
    expect(byCustomer.items[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});
