import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Adapters } from '../../src/composition-root.js';
import type { RunRecord } from '../../src/ports/run-log.js';
import { apiClient, type ApiClient } from '../helpers/api.js';
import { SETUPS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';

/**
 * Copy-only runs (`keep_live`, issue 16): copy and index without deleting, for a first migration
 * or to check the archive before trusting it; a later normal run finishes the move without
 * writing the archive again. On every backend and layout.
 */
describe.each(SETUPS)('keep-live runs ($backend, $layout layout)', ({ backend, layout }) => {
  let harness: Harness;
  let api: ApiClient;
  /** Runs once, just before the run's first index write (a client acting mid-run), when set. */
  let beforeIndexing: (() => Promise<void>) | undefined;

  function hookIndex(adapters: Adapters): Adapters {
    const index = Object.create(adapters.index) as typeof adapters.index;
    index.putMany = async (entries) => {
      const hook = beforeIndexing;
      beforeIndexing = undefined;
      await hook?.();
      return adapters.index.putMany(entries);
    };
    return { ...adapters, index };
  }

  /** The service over fresh stores with 8 records 193 to 200 days old. */
  async function boot(env: Record<string, string> = {}): Promise<void> {
    beforeIndexing = undefined;
    harness = await startHarness({ backend, layout, env: { BATCH_SIZE: '5', ...env }, wrap: hookIndex });
    api = apiClient(harness.app);
    for (let i = 0; i < 8; i++)
      expect(
        (await api.post('/billing', recordBody({ id: `k-${i}`, created_at: daysAgo(200 - i) }))).statusCode,
      ).toBe(201);
  }

  beforeEach(async () => {
    await boot();
  });
  afterEach(async () => {
    await harness.destroy();
  });

  const sync = async (body: Record<string, unknown> = {}) => {
    const response = await api.post('/archive/sync', body);
    expect(response.statusCode, response.body).toBe(200);
    return response.json<RunRecord>();
  };
  const blobs = async () => {
    const names: string[] = [];
    for await (const info of harness.adapters.store.list('')) names.push(info.name);
    return names.filter((name) => name.startsWith('records/') || name.startsWith('segments/')).sort();
  };

  it('copies and indexes but leaves every record live; a normal run then moves them without writing again', async () => {
    const before = new Map<string, string>();
    for (let i = 0; i < 8; i++) before.set(`k-${i}`, (await api.get(`/billing/k-${i}`)).body);

    const copy = await sync({ keep_live: true });
    expect(copy).toMatchObject({ status: 'succeeded', keep_live: true, copied: 8, archived: 0, skipped: 0 });
    expect((await harness.adapters.live.summary()).count).toBe(8);
    expect((await harness.adapters.index.summary()).count).toBe(8);
    const read = await api.get('/billing/k-3');
    expect(read.headers['x-record-source']).toBe('live');
    expect(read.body).toBe(before.get('k-3'));
    const copied = await blobs();
    expect(copied.length).toBeGreaterThan(0);
    // verify finds the archive whole, and says which records are both live and archived.
    const check = await harness.services.verifier.verify({});
    expect(check.ok).toBe(true);
    expect(check.live_and_archived.count).toBe(8);

    // A record changed after the copy: the normal run archives its new version.
    const changed = (await api.get('/billing/k-5')).json<Record<string, unknown>>();
    expect(
      (await api.put('/billing/k-5', { ...changed, status: 'paid', updated_at: undefined })).statusCode,
    ).toBe(200);

    const entries = new Map<string, unknown>();
    for (const id of before.keys()) entries.set(id, await harness.adapters.index.get(id));
    const move = await sync({ older_than_days: 0 });
    expect(move).toMatchObject({ status: 'succeeded', archived: 8, skipped: 0 });
    // Seven moved by deleting the live copy alone; only the changed one was written again.
    expect(move.usage?.archive_store.by_kind.write ?? 0).toBe(layout === 'record' ? 1 : 2);
    const after = await blobs();
    expect(after.filter((name) => !copied.includes(name)).length).toBe(1);
    expect((await harness.adapters.live.summary()).count).toBe(0);
    // The unchanged records keep the very entries the copy made: nothing was indexed again.
    for (const [id, entry] of entries)
      if (id !== 'k-5') expect(await harness.adapters.index.get(id)).toEqual(entry);
    for (const [id, body] of before) {
      const archived = await api.get(`/billing/${id}`);
      expect(archived.headers['x-record-source']).toBe('archive');
      if (id !== 'k-5') expect(archived.body).toBe(body);
    }
    expect((await api.get('/billing/k-5')).json()).toMatchObject({ status: 'paid' });
  });

  it('never brings back a record deleted after the copy, or while the copy was being made', async () => {
    // Deleted while the run copies it, before its entry is written: the delete finds no entry.
    beforeIndexing = async () => {
      expect((await api.delete('/billing/k-0')).statusCode).toBe(204);
    };
    const copy = await sync({ keep_live: true });
    expect(copy).toMatchObject({ copied: 7, skipped: 1 });
    expect((await api.get('/billing/k-0')).statusCode).toBe(404);
    expect(await harness.adapters.index.get('k-0')).toBeUndefined();

    // Deleted after the copy: the delete takes the archived copy with it.
    expect((await api.delete('/billing/k-1')).statusCode).toBe(204);
    expect((await api.get('/billing/k-1')).statusCode).toBe(404);

    const move = await sync();
    expect(move).toMatchObject({ status: 'succeeded', archived: 6 });
    for (const id of ['k-0', 'k-1']) expect((await api.get(`/billing/${id}`)).statusCode).toBe(404);
    expect((await harness.adapters.index.summary()).count).toBe(6);
  });

  it('writes a record again when its copy does not read back, and never deletes the live one for it', async () => {
    const before = new Map<string, string>();
    for (let i = 0; i < 8; i++) before.set(`k-${i}`, (await api.get(`/billing/k-${i}`)).body);
    expect(await sync({ keep_live: true })).toMatchObject({ copied: 8 });
    // k-2's copy damaged, k-6's gone (in the segment layout both lie in one segment with the others).
    const blobOf = async (id: string) => (await harness.adapters.index.get(id))?.location.blob ?? '';
    await harness.overwriteBlob(await blobOf('k-2'), Buffer.from('not what was written'));
    if ((await blobOf('k-6')) !== (await blobOf('k-2')))
      await harness.adapters.store.delete(await blobOf('k-6'));

    const move = await sync();
    // Whatever happens, every record reads back as it was: none was deleted on a bad copy's word.
    for (const [id, body] of before) expect((await api.get(`/billing/${id}`)).body, id).toBe(body);
    if (layout === 'segment') {
      // A run writes segments of its own: both are written again.
      expect(move).toMatchObject({ status: 'succeeded', archived: 8, skipped: 0 });
      expect(move.usage?.archive_store.by_kind.write ?? 0).toBeGreaterThan(0);
      for (const id of before.keys())
        expect((await api.get(`/billing/${id}`)).headers['x-record-source'], id).toBe('archive');
    } else {
      // A record blob's name is its content's: the damaged one is not overwritten, and the record
      // stays live while the run stops, as for any record blob that does not hold what it should.
      expect(move.status).toBe('failed');
      expect(move.errors.join(' ')).toMatch(/k-2/);
      expect((await api.get('/billing/k-2')).headers['x-record-source']).toBe('live');
    }
  });

  it('keeps a copy whose record is live out of the retention sweep', async () => {
    await harness.destroy();
    await boot({ ARCHIVAL_DAYS_THRESHOLD: '30', RETENTION_DAYS: '100' });
    const copy = await sync({ keep_live: true });
    expect(copy).toMatchObject({ status: 'succeeded', copied: 8, expired: 0 });
    expect((await harness.adapters.index.summary()).count).toBe(8);
    expect(await harness.adapters.deletions.confirmedAt('k-0')).toBeUndefined();
    expect((await api.get('/billing/k-0')).headers['x-record-source']).toBe('live');
  });
});
