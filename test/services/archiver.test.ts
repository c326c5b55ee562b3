import { afterEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/domain/billing-record.js';
import { StoreUnavailableError } from '../../src/domain/errors.js';
import type { Adapters } from '../../src/composition-root.js';
import type { ArchiveIndex } from '../../src/ports/archive-index.js';
import type { ArchiveStore } from '../../src/ports/archive-store.js';
import type { LiveStore } from '../../src/ports/live-store.js';
import type { RecordService } from '../../src/services/record-service.js';
import { BACKENDS, blobNames, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { intercept } from '../helpers/intercept.js';
import { losingLock } from '../helpers/lost-lock.js';

// The segment layout's own faults are in segment-archiver.test.ts.
/**
 * Adapters where a client deletes `id` between a run's read and its indexing (the delete finds no
 * entry to withdraw, and the run indexes the copy it read), and `inWindow` runs after that, before
 * the run's live deletes and so before it withdraws its copy.
 */
function deletedMidRun(
  id: string,
  late: { records?: RecordService },
  inWindow: () => Promise<unknown> | undefined,
): (adapters: Adapters) => Adapters {
  return (adapters) => ({
    ...adapters,
    index: intercept<ArchiveIndex>(adapters.index, {
      putMany: async (entries) => {
        if (entries.some((entry) => entry.id === id)) await late.records?.delete(id, undefined);
        return adapters.index.putMany(entries);
      },
    }),
    live: intercept<LiveStore>(adapters.live, {
      deleteMany: async (items) => {
        await inWindow();
        return adapters.live.deleteMany(items);
      },
    }),
  });
}

describe.each(BACKENDS)('Archiver under faults, record layout (%s)', (backend) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
  });

  async function seed(h: Harness, ids: string[]): Promise<void> {
    for (const id of ids) await h.services.records.create(recordBody({ id, created_at: daysAgo(100) }));
  }

  it('keeps records whose archive write fails live, reports them, and archives them on the next run', async () => {
    let failing = true;
    harness = await startHarness({
      backend,
      layout: 'record',
      wrap: (adapters) => ({
        ...adapters,
        store: intercept<ArchiveStore>(adapters.store, {
          putIfAbsent: (name, bytes, facts) =>
            failing && name.includes('/bad-')
              ? Promise.reject(new StoreUnavailableError('injected: blob service timed out'))
              : adapters.store.putIfAbsent(name, bytes, facts),
        }),
      }),
    });
    await seed(harness, ['ok-1', 'bad-1', 'ok-2', 'bad-2']);
    const run = await harness.services.archiver.runOnce();
    expect(run).toMatchObject({ status: 'failed', archived: 2, failed: 2 });
    expect(run.errors.join('\n')).toContain("record 'bad-1' could not be written to the archive");
    expect((await harness.services.records.get('bad-1')).source).toBe('live');
    expect((await harness.services.records.get('ok-1')).source).toBe('archive');
    failing = false;
    expect(await harness.services.archiver.runOnce()).toMatchObject({
      status: 'succeeded',
      archived: 2,
      failed: 0,
    });
  });

  it('keeps the entry of a record another run took, and withdraws the one of a record a client deleted', async () => {
    const late: { deleteByClient?: (id: string) => Promise<void> } = {};
    harness = await startHarness({
      backend,
      layout: 'record',
      // Fault injection: between the run's indexing and its conditional deletes, one record is
      // taken by a second run (after a lost lock, or this run's own delete whose answer was lost:
      // gone, nothing noted) and another deleted by a client (noted, then gone).
      wrap: (adapters) => ({
        ...adapters,
        live: intercept<LiveStore>(adapters.live, {
          deleteMany: async (items) => {
            for (const { id, etag } of items) {
              if (id === 'taken') await adapters.live.delete(id, etag);
              if (id === 'deleted') await late.deleteByClient?.(id);
            }
            return adapters.live.deleteMany(items);
          },
        }),
      }),
    });
    const records = harness.services.records;
    late.deleteByClient = (id) => records.delete(id, undefined);
    await seed(harness, ['taken', 'deleted', 'plain']);
    const taken = await records.get('taken');
    const run = await harness.services.archiver.runOnce();
    expect(run).toMatchObject({ status: 'succeeded', archived: 2, skipped: 1 });
    expect(await records.get('taken')).toMatchObject({ source: 'archive', doc: taken.doc });
    await expect(records.get('deleted')).rejects.toMatchObject({ code: 'not_found' });
    expect(await harness.adapters.index.get('deleted')).toBeUndefined();
    expect((await records.get('plain')).source).toBe('archive');
  });

  it('withdraws its own fresh entry of a record changed meanwhile even when a late copy of the index write changed its etag', async () => {
    harness = await startHarness({
      backend,
      layout: 'record',
      // Fault injection: the index write lands twice (a retried write whose first copy arrived
      // late), and a client updates one record before the run's conditional delete.
      wrap: (adapters) => ({
        ...adapters,
        index: intercept<ArchiveIndex>(adapters.index, {
          putMany: async (entries) => {
            const stored = await adapters.index.putMany(entries);
            await adapters.index.putMany(entries);
            return stored;
          },
        }),
        live: intercept<LiveStore>(adapters.live, {
          deleteMany: async (items) => {
            const current = await adapters.live.get('changed');
            if (current) await adapters.live.replace({ ...current.doc, amount: 77 }, current.etag);
            return adapters.live.deleteMany(items);
          },
        }),
      }),
    });
    await seed(harness, ['changed', 'plain']);
    const run = await harness.services.archiver.runOnce();
    expect(run).toMatchObject({ status: 'succeeded', archived: 1, skipped: 1 });
    // Left behind, the entry would outlive the live copy: a later delete of it would not find it,
    // and the archived version would read again.
    expect(await harness.adapters.index.get('changed')).toBeUndefined();
    expect(await harness.services.records.get('changed')).toMatchObject({
      source: 'live',
      doc: { amount: 77 },
    });
    expect((await harness.services.records.get('plain')).source).toBe('archive');
  });

  it('reads a record a client deleted after the run read it as deleted, while the run still holds its copy', async () => {
    const late: {
      records?: RecordService;
      readInWindow?: Promise<unknown>;
      holdInWindow?: Promise<unknown>;
    } = {};
    harness = await startHarness({
      backend,
      layout: 'record',
      // A read and a legal hold come in before the run withdraws its copy.
      wrap: deletedMidRun('deleted', late, () => {
        late.readInWindow = late.records?.get('deleted').then(
          (view) => view.source,
          (error: unknown) => (error as { code?: string }).code,
        );
        late.holdInWindow = late.records
          ?.setLegalHold('deleted', { held: true, by: 'legal', reason: 'case 7' })
          .then(
            (view) => view.legal_hold,
            (error: unknown) => (error as { code?: string }).code,
          );
        return Promise.all([late.readInWindow, late.holdInWindow]);
      }),
    });
    const { records } = harness.services;
    late.records = records;
    await seed(harness, ['deleted', 'plain']);
    const run = await harness.services.archiver.runOnce();
    expect(await late.readInWindow).toBe('not_found');
    expect(await late.holdInWindow).toBe('not_found');
    expect(await harness.adapters.holds.get('deleted')).toBeUndefined();
    expect(await harness.adapters.index.get('deleted')).toBeUndefined();
    expect(run).toMatchObject({ status: 'succeeded', archived: 1, skipped: 1 });
    await expect(records.get('deleted')).rejects.toMatchObject({ code: 'not_found' });
    await expect(records.restore('deleted')).rejects.toMatchObject({ code: 'not_found' });
    expect((await records.get('plain')).source).toBe('archive');
  });

  it('lets a client create a record again under the id of one it deleted while a run still held its copy', async () => {
    const late: { records?: RecordService; createInWindow?: Promise<unknown> } = {};
    harness = await startHarness({
      backend,
      layout: 'record',
      // Before the run withdraws its copy, the client makes a new record of the same id.
      wrap: deletedMidRun('again', late, () => {
        late.createInWindow = late.records
          ?.create(recordBody({ id: 'again', amount: 5.5, created_at: '2026-11-01T00:00:00.000Z' }))
          .then(
            (view) => view.source,
            (error: unknown) => (error as { code?: string }).code,
          );
        return late.createInWindow;
      }),
    });
    const { records } = harness.services;
    late.records = records;
    await seed(harness, ['again']);
    const run = await harness.services.archiver.runOnce();
    expect(await late.createInWindow).toBe('live');
    expect(run).toMatchObject({ status: 'succeeded', archived: 0, skipped: 1 });
    expect(await harness.adapters.index.get('again')).toBeUndefined();
    expect(await records.get('again')).toMatchObject({ source: 'live', doc: { amount: 5.5 } });
  });

  it('deletes nothing from the live store when the index write fails, and the next run heals', async () => {
    let failing = true;
    harness = await startHarness({
      backend,
      layout: 'record',
      wrap: (adapters) => ({
        ...adapters,
        index: intercept<ArchiveIndex>(adapters.index, {
          putMany: (entries) =>
            failing
              ? Promise.reject(new StoreUnavailableError('injected: index unreachable'))
              : adapters.index.putMany(entries),
        }),
      }),
    });
    await seed(harness, ['a', 'b', 'c']);
    const run = await harness.services.archiver.runOnce();
    expect(run).toMatchObject({ status: 'failed', archived: 0 });
    expect(run.errors.join('\n')).toContain('index unreachable');
    expect((await harness.adapters.live.summary()).count).toBe(3);
    // The blobs were written before the index failed: the next run finds them and reuses them.
    expect(await blobNames(harness)).toHaveLength(3);
    failing = false;
    expect(await harness.services.archiver.runOnce()).toMatchObject({ status: 'succeeded', archived: 3 });
    expect(await blobNames(harness)).toHaveLength(3);
    for (const id of ['a', 'b', 'c']) expect((await harness.services.records.get(id)).source).toBe('archive');
  });

  it('refuses to point the index at an existing blob whose bytes are not the record', async () => {
    harness = await startHarness({ backend, layout: 'record' });
    await seed(harness, ['x']);
    const live = await harness.adapters.live.get('x');
    const bytes = Buffer.from(JSON.stringify(live?.doc));
    const { recordBlobName } = await import('../../src/services/layouts/record-layout.js');
    const wrong = Buffer.from('{"id":"x","amount":0}');
    // A blob already sits at the record's name with other bytes (say, a tampered leftover).
    const name = recordBlobName(live?.doc ?? { id: 'x', created_at: '', updated_at: '' }, sha256Hex(bytes));
    await harness.adapters.store.putIfAbsent(name, wrong, { sha256: sha256Hex(wrong) });
    const run = await harness.services.archiver.runOnce();
    expect(run).toMatchObject({ status: 'failed', archived: 0, failed: 1 });
    expect(run.errors.join('\n')).toContain('does not hold record');
    expect((await harness.services.records.get('x')).source).toBe('live');
  });

  it('frees the lock after a failed run, so the next run can start', async () => {
    harness = await startHarness({
      backend,
      layout: 'record',
      wrap: (adapters) => ({
        ...adapters,
        live: intercept(adapters.live, {
          findEligible: () => Promise.reject(new StoreUnavailableError('injected: live store down')),
        }),
      }),
    });
    expect(await harness.services.archiver.runOnce()).toMatchObject({ status: 'failed' });
    expect(await harness.services.archiver.runOnce()).toMatchObject({ status: 'failed' });
  });

  it('writes nothing in a dry run', async () => {
    harness = await startHarness({ backend, layout: 'record' });
    await seed(harness, ['d1', 'd2']);
    expect(await harness.services.archiver.runOnce({ dryRun: true })).toMatchObject({
      eligible: 2,
      archived: 0,
    });
    expect(await blobNames(harness)).toEqual([]);
    expect((await harness.adapters.index.summary()).count).toBe(0);
  });

  it('collects the blobs of restored and deleted records, but never one an entry points to again', async () => {
    harness = await startHarness({ backend, layout: 'record' });
    await seed(harness, ['restored', 'deleted', 'kept', 'back-again']);
    await harness.services.archiver.runOnce();
    await harness.services.records.restore('restored');
    await harness.services.records.delete('deleted', undefined);
    // Restored, then archived again unchanged but for restored_at: a new blob; the old one is garbage.
    const view = await harness.services.records.restore('back-again');
    expect(view.doc.restored_at).toBeTruthy();
    const run = await harness.services.archiver.runOnce({ olderThanDays: 0 });
    expect(run).toMatchObject({ status: 'succeeded', archived: 2, garbage_collected: 3 });
    expect(await blobNames(harness)).toHaveLength(3);
    for (const id of ['restored', 'kept', 'back-again']) {
      expect((await harness.services.records.get(id)).source).toBe('archive');
    }
    expect(await harness.adapters.garbage.list({ limit: 10 })).toEqual([]);
  });

  it('stops between batches when its lock is lost, leaving every record readable', async () => {
    harness = await startHarness({
      backend,
      layout: 'record',
      env: { BATCH_SIZE: '2' },
      // The lease is lost after the first batch.
      wrap: (adapters) => losingLock(adapters, (run) => run.batches === 1),
    });
    await seed(harness, ['l1', 'l2', 'l3', 'l4', 'l5']);
    const run = await harness.services.archiver.runOnce();
    expect(run).toMatchObject({ status: 'failed', batches: 1, archived: 2 });
    expect(run.errors.join('\n')).toContain('the archival lock was lost');
    for (const id of ['l1', 'l2', 'l3', 'l4', 'l5'])
      expect((await harness.services.records.get(id)).doc.id).toBe(id);
    expect((await harness.adapters.live.summary()).count).toBe(3);
  });
});

