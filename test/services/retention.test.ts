import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CLAIM_DEADLINE_MS } from '../../src/services/deletion-claims.js';
import type { RecordService } from '../../src/services/record-service.js';
import { intercept } from '../helpers/intercept.js';
import {
  BACKENDS,
  SETUPS,
  blobNames,
  daysAgo,
  recordBody,
  startHarness,
  type Harness,
} from '../helpers/harness.js';

const HOLD = { by: 'legal@example.com', reason: 'litigation 2026-17' };

describe.each(SETUPS)(
  'retention and legal hold in an archival run ($backend, $layout layout)',
  ({ backend, layout }) => {
    let harness: Harness | undefined;
    afterEach(async () => {
      await harness?.destroy();
      harness = undefined;
    });

    async function archiveBlobs(h: Harness): Promise<string[]> {
      return [
        ...(await blobNames(h, 'records/')),
        ...(await blobNames(h, 'segments/')),
        ...(await blobNames(h, 'held/')),
      ];
    }

    it('removes records past RETENTION_DAYS from index and blobs, and keeps a held one, copied under held/', async () => {
      harness = await startHarness({ backend, layout, env: { RETENTION_DAYS: '2555' } });
      const { records } = harness.services;
      // Same creation month, so in the segment layout all three share a segment.
      const expiredAt = '2018-03-10T10:00:00.000Z';
      for (const id of ['old-1', 'old-2', 'old-held'])
        await records.create(recordBody({ id, created_at: expiredAt }));
      await records.create(recordBody({ id: 'young', created_at: daysAgo(400) }));
      await records.create(recordBody({ id: 'live-old', created_at: daysAgo(3000) }));
      await records.replace('live-old', recordBody({ id: 'live-old', created_at: daysAgo(3000) }), undefined);
      await records.setLegalHold('old-held', { held: true, ...HOLD });
      const heldBefore = (await records.get('old-held')).doc;

      const run = await harness.services.archiver.runOnce();
      expect(run).toMatchObject({
        status: 'succeeded',
        archived: 4,
        expired: 2,
        kept_on_hold: 1,
        held_copied: 1,
      });

      for (const id of ['old-1', 'old-2']) {
        await expect(records.get(id)).rejects.toMatchObject({ code: 'not_found' });
        expect(await harness.adapters.deletions.deletedAt(id)).toBeDefined();
        // Confirmed: a rebuild of the index, which no longer sees the withdrawal, knows they went.
        expect(await harness.adapters.deletions.confirmedAt(id)).toBeDefined();
      }
      // Kept by its hold: whatever note the sweep left, nothing confirms a delete.
      expect(await harness.adapters.deletions.confirmedAt('old-held')).toBeUndefined();
      const held = await records.get('old-held');
      expect(held).toMatchObject({ source: 'archive', doc: heldBefore });
      const heldEntry = await harness.adapters.index.get('old-held');
      expect(heldEntry?.location.blob).toMatch(/^held\/old-held\.[0-9a-f]{16}\.json$/);
      // Touched recently, so still live: retention only ever removes archived records.
      expect((await records.get('live-old')).source).toBe('live');
      expect((await records.get('young')).source).toBe('archive');

      // Only the young record's blob and the held copy are left: the expired bytes went with the run.
      const blobs = await archiveBlobs(harness);
      expect(blobs.filter((name) => name.startsWith('held/'))).toEqual([heldEntry?.location.blob]);
      const youngBlob = (await harness.adapters.index.get('young'))?.location.blob;
      expect(blobs.filter((name) => !name.startsWith('held/'))).toEqual([youngBlob]);
      const report = await harness.services.verifier.verify({});
      expect(report).toMatchObject({ ok: true, orphans: { count: 0 }, unindexed: { count: 0 } });

      // The next run finds nothing to do; lifting the hold lets the one after that remove the record.
      expect(await harness.services.archiver.runOnce()).toMatchObject({
        expired: 0,
        kept_on_hold: 1,
        held_copied: 0,
      });
      await records.setLegalHold('old-held', { held: false, by: 'legal@example.com', reason: 'case closed' });
      expect(await harness.services.archiver.runOnce()).toMatchObject({ expired: 1, kept_on_hold: 0 });
      await expect(records.get('old-held')).rejects.toMatchObject({ code: 'not_found' });
      expect(await blobNames(harness, 'held/')).toEqual([]);
    });

    it('keeps a record held after the sweep listed it: the hold is asked again right before removal', async () => {
      const change = { at: new Date().toISOString(), ...HOLD };
      harness = await startHarness({
        backend,
        layout,
        wrap: (adapters) => ({
          ...adapters,
          index: intercept(adapters.index, {
            list: async (query) => {
              const page = await adapters.index.list(query);
              // An operator places the hold while the sweep works through its page.
              if (page.some((entry) => entry.id === 'late-held'))
                await adapters.holds.set('late-held', change);
              return page;
            },
          }),
        }),
      });
      await harness.services.records.create(recordBody({ id: 'late-held', created_at: daysAgo(3000) }));
      expect(await harness.services.archiver.runOnce()).toMatchObject({
        archived: 1,
        expired: 0,
        kept_on_hold: 1,
      });
      expect((await harness.services.records.get('late-held')).source).toBe('archive');
    });

    it('a crash right after an expiry withdrew its entry leaves the place noted: verify finds an orphan, no lost record', async () => {
      let crashed = false;
      harness = await startHarness({
        backend,
        layout,
        wrap: (adapters) => ({
          ...adapters,
          index: intercept(adapters.index, {
            // The withdrawal lands, then the process dies before anything after it (the index's own note).
            withdraw: async (id, ifMatch) => {
              const withdrawn = await adapters.index.withdraw(id, ifMatch);
              if (id === 'expiring' && !crashed) {
                crashed = true;
                throw new Error('killed right after the withdrawal');
              }
              return withdrawn;
            },
          }),
        }),
      });
      await harness.services.records.create(recordBody({ id: 'expiring', created_at: daysAgo(3000) }));
      await harness.services.records.create(recordBody({ id: 'staying', created_at: daysAgo(3000) }));
      await harness.adapters.holds.set('staying', { at: new Date().toISOString(), ...HOLD });
      const cut = await harness.services.archiver.runOnce();
      expect(crashed).toBe(true);
      expect(cut.status).toBe('failed');
      const noted = await harness.adapters.garbage.list({ limit: 100 });
      expect(noted.map((item) => item.id)).toContain('expiring');
      const report = await harness.services.verifier.verify();
      expect(report).toMatchObject({ ok: true, unindexed: { count: 0 }, missing: { count: 0 } });
      // The next run collects it; the held record stays.
      expect(await harness.services.archiver.runOnce()).toMatchObject({ status: 'succeeded' });
      expect(await harness.adapters.index.get('expiring')).toBeUndefined();
      expect((await harness.services.records.get('staying')).source).toBe('archive');
      expect(await harness.services.verifier.verify()).toMatchObject({ ok: true, orphans: { count: 0 } });
    });

    it("puts a record back when its hold lands between the sweep's last look and its withdrawal", async () => {
      const change = { at: new Date().toISOString(), ...HOLD };
      harness = await startHarness({
        backend,
        layout,
        wrap: (adapters) => ({
          ...adapters,
          deletions: intercept(adapters.deletions, {
            note: async (id, at) => {
              await adapters.deletions.note(id, at);
              // The sweep has asked the hold and noted the deletion; the hold lands now.
              if (id === 'just-held') await adapters.holds.set(id, change);
            },
          }),
        }),
      });
      const created = await harness.services.records.create(
        recordBody({ id: 'just-held', created_at: daysAgo(3000) }),
      );
      expect(await harness.services.archiver.runOnce()).toMatchObject({ expired: 0, kept_on_hold: 1 });
      expect(await harness.services.records.get('just-held')).toMatchObject({ doc: created.doc });
      // Kept on hold from now on: the next run copies it under held/ and never expires it.
      expect(await harness.services.archiver.runOnce()).toMatchObject({ expired: 0, kept_on_hold: 1 });
      expect(await harness.services.records.get('just-held')).toMatchObject({ doc: created.doc });
      expect(await harness.services.verifier.verify()).toMatchObject({ ok: true });
    });

    it('a dry run counts what retention would remove and removes nothing', async () => {
      // Archived while retention was longer, then RETENTION_DAYS shortened.
      const first = await startHarness({ backend, layout, env: { RETENTION_DAYS: '36500' } });
      for (const id of ['old', 'held'])
        await first.services.records.create(recordBody({ id, created_at: '2018-03-10T10:00:00.000Z' }));
      await first.services.records.setLegalHold('held', { held: true, ...HOLD });
      expect(await first.services.archiver.runOnce()).toMatchObject({
        archived: 2,
        expired: 0,
        held_copied: 1,
      });
      await first.close();
      harness = await startHarness({ reuse: first, env: { RETENTION_DAYS: '2555' } });
      const blobsBefore = await archiveBlobs(harness);

      expect(await harness.services.archiver.runOnce({ dryRun: true })).toMatchObject({
        expired: 1,
        kept_on_hold: 1,
        held_copied: 0,
      });
      expect((await harness.services.records.get('old')).source).toBe('archive');
      expect(await archiveBlobs(harness)).toEqual(blobsBefore);

      expect(await harness.services.archiver.runOnce()).toMatchObject({ expired: 1, kept_on_hold: 1 });
      await expect(harness.services.records.get('old')).rejects.toMatchObject({ code: 'not_found' });
    });
  },
);

