import { afterEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/domain/errors.js';
import { apiClient, expectError } from '../helpers/api.js';
import { SETUPS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { intercept } from '../helpers/intercept.js';

describe.each(SETUPS)('operations API ($backend, $layout layout)', ({ backend, layout }) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
  });

  it('GET /health and GET /ready answer 200 when every store answers', async () => {
    harness = await startHarness({ backend, layout });
    const api = apiClient(harness.app);
    expect((await api.get('/health')).json()).toEqual({ status: 'ok' });
    const ready = await api.get('/ready');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ ready: true, stores: { live: { ok: true }, store: { ok: true } } });
  });

  it('GET /ready answers 503 naming the store that does not answer', async () => {
    harness = await startHarness({
      backend,
      wrap: (adapters) => ({
        ...adapters,
        store: intercept(adapters.store, {
          ping: () => Promise.reject(new StoreUnavailableError('archive directory unreachable')),
        }),
      }),
    });
    const ready = await apiClient(harness.app).get('/ready');
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({
      ready: false,
      stores: { store: { ok: false, error: 'archive directory unreachable' }, live: { ok: true } },
    });
    // Without the admin role: not ready, and nothing about why.
    const anonymous = await apiClient(harness.app, null).get('/ready');
    expect(anonymous.statusCode).toBe(503);
    expect(anonymous.json()).toEqual({ ready: false });
  });

  it('GET /stats is shared for STATS_CACHE_SECONDS: counting is a scan on Cosmos DB', async () => {
    harness = await startHarness({ backend, layout, env: { STATS_CACHE_SECONDS: '3600' } });
    const api = apiClient(harness.app);
    expect((await api.get('/stats')).json()).toMatchObject({ live_records: 0 });
    await api.post('/billing', recordBody());
    expect((await api.get('/stats')).json()).toMatchObject({ live_records: 0 });
  });

  it('GET /stats reports counts, the oldest live record, the last run and run totals', async () => {
    harness = await startHarness({ backend, layout });
    const api = apiClient(harness.app);
    const oldCreatedAt = daysAgo(100);
    await api.post('/billing', recordBody({ id: 'old', created_at: oldCreatedAt }));
    await api.post('/billing', recordBody({ id: 'mid', created_at: daysAgo(20) }));
    await api.post('/billing', recordBody({ id: 'new' }));
    const before = (await api.get('/stats')).json<Record<string, unknown>>();
    expect(before).toMatchObject({
      live_records: 3,
      archived_records: 0,
      archived_by_month: [],
      last_run: null,
      runs: { count: 0 },
    });
    expect(before.oldest_live_age_days).toBeGreaterThan(99.9);
    const run = (await api.post('/archive/sync')).json<{ run_id: string; bytes: number }>();
    const after = (await api.get('/stats')).json<Record<string, unknown>>();
    expect(after).toMatchObject({
      live_records: 2,
      archived_records: 1,
      archived_bytes: run.bytes,
      archived_by_month: [{ month: oldCreatedAt.slice(0, 7), count: 1, bytes: run.bytes }],
      archival_days_threshold: 90,
      last_run: { run_id: run.run_id, status: 'succeeded' },
      runs: { count: 1, succeeded: 1, failed: 0 },
    });
    expect(after.oldest_live_age_days).toBeGreaterThan(19.9);
    expect(after.oldest_live_age_days).toBeLessThan(20.1);
    // The cost model (test/http/cost.test.ts checks its figures) replaces the old savings estimate.
    expect(after).not.toHaveProperty('estimated_monthly_savings');
    expect(after.cost).toMatchObject({ currency: 'USD', live: { records: 2 }, archive: { records: 1 } });
  });

  it('GET /metrics exposes Prometheus metrics including record counts and request totals', async () => {
    harness = await startHarness({ backend, layout });
    const api = apiClient(harness.app);
    await api.post('/billing', recordBody());
    await api.get('/billing/nope');
    const metrics = await api.get('/metrics');
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain('billing_archive_records{location="live"} 1');
    expect(metrics.body).toMatch(
      /billing_archive_http_requests_total\{method="GET",route="\/billing\/:id",status="404"\} 1/,
    );
  });

  it('answers unknown routes with a JSON 404', async () => {
    harness = await startHarness({ backend, layout });
    expectError(await apiClient(harness.app).get('/nothing/here'), 404, 'route_not_found');
  });

  it('keeps every record, live and archived, across a restart on the same stores', async () => {
    const first = await startHarness({ backend, layout });
    try {
      const api1 = apiClient(first.app);
      const live = await api1.post('/billing', recordBody({ id: 'stays-live' }));
      const archived = await api1.post(
        '/billing',
        recordBody({ id: 'gets-archived', created_at: daysAgo(100) }),
      );
      await api1.post('/archive/sync');
      await first.close();
      harness = await startHarness({ reuse: first });
      const api2 = apiClient(harness.app);
      const readLive = await api2.get('/billing/stays-live');
      const readArchived = await api2.get('/billing/gets-archived');
      expect(readLive.body).toBe(live.body);
      expect(readArchived.body).toBe(archived.body);
      expect(readArchived.headers['x-record-source']).toBe('archive');
      expect((await api2.get('/archive/runs')).json<{ items: unknown[] }>().items).toHaveLength(1);
    } finally {
      await harness?.close();
      await first.destroy();
    }
  });
});