describe.each(BACKENDS)('ARCHIVAL_EXCLUDE_STATUSES (%s)', (backend) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
  });

  it('keeps records of the excluded statuses live however old, says so in a dry run, and archives them once their status changes', async () => {
    // Two records a page: every pass spans pages.
    harness = await startHarness({
      backend,
      env: { ARCHIVAL_EXCLUDE_STATUSES: 'pending,overdue', BATCH_SIZE: '2' },
    });
    const { records, archiver } = harness.services;
    const statuses = ['pending', 'overdue', 'paid', 'refunded', 'pending', 'cancelled', 'overdue', 'pending'];
    for (const [i, status] of statuses.entries())
      await records.create(recordBody({ id: `s-${i}`, status, created_at: daysAgo(400 + i) }));
    await records.create(recordBody({ id: 'young-paid', status: 'paid', created_at: daysAgo(3) }));

    const dry = await archiver.runOnce({ dryRun: true });
    expect(dry).toMatchObject({ eligible: 3, archived: 0, excluded_statuses: ['pending', 'overdue'] });
    expect(dry.kept_live_by_status).toEqual({ pending: 3, overdue: 2 });
    // A limited dry run counts no further than its limit.
    const limited = await archiver.runOnce({ dryRun: true, limit: 2 });
    expect(limited.eligible).toBe(2);
    expect(Object.values(limited.kept_live_by_status ?? {}).reduce((a, b) => a + b, 0)).toBe(2);
    const run = await archiver.runOnce();
    expect(run).toMatchObject({
      status: 'succeeded',
      archived: 3,
      excluded_statuses: ['pending', 'overdue'],
    });
    expect(run).not.toHaveProperty('kept_live_by_status');
    for (const [i, status] of statuses.entries())
      expect((await records.get(`s-${i}`)).source, status).toBe(
        status === 'pending' || status === 'overdue' ? 'live' : 'archive',
      );
    expect((await records.get('young-paid')).source).toBe('live');

    // Paid at last: archived by the first run that finds it untouched long enough.
    await records.replace(
      's-0',
      recordBody({ id: 's-0', status: 'paid', created_at: daysAgo(400) }),
      undefined,
    );
    expect(await archiver.runOnce({ olderThanDays: 0 })).toMatchObject({ archived: 2 });
    expect((await records.get('s-0')).source).toBe('archive');
    expect((await records.get('s-1')).source).toBe('live');
  });
});