describe('held records in the Archive tier (Azurite)', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
  });

  it('waits for the rehydration before copying a held record, then copies it on a later run', async () => {
    harness = await startHarness({ backend: 'azure', env: { BLOB_UPLOAD_TIER: 'Archive' } });
    const { records } = harness.services;
    await records.create(recordBody({ id: 'offline-held', created_at: daysAgo(3000) }));
    await records.setLegalHold('offline-held', { held: true, ...HOLD });

    const first = await harness.services.archiver.runOnce();
    expect(first).toMatchObject({
      status: 'succeeded',
      archived: 1,
      kept_on_hold: 1,
      held_copied: 0,
      held_copy_pending: 1,
    });
    expect(await blobNames(harness, 'rehydrated/')).toHaveLength(1);
    expect(await blobNames(harness, 'held/')).toEqual([]);

    // Azurite finishes the rehydrating copy at once; Azure takes hours, and runs are daily.
    const second = await harness.services.archiver.runOnce();
    expect(second).toMatchObject({ held_copied: 1, held_copy_pending: 0, kept_on_hold: 1 });
    const entry = await harness.adapters.index.get('offline-held');
    expect(entry?.location.blob).toMatch(/^held\//);
    expect(await blobNames(harness, 'held/')).toEqual([entry?.location.blob]);
  });
});

