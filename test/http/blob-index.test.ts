import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobArchiveIndex } from '../../src/adapters/blob-index/blob-archive-index.js';
import { INDEX_ROOT_PREFIX } from '../../src/domain/index-root.js';
import { apiClient, type ApiClient } from '../helpers/api.js';
import { BACKENDS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';

/**
 * The whole service on ARCHIVE_INDEX=blob: the archive index kept as files in the archive store
 * (issue 15), through the HTTP API as clients use it, and read again by a second process.
 */
describe.each(BACKENDS)('the API on the blob-native archive index (%s)', (backend) => {
  let harness: Harness;
  let api: ApiClient;
  const env = { ARCHIVE_INDEX: 'blob', ARCHIVE_INDEX_SHARDS: '4', BATCH_SIZE: '5' };

  beforeEach(async () => {
    harness = await startHarness({ backend, layout: 'segment', env });
    api = apiClient(harness.app);
  });
  afterEach(async () => {
    await harness.destroy();
  });

  it('archives, reads, updates, restores and deletes records as on any index, and verify finds it whole', async () => {
    expect(harness.adapters.index).toBeInstanceOf(BlobArchiveIndex);
    const created = new Map<string, unknown>();
    for (let i = 0; i < 12; i++) {
      const response = await api.post('/billing', recordBody({ id: `old-${i}`, created_at: daysAgo(200) }));
      expect(response.statusCode).toBe(201);
      created.set(`old-${i}`, response.json());
    }
    await api.post('/billing', recordBody({ id: 'new-0', created_at: daysAgo(5) }));

    const run = (await api.post('/archive/sync')).json<{ archived: number; batches: number }>();
    expect(run).toMatchObject({ archived: 12, batches: 3 });
    const roots = [];
    for await (const blob of harness.adapters.store.list(INDEX_ROOT_PREFIX)) roots.push(blob.name);
    expect(roots.length).toBeGreaterThan(0);

    for (const [id, body] of created) {
      const response = await api.get(`/billing/${id}`);
      expect(response.statusCode, id).toBe(200);
      expect(response.headers['x-record-source']).toBe('archive');
      expect(response.json()).toEqual(body);
    }

    // A second process over the same stores sees each change as soon as it was answered.
    const other = await startHarness({ reuse: harness, env });
    const otherApi = apiClient(other.app);
    try {
      expect((await api.post('/restore/old-0')).statusCode).toBe(200);
      expect((await otherApi.get('/billing/old-0')).headers['x-record-source']).toBe('live');
      expect((await api.delete('/billing/old-1')).statusCode).toBe(204);
      expect((await otherApi.get('/billing/old-1')).statusCode).toBe(404);
      const updated = await otherApi.put(
        '/billing/old-2',
        recordBody({ id: 'old-2', amount: 7.5, created_at: daysAgo(200) }),
      );
      expect(updated.statusCode).toBe(200);
      expect((await api.get('/billing/old-2')).json()).toMatchObject({ amount: 7.5 });
    } finally {
      await other.close();
    }

    const stats = (await api.get('/stats')).json<{ archived_records: number; live_records: number }>();
    expect(stats).toMatchObject({ archived_records: 9, live_records: 3 });
    const report = await harness.services.verifier.verify();
    expect(report.ok, JSON.stringify(report)).toBe(true);
    expect(report.missing.count + report.corrupt.count).toBe(0);
  });
});
