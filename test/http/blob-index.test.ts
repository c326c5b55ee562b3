import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobArchiveIndex } from '../../src/adapters/blob-index/blob-archive-index.js';
import { sha256Hex } from '../../src/domain/billing-record.js';
import {
  encodeIndexRoot,
  filesOf,
  indexFileName,
  indexRootName,
  INDEX_ROOT_PREFIX,
  parseIndexRoot,
} from '../../src/domain/index-root.js';
import { apiClient, type ApiClient } from '../helpers/api.js';
import { afterLiveCreate, type ArmedStep } from '../helpers/intercept.js';
import { BACKENDS, blobNames, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';

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

  it('verify fails on index counts that disagree with the files, and --repair counts them again', async () => {
    for (let i = 0; i < 3; i++)
      await api.post('/billing', recordBody({ id: `counted-${i}`, created_at: daysAgo(200) }));
    await api.post('/archive/sync');
    const rootNames = await blobNames(harness, INDEX_ROOT_PREFIX);
    const newest = rootNames.at(-1) ?? '';
    const root = parseIndexRoot(await harness.adapters.store.get(newest), newest);
    const wrong = encodeIndexRoot({
      ...root,
      generation: root.generation + 1,
      counts: { entries: 9, bytes: 9 },
    });
    await harness.adapters.store.putIfAbsent(indexRootName(root.generation + 1), wrong, {
      sha256: sha256Hex(wrong),
    });
    const found = await harness.services.verifier.verify();
    expect(found.ok).toBe(false);
    expect(found.corrupt.items.map((item) => item.message)).toEqual([
      expect.stringContaining('the archive index counts 9 entries of 9 bytes, its files hold 3 of'),
    ]);
    const repaired = await harness.services.verifier.verify({ repair: true });
    expect(repaired).toMatchObject({ ok: true, repaired: { index_counts_recounted: true } });
    const stats = (await api.get('/stats')).json<{ archived_bytes: number }>();
    const month = daysAgo(200).slice(0, 7);
    expect(stats).toMatchObject({
      archived_records: 3,
      archived_by_month: [{ month, count: 3, bytes: stats.archived_bytes }],
    });

    // Totals right, months wrong: found and counted again alike.
    const recounted = parseIndexRoot(
      await harness.adapters.store.get(indexRootName(root.generation + 2)),
      indexRootName(root.generation + 2),
    );
    const misdated = encodeIndexRoot({
      ...recounted,
      generation: recounted.generation + 1,
      counts: { ...recounted.counts, months: { '2001-01': { entries: 3, bytes: stats.archived_bytes } } },
    });
    await harness.adapters.store.putIfAbsent(indexRootName(recounted.generation + 1), misdated, {
      sha256: sha256Hex(misdated),
    });
    expect((await harness.services.verifier.verify()).corrupt.items.map((item) => item.message)).toEqual([
      expect.stringContaining('counts by creation month disagree with its files'),
    ]);
    expect(await harness.services.verifier.verify({ repair: true })).toMatchObject({
      ok: true,
      repaired: { index_counts_recounted: true },
    });
    expect(await harness.services.stats.stats()).toMatchObject({
      archived_by_month: [{ month, count: 3, bytes: stats.archived_bytes }],
    });
  });

  /** Every file the newest root names loses a byte: the index can no longer answer. */
  async function damageEveryIndexFile(): Promise<void> {
    const store = harness.adapters.store;
    const newest = (await blobNames(harness, INDEX_ROOT_PREFIX)).at(-1) ?? '';
    for (const file of filesOf(parseIndexRoot(await store.get(newest), newest))) {
      const bytes = await store.get(file.name);
      bytes[0] = (bytes[0] ?? 0) ^ 0xff;
      await store.delete(file.name);
      await store.putIfAbsent(file.name, bytes, { sha256: sha256Hex(bytes) });
    }
  }

  it('verify --repair --rebuild-index builds a damaged index again whole: newest versions, nothing deleted or restored back', async () => {
    const created = new Map<string, unknown>();
    for (const id of ['kept-0', 'kept-1', 'twice', 'restored', 'deleted', 'gone-after-restore', 'noted']) {
      const response = await api.post('/billing', recordBody({ id, created_at: daysAgo(200) }));
      created.set(id, response.json());
    }
    await api.post('/archive/sync');
    // Archived twice: its first copy stays in the first segment, dead, and must not come back.
    const updated = await api.put(
      '/billing/twice',
      recordBody({ id: 'twice', amount: 7.5, created_at: daysAgo(200) }),
    );
    expect(updated.statusCode).toBe(200);
    created.set('twice', updated.json());
    expect((await api.post('/restore/gone-after-restore')).statusCode).toBe(200);
    expect((await api.delete('/billing/gone-after-restore')).statusCode).toBe(204);
    // With no threshold, so that the record updated a moment ago moves again.
    await harness.services.archiver.runOnce({ olderThanDays: 0 });
    expect((await api.post('/restore/restored')).statusCode).toBe(200);
    expect((await api.delete('/billing/deleted')).statusCode).toBe(204);
    // A delete that noted itself and then failed to withdraw the entry: the record still reads.
    await harness.adapters.deletions.note('noted', new Date().toISOString());
    expect((await api.get('/billing/noted')).statusCode).toBe(200);
    expect((await api.get('/billing/twice')).headers['x-record-source']).toBe('archive');
    await damageEveryIndexFile();
    const reader = await startHarness({ reuse: harness, env });
    try {
      expect((await apiClient(reader.app).get('/billing/kept-0')).statusCode).toBe(500);

      const report = await harness.services.verifier.verify({ repair: true, rebuildIndex: true });
      expect(report, JSON.stringify(report)).toMatchObject({
        ok: true,
        repaired: { entries_rebuilt: 4, index_rebuild_finished: true, index_counts_recounted: false },
      });
      expect(report.repaired.index_files_discarded).toBeGreaterThan(0);
      // Kept rather than lost, and named so that whoever meant to delete it can.
      expect(report.unconfirmed_deletes.items.map((item) => item.id)).toEqual(['noted']);
      // A process that read the damaged index reads the rebuilt one: it is the next generation.
      const readerApi = apiClient(reader.app);
      for (const id of ['kept-0', 'kept-1', 'twice', 'noted']) {
        const response = await readerApi.get(`/billing/${id}`);
        expect(response.statusCode, id).toBe(200);
        expect(response.headers['x-record-source'], id).toBe('archive');
        expect(response.json(), id).toEqual(created.get(id));
      }
      expect((await readerApi.get('/billing/restored')).headers['x-record-source']).toBe('live');
      expect((await readerApi.get('/billing/deleted')).statusCode).toBe(404);
      expect((await readerApi.get('/billing/gone-after-restore')).statusCode).toBe(404);
      expect((await readerApi.post('/billing', recordBody({ id: 'after-0' }))).statusCode).toBe(201);
      expect((await harness.services.verifier.verify()).ok).toBe(true);
      expect((await harness.services.stats.stats()).archived_records).toBe(4);
    } finally {
      await reader.close();
    }
  });

  it('while a rebuild is under way nothing reads "not archived" from the index, and any later repair finishes it', async () => {
    for (let i = 0; i < 3; i++)
      await api.post('/billing', recordBody({ id: `cold-${i}`, created_at: daysAgo(200) }));
    await api.post('/billing', recordBody({ id: 'warm-0', created_at: daysAgo(2) }));
    await api.post('/archive/sync');
    // A rebuild that crashed right after emptying the index.
    const upkeep = harness.adapters.index.upkeep;
    if (!upkeep) throw new Error('the blob index keeps files');
    await upkeep.beginRebuild({ started_at: new Date().toISOString(), by: 'repair-crashed' });
    const other = await startHarness({ reuse: harness, env });
    try {
      for (const client of [api, apiClient(other.app)]) {
        const read = await client.get('/billing/cold-0');
        expect(read.statusCode).toBe(503);
        expect(read.json<{ message: string }>().message).toContain('the archive index is being rebuilt');
        // A create would shadow the archived record of the same id: refused, and nothing is left live.
        const created = await client.post('/billing', recordBody({ id: 'cold-1', created_at: daysAgo(200) }));
        expect(created.statusCode).toBe(503);
        expect((await client.post('/billing', recordBody({ id: 'fresh-0' }))).statusCode).toBe(503);
        expect((await client.delete('/billing/cold-2')).statusCode).toBe(503);
        expect((await client.get('/archive/records')).statusCode).toBe(503);
        // Live records are served and changed as ever.
        expect((await client.get('/billing/warm-0')).statusCode).toBe(200);
        expect(
          (
            await client.put(
              '/billing/warm-0',
              recordBody({ id: 'warm-0', amount: 3, created_at: daysAgo(2) }),
            )
          ).statusCode,
        ).toBe(200);
      }
      expect(await harness.adapters.live.get('cold-1')).toBeUndefined();
      expect(await harness.adapters.live.get('fresh-0')).toBeUndefined();
      const run = await api.post('/archive/sync');
      expect(run.statusCode).toBe(409);
      expect(run.json<{ message: string }>().message).toContain('waits while the archive index is rebuilt');
      await expect(harness.services.compactor.compact({ minDeadShare: 0.01 })).rejects.toThrow(
        'compaction waits while the archive index is rebuilt',
      );
      const plain = await harness.services.verifier.verify();
      expect(plain.ok).toBe(false);
      expect(plain.corrupt.items.map((item) => item.message)).toContainEqual(
        expect.stringContaining('being rebuilt (begun at'),
      );

      const finished = await harness.services.verifier.verify({ repair: true });
      expect(finished, JSON.stringify(finished)).toMatchObject({
        ok: true,
        repaired: { entries_rebuilt: 3, index_rebuild_finished: true, index_files_discarded: 0 },
      });
      expect(await upkeep.rebuildUnderWay()).toBeUndefined();
      const otherApi = apiClient(other.app);
      expect((await otherApi.get('/billing/cold-0')).headers['x-record-source']).toBe('archive');
      expect(
        (await otherApi.post('/billing', recordBody({ id: 'cold-1', created_at: daysAgo(200) }))).statusCode,
      ).toBe(409);
      expect((await otherApi.post('/billing', recordBody({ id: 'fresh-0' }))).statusCode).toBe(201);
      expect((await otherApi.get('/billing/nobody')).statusCode).toBe(404);
      expect((await api.post('/archive/sync')).statusCode).toBe(200);
    } finally {
      await other.close();
    }
  });

  it('a rebuild refuses to start beside a segment with no manifest, stays open while one cannot be read, and removes nothing meanwhile', async () => {
    for (let i = 0; i < 6; i++)
      await api.post('/billing', recordBody({ id: `m-${i}`, created_at: daysAgo(200 + (i % 2) * 40) }));
    await api.post('/archive/sync');
    const store = harness.adapters.store;
    // A segment a run wrote before it died, with no manifest: which records it holds is unknown.
    const [first] = await blobNames(harness, 'segments/');
    if (!first) throw new Error('no segment was written');
    const leftover = first.replace(/\.ndjson\.gz$/, '-leftover.ndjson.gz');
    const leftoverBytes = await store.get(first);
    const putLeftover = () =>
      store.putIfAbsent(leftover, leftoverBytes, { sha256: sha256Hex(leftoverBytes) });
    await putLeftover();
    await expect(
      harness.services.verifier.verify({ repair: true, rebuildIndex: true, graceMs: 0 }),
    ).rejects.toThrow('1 segments have no manifest');
    expect(await harness.adapters.index.upkeep?.rebuildUnderWay()).toBeUndefined();
    expect((await api.get('/billing/m-0')).statusCode).toBe(200);
    await store.delete(leftover);

    const manifests = await blobNames(harness, 'manifests/');
    expect(manifests.length).toBeGreaterThan(1);
    const [lost] = manifests;
    if (!lost) throw new Error('no manifest was written');
    const kept = await store.get(lost);
    const damaged = Buffer.from(kept);
    damaged[0] = (damaged[0] ?? 0) ^ 0xff;
    await store.delete(lost);
    await store.putIfAbsent(lost, damaged, { sha256: sha256Hex(damaged) });

    const open = await harness.services.verifier.verify({ repair: true, rebuildIndex: true, graceMs: 0 });
    expect(open.ok).toBe(false);
    expect(open.repaired.index_rebuild_finished).toBe(false);
    expect(open.corrupt.items.map((item) => item.message)).toContainEqual(
      expect.stringContaining('the rebuild of the archive index stays open'),
    );
    expect(await harness.adapters.index.upkeep?.rebuildUnderWay()).toBeDefined();
    const answers = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => (await api.get(`/billing/m-${i}`)).statusCode),
    );
    // The records of the readable segment are back; the others wait for the rebuild, never 404.
    expect(answers).toContain(200);
    expect(answers).toContain(503);
    expect(answers).not.toContain(404);

    // A manifest mended, but a leftover segment turned up: still open, and the leftover stays.
    await store.delete(lost);
    await store.putIfAbsent(lost, kept, { sha256: sha256Hex(kept) });
    await putLeftover();
    const segments = await blobNames(harness, 'segments/');
    const still = await harness.services.verifier.verify({ repair: true, graceMs: 0 });
    expect(still).toMatchObject({
      ok: false,
      repaired: { index_rebuild_finished: false, orphans_removed: 0 },
    });
    expect(still.orphans.items).toContainEqual(
      expect.objectContaining({
        blob: leftover,
        message: expect.stringContaining('kept while the index is rebuilt') as unknown,
      }),
    );
    expect(await blobNames(harness, 'segments/')).toEqual(segments);

    await store.delete(leftover);
    const ended = await harness.services.verifier.verify({ repair: true, graceMs: 0 });
    expect(ended, JSON.stringify(ended)).toMatchObject({
      ok: true,
      repaired: { index_rebuild_finished: true },
    });
    for (let i = 0; i < 6; i++) expect((await api.get(`/billing/m-${i}`)).statusCode).toBe(200);
  });

  it('rebuilds a record-layout index whole: a held copy an undone expiry left, a delete noted but never done, none confirmed deleted', async () => {
    const recordLayout = await startHarness({
      backend,
      layout: 'record',
      env: { ...env, RETENTION_DAYS: '2555' },
    });
    try {
      const recordApi = apiClient(recordLayout.app);
      const { records } = recordLayout.services;
      for (const id of ['r-0', 'r-1', 'r-deleted', 'r-noted'])
        await records.create(recordBody({ id, created_at: daysAgo(200) }));
      // Past retention but held: kept, in a copy under held/.
      await records.create(recordBody({ id: 'r-held', created_at: '2018-03-10T10:00:00.000Z' }));
      await records.setLegalHold('r-held', {
        held: true,
        by: 'legal@example.com',
        reason: 'litigation 2026-17',
      });
      expect(await recordLayout.services.archiver.runOnce()).toMatchObject({
        archived: 5,
        expired: 0,
        kept_on_hold: 1,
        held_copied: 1,
      });
      // As an expiry leaves it when a hold lands between its two looks (it notes, withdraws, puts back).
      await recordLayout.adapters.deletions.note('r-held', new Date().toISOString());
      expect((await recordApi.delete('/billing/r-deleted')).statusCode).toBe(204);
      await recordLayout.adapters.deletions.note('r-noted', new Date().toISOString());
      const before = new Map<string, unknown>();
      for (const id of ['r-0', 'r-1', 'r-noted', 'r-held'])
        before.set(id, (await recordApi.get(`/billing/${id}`)).json());

      const report = await recordLayout.services.verifier.verify({ repair: true, rebuildIndex: true });
      expect(report, JSON.stringify(report)).toMatchObject({
        ok: true,
        repaired: { entries_rebuilt: 4, index_rebuild_finished: true },
      });
      expect(report.unconfirmed_deletes.items.map((item) => item.id).sort()).toEqual(['r-held', 'r-noted']);
      for (const [id, body] of before) {
        const response = await recordApi.get(`/billing/${id}`);
        expect(response.statusCode, id).toBe(200);
        expect(response.json(), id).toEqual(body);
      }
      expect((await recordLayout.adapters.index.get('r-held'))?.location.blob).toMatch(/^held\//);
      expect((await recordApi.get('/billing/r-deleted')).statusCode).toBe(404);
    } finally {
      await recordLayout.destroy();
    }
  });

  it('a restore overtaken by a whole rebuild keeps the record it made live', async () => {
    const armed: ArmedStep = {};
    const raced = await startHarness({ backend, layout: 'segment', env, wrap: afterLiveCreate(armed) });
    try {
      const racedApi = apiClient(raced.app);
      for (const id of ['raced-0', 'raced-1'])
        await racedApi.post('/billing', recordBody({ id, created_at: daysAgo(200) }));
      await racedApi.post('/archive/sync');
      // Between the restore's live copy and its withdrawal, a rebuild empties the index.
      armed.next = async () => {
        await raced.adapters.index.upkeep?.beginRebuild({
          started_at: new Date().toISOString(),
          by: 'repair-racing',
        });
        // It even ends before the restore withdraws: the withdrawal meets an index that is no
        // longer marked, and must still not take the empty answer for a delete.
        await raced.adapters.index.upkeep?.endRebuild();
      };
      expect((await racedApi.post('/restore/raced-0')).statusCode).toBe(200);
      expect(armed.next).toBeUndefined();
      expect(await raced.adapters.live.get('raced-0')).toBeDefined();
      const report = await raced.services.verifier.verify({ repair: true });
      expect(report, JSON.stringify(report)).toMatchObject({ ok: true, repaired: { entries_rebuilt: 1 } });
      expect((await racedApi.get('/billing/raced-0')).headers['x-record-source']).toBe('live');
      expect((await racedApi.get('/billing/raced-1')).headers['x-record-source']).toBe('archive');
    } finally {
      await raced.destroy();
    }
  });

  it('--rebuild-index refuses while an archived blob is in the Archive tier, and without --repair', async () => {
    await api.post('/billing', recordBody({ id: 'cold-0', created_at: daysAgo(200) }));
    await api.post('/archive/sync');
    await expect(harness.services.verifier.verify({ rebuildIndex: true })).rejects.toThrow('add --repair');
    const [segment] = await blobNames(harness, 'segments/');
    const tiers = harness.adapters.store.tiers;
    if (!segment) throw new Error('no segment was written');
    if (tiers) {
      await tiers.setTier(segment, 'Archive');
      await expect(harness.services.verifier.verify({ repair: true, rebuildIndex: true })).rejects.toThrow(
        '1 archived blobs are in the Archive tier',
      );
      // Nothing was emptied: the record is still indexed, and asks to be rehydrated.
      expect((await api.get('/billing/cold-0')).json()).toMatchObject({ error: 'rehydrating' });
      expect(await harness.adapters.index.upkeep?.rebuildUnderWay()).toBeUndefined();
    }
  });

  it('runs prune the old index roots, and verify --repair removes index files no root names', async () => {
    let ahead = 0;
    const clocked = await startHarness({
      backend,
      layout: 'segment',
      env,
      clock: () => new Date(Date.now() + ahead),
    });
    const clockedApi = apiClient(clocked.app);
    const roots = () => blobNames(clocked, INDEX_ROOT_PREFIX);
    try {
      const archiveOld = async (prefix: string) => {
        for (let i = 0; i < 10; i++)
          await clockedApi.post('/billing', recordBody({ id: `${prefix}-${i}`, created_at: daysAgo(200) }));
        const run = (await clockedApi.post('/archive/sync')).json<{ archived: number }>();
        expect(run.archived).toBe(10);
      };
      await archiveOld('first');
      expect((await clockedApi.post('/restore/first-0')).statusCode).toBe(200);
      await archiveOld('between');
      // Every root is younger than the retention (an hour): the runs kept them all.
      expect((await roots()).length).toBeGreaterThanOrEqual(3);

      // What a commit that died before its root leaves: a file of a generation the index reached.
      const orphan = indexFileName(null, 1);
      const bytes = Buffer.from('a commit that never landed');
      await clocked.adapters.store.putIfAbsent(orphan, bytes, { sha256: sha256Hex(bytes) });
      const found = await clocked.services.verifier.verify({ repair: true });
      expect(found.orphans.items).toContainEqual({
        blob: orphan,
        message: 'index file no index root names (younger than the grace period)',
      });

      // A day later, a repair takes the orphan and prunes the roots superseded since.
      ahead = 25 * 60 * 60 * 1000;
      const before = await roots();
      const repaired = await clocked.services.verifier.verify({ repair: true });
      expect(repaired).toMatchObject({
        ok: true,
        orphans: { count: 0 },
        repaired: { orphans_removed: 1, index_roots_pruned: before.length - 1 },
      });
      expect(await roots()).toEqual([before.at(-1)]);
      expect(await blobNames(clocked, 'index/files/')).not.toContain(orphan);
      // A run's commits are an hour old by the clock the index keeps: the run prunes them itself.
      await archiveOld('second');
      expect(await roots()).toHaveLength(1);

      // A process opening now finds the one root left, and every record where it was.
      const other = await startHarness({ reuse: clocked, env });
      try {
        expect((await apiClient(other.app).get('/billing/first-0')).headers['x-record-source']).toBe('live');
        for (const id of ['first-9', 'between-0', 'second-0', 'second-9']) {
          const response = await apiClient(other.app).get(`/billing/${id}`);
          expect(response.headers['x-record-source'], id).toBe('archive');
        }
      } finally {
        await other.close();
      }
    } finally {
      await clocked.destroy();
    }
  });
});