describe.each(BACKENDS)('legal hold placed while a delete is under way (%s)', (backend) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await harness?.destroy();
    harness = undefined;
  });

  /**
   * A harness whose `step` (the delete's destructive call) first starts placing a hold on the
   * record and lets it be refused once by the delete's claim: the hold lands, if at all, after
   * the delete decided to go ahead.
   */
  async function holdDuringDelete(step: 'live' | 'index'): Promise<{
    harness: Harness;
    arm: (id: string) => void;
    placing: () => Promise<unknown> | undefined;
  }> {
    let armedId: string | undefined;
    let placing: Promise<unknown> | undefined;
    let refused: (() => void) | undefined;
    const h: { current?: Harness } = {};
    const startPlacing = async (id: string): Promise<void> => {
      if (id !== armedId || !h.current) return;
      armedId = undefined;
      const wasRefused = new Promise<void>((resolve) => (refused = resolve));
      placing = h.current.services.records.setLegalHold(id, { held: true, ...HOLD });
      // Without a claim to refuse it, the hold is placed at once: the delete goes on regardless.
      await Promise.race([wasRefused, placing.catch(() => undefined)]);
    };
    h.current = await startHarness({
      backend,
      wrap: (adapters) => ({
        ...adapters,
        holds: intercept(adapters.holds, {
          set: async (id, change) => {
            try {
              return await adapters.holds.set(id, change);
            } catch (error) {
              refused?.();
              throw error;
            }
          },
        }),
        live: intercept(adapters.live, {
          delete: async (id, etag) => {
            if (step === 'live') await startPlacing(id);
            return adapters.live.delete(id, etag);
          },
        }),
        index: intercept(adapters.index, {
          withdraw: async (id, etag) => {
            if (step === 'index' && etag !== undefined) await startPlacing(id);
            return adapters.index.withdraw(id, etag);
          },
        }),
      }),
    });
    return { harness: h.current, arm: (id) => (armedId = id), placing: () => placing };
  }

  it('a hold asked for while a live record is deleted waits for the delete, then answers 404 and holds nothing', async () => {
    const race = await holdDuringDelete('live');
    harness = race.harness;
    const { records } = harness.services;
    await records.create(recordBody({ id: 'contested' }));
    race.arm('contested');
    await records.delete('contested', undefined);
    await expect(race.placing()).rejects.toMatchObject({ code: 'not_found' });
    await expect(records.get('contested')).rejects.toMatchObject({ code: 'not_found' });
    expect(await harness.adapters.holds.get('contested')).toBeUndefined();
  });

  it('the same for an archived record, deleted by withdrawing its entry', async () => {
    const race = await holdDuringDelete('index');
    harness = race.harness;
    const { records, archiver } = harness.services;
    await records.create(recordBody({ id: 'contested', created_at: daysAgo(200) }));
    await archiver.runOnce();
    expect((await records.get('contested')).source).toBe('archive');
    race.arm('contested');
    await records.delete('contested', undefined);
    await expect(race.placing()).rejects.toMatchObject({ code: 'not_found' });
    await expect(records.get('contested')).rejects.toMatchObject({ code: 'not_found' });
    expect(await harness.adapters.holds.get('contested')).toBeUndefined();
  });

  it('a hold whose answer was lost while the record was deleted is lifted again and answers 404', async () => {
    const late: { records?: RecordService } = {};
    harness = await startHarness({
      backend,
      wrap: (adapters) => ({
        ...adapters,
        holds: intercept(adapters.holds, {
          // The whole delete lands between the hold's look and its write; the write lands, its
          // answer is lost, and the retry meets the hold as if somebody else had placed it.
          set: async (id, change) => {
            await late.records?.delete(id, undefined);
            late.records = undefined;
            const placed = await adapters.holds.set(id, change);
            return { ...placed, changed: false };
          },
        }),
      }),
    });
    const { records } = harness.services;
    await records.create(recordBody({ id: 'lost-answer' }));
    late.records = records;
    await expect(records.setLegalHold('lost-answer', { held: true, ...HOLD })).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(records.get('lost-answer')).rejects.toMatchObject({ code: 'not_found' });
    expect(await harness.adapters.holds.get('lost-answer')).toBeUndefined();
    expect((await harness.adapters.holds.history('lost-answer')).map((event) => event.action)).toEqual([
      'set',
      'cleared',
    ]);
  });

  it('a claim left by a crashed delete answers 409 to holds and deletes until it expires, then stops nothing', async () => {
    harness = await startHarness({ backend });
    const { records } = harness.services;
    await records.create(recordBody({ id: 'orphaned-claim' }));
    const now = Date.now();
    await harness.adapters.holds.claimDeletion('orphaned-claim', {
      token: 'crashed',
      at: new Date(now).toISOString(),
      expiresAt: new Date(now + 60_000).toISOString(),
    });
    await expect(records.setLegalHold('orphaned-claim', { held: true, ...HOLD })).rejects.toMatchObject({
      code: 'deletion_in_progress',
      message: expect.stringContaining('being deleted by another request') as unknown,
    });
    await expect(records.delete('orphaned-claim', undefined)).rejects.toMatchObject({
      code: 'deletion_in_progress',
    });
    expect((await records.get('orphaned-claim')).source).toBe('live');
    expect(await harness.adapters.holds.history('orphaned-claim')).toEqual([]);
    // Expired, as it is CLAIM_LIFETIME_MS after the crash.
    await harness.adapters.holds.claimDeletion('other', {
      token: 'crashed-too',
      at: new Date(now).toISOString(),
      expiresAt: new Date(now - 1).toISOString(),
    });
    await records.create(recordBody({ id: 'other' }));
    expect((await records.setLegalHold('other', { held: true, ...HOLD })).legal_hold).toBe(true);
  });

  it('a delete that took longer than its claim allows stops before removing the record', async () => {
    harness = await startHarness({
      backend,
      wrap: (adapters) => ({
        ...adapters,
        deletions: intercept(adapters.deletions, {
          note: async (id, at) => {
            // The delete stalled (a store throttling it) between its claim and its destructive step.
            const later = performance.now() + CLAIM_DEADLINE_MS + 1_000;
            vi.spyOn(performance, 'now').mockReturnValue(later);
            return adapters.deletions.note(id, at);
          },
        }),
      }),
    });
    const { records } = harness.services;
    await records.create(recordBody({ id: 'slow' }));
    await expect(records.delete('slow', undefined)).rejects.toMatchObject({ code: 'store_unavailable' });
    vi.restoreAllMocks();
    expect((await records.get('slow')).source).toBe('live');
    // Its claim was released: a hold goes on at once.
    expect((await records.setLegalHold('slow', { held: true, ...HOLD })).legal_hold).toBe(true);
  });
});
