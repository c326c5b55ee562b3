import { describe, expect, it } from 'vitest';
import type { RecordDocument } from '../../src/domain/billing-record.js';
import { ConflictError, NotFoundError, PreconditionFailedError } from '../../src/domain/errors.js';
import type { LiveListQuery, LiveStore, StatusFilter } from '../../src/ports/live-store.js';
import { useFreshStore, type StoreFixture } from './store-fixture.js';

function doc(id: string, createdAt: string, extra: Record<string, unknown> = {}): RecordDocument {
  return {
    id,
    customer_id: 'c-1',
    amount: 1,
    status: 'paid',
    created_at: createdAt,
    updated_at: createdAt,
    ...extra,
  };
}

/** What every LiveStore adapter must do, run unchanged over each of them. */
export function describeLiveStoreContract(name: string, make: () => Promise<StoreFixture<LiveStore>>): void {
  describe(`LiveStore contract: ${name}`, () => {
    const current = useFreshStore(make);

    it('creates and gets a record with its etag; unknown ids are undefined', async () => {
      const created = await current().create(
        doc('a', '2026-01-01T00:00:00.000Z', { legacy: { x: [1, 'two'] } }),
      );
      expect(created.etag).toBeTruthy();
      const got = await current().get('a');
      expect(got).toEqual(created);
      expect(await current().get('missing')).toBeUndefined();
    });

    it('refuses a duplicate id with ConflictError duplicate_id', async () => {
      await current().create(doc('a', '2026-01-01T00:00:00.000Z'));
      await expect(current().create(doc('a', '2026-02-01T00:00:00.000Z'))).rejects.toMatchObject({
        constructor: ConflictError,
        code: 'duplicate_id',
      });
      // Ids are unique across the store, whatever other field a backend partitions by.
      await expect(
        current().create(doc('a', '2026-02-01T00:00:00.000Z', { customer_id: 'c-2' })),
      ).rejects.toMatchObject({
        code: 'duplicate_id',
      });
      expect((await current().get('a'))?.doc.created_at).toBe('2026-01-01T00:00:00.000Z');
    });

    it('lets at most one of many concurrent creates of one id land, and keeps just that one', async () => {
      for (let round = 0; round < 10; round++) {
        const id = `race-${round}`;
        const attempts = ['c-1', 'c-2', 'c-3'].map((customer) =>
          doc(id, '2026-01-01T00:00:00.000Z', { customer_id: customer }),
        );
        const outcomes = await Promise.allSettled(attempts.map((attempt) => current().create(attempt)));
        const landed = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
        for (const outcome of outcomes)
          if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(ConflictError);
        expect(landed.length).toBeLessThanOrEqual(1);
        const all = (await current().list({ limit: 100 })).filter((record) => record.doc.id === id);
        expect(all.map((record) => record.doc)).toEqual(landed.map((record) => record.doc));
      }
    });

    it('replaces conditionally and changes the etag', async () => {
      const created = await current().create(doc('a', '2026-01-01T00:00:00.000Z'));
      const replaced = await current().replace({ ...created.doc, amount: 2 }, created.etag);
      expect(replaced.etag).not.toBe(created.etag);
      await expect(current().replace({ ...created.doc, amount: 3 }, created.etag)).rejects.toBeInstanceOf(
        PreconditionFailedError,
      );
      expect((await current().get('a'))?.doc.amount).toBe(2);
      await expect(current().replace(doc('nope', '2026-01-01T00:00:00.000Z'))).rejects.toBeInstanceOf(
        NotFoundError,
      );
    });

    it('deletes conditionally; deleting a missing record answers false', async () => {
      const created = await current().create(doc('a', '2026-01-01T00:00:00.000Z'));
      await expect(current().delete('a', 'stale-etag')).rejects.toBeInstanceOf(PreconditionFailedError);
      expect(await current().get('a')).toBeDefined();
      expect(await current().delete('a', created.etag)).toBe(true);
      expect(await current().get('a')).toBeUndefined();
      expect(await current().delete('a')).toBe(false);
    });

    it('deletes many, each only at its etag, saying which went', async () => {
      const a = await current().create(doc('a', '2026-01-01T00:00:00.000Z'));
      const b = await current().create(doc('b', '2026-01-01T00:00:00.000Z'));
      const c = await current().create(doc('c', '2026-01-01T00:00:00.000Z'));
      const changed = await current().replace({ ...c.doc, status: 'paid' }, c.etag);
      const results = await current().deleteMany([
        { id: 'a', etag: a.etag },
        { id: 'missing', etag: a.etag },
        { id: 'c', etag: c.etag },
        { id: 'b', etag: b.etag },
      ]);
      expect(results).toEqual([true, false, false, true]);
      expect(await current().get('a')).toBeUndefined();
      expect(await current().get('b')).toBeUndefined();
      expect((await current().get('c'))?.etag).toBe(changed.etag);
      expect(await current().deleteMany([])).toEqual([]);
    });

    it('finds eligible records by last touch, in creation order, page by page with a continuation', async () => {
      await current().create(doc('old-2', '2026-01-02T00:00:00.000Z'));
      await current().create(doc('old-1', '2026-01-01T00:00:00.000Z'));
      await current().create(doc('old-1b', '2026-01-01T00:00:00.000Z'));
      await current().create(
        doc('touched', '2026-01-01T00:00:00.000Z', { updated_at: '2026-06-01T00:00:00.000Z' }),
      );
      await current().create(
        doc('restored', '2026-01-01T00:00:00.000Z', { restored_at: '2026-06-01T00:00:00.000Z' }),
      );
      await current().create(doc('new', '2026-05-01T00:00:00.000Z'));
      const touchedBefore = new Date('2026-03-01T00:00:00.000Z');
      const found = [];
      let continuation: string | undefined;
      let pages = 0;
      do {
        const page = await current().findEligible({ touchedBefore, limit: 2, continuation });
        expect(page.records.length).toBeLessThanOrEqual(2);
        found.push(...page.records);
        continuation = page.continuation;
        pages += 1;
      } while (continuation !== undefined && pages < 10);
      expect(found.map((r) => r.doc.id).sort()).toEqual(['old-1', 'old-1b', 'old-2']);
      // Creation order lets the segment layout fill one month's segment at a time.
      expect(found.map((r) => r.doc.created_at)).toEqual([
        '2026-01-01T00:00:00.000Z',
        '2026-01-01T00:00:00.000Z',
        '2026-01-02T00:00:00.000Z',
      ]);
      expect(pages).toBeGreaterThanOrEqual(2);
      const old2 = found.find((r) => r.doc.id === 'old-2');
      expect(old2?.etag).toBe((await current().get('old-2'))?.etag);
    });

    it('keeps a pass away from some statuses, or to them, on every page, documents without a status never excluded', async () => {
      const statuses = ['pending', 'paid', 'overdue', 'pending', 'refunded', 'overdue', 'paid'];
      for (const [i, status] of statuses.entries())
        await current().create(doc(`s-${i}`, `2026-01-0${i + 1}T00:00:00.000Z`, { status }));
      await current().create(doc('no-status', '2026-01-09T00:00:00.000Z', { status: undefined }));
      await current().create(doc('numbered', '2026-01-09T00:00:00.000Z', { status: 7 }));
      await current().create(doc('young-pending', '2026-05-01T00:00:00.000Z', { status: 'pending' }));
      const touchedBefore = new Date('2026-03-01T00:00:00.000Z');
      const pass = async (filter: StatusFilter | undefined): Promise<string[]> => {
        const found: string[] = [];
        let continuation: string | undefined;
        let pages = 0;
        do {
          const page = await current().findEligible({
            touchedBefore,
            limit: 2,
            continuation,
            statuses: filter,
          });
          found.push(...page.records.map((r) => r.doc.id));
          continuation = page.continuation;
          pages += 1;
        } while (continuation !== undefined && pages < 20);
        return found.sort();
      };
      expect(await pass({ exclude: ['pending', 'overdue'] })).toEqual(
        ['numbered', 'no-status', 's-1', 's-4', 's-6'].sort(),
      );
      expect(await pass({ only: ['pending', 'overdue'] })).toEqual(['s-0', 's-2', 's-3', 's-5']);
      expect(await pass({ exclude: [] })).toEqual(await pass(undefined));
      expect(await pass(undefined)).toHaveLength(9);
    });

    it('judges documents other systems wrote by the instants they name, reporting what does not read', async () => {
      // Written as another system would: offsets, fractions, lowercase, numbers, fields missing.
      const written: Record<string, Record<string, unknown>> = {
        'offset-old': { created_at: '2026-03-01T01:00:00+02:00' },
        'offset-new': { created_at: '2026-02-28T20:00:00-05:00' },
        lowercase: { created_at: '2026-02-27t10:00:00.123456z', updated_at: '2026-02-27t10:00:00.123456z' },
        fraction: { created_at: '2026-01-15T00:00:00.5Z', updated_at: '2026-02-28T23:59:59.999999+00:00' },
        'touched-offset': { created_at: '2026-01-01T00:00:00Z', updated_at: '2026-03-01T00:30:00+01:00' },
        'touched-late': { created_at: '2026-01-01T00:00:00Z', updated_at: '2026-02-28T23:30:00-01:00' },
        'restored-late': { created_at: '2026-01-01T00:00:00Z', restored_at: '2026-03-01T00:00:00.000Z' },
        'no-updated': { created_at: '2026-01-10T00:00:00Z' },
        'null-updated': { created_at: '2026-01-11T00:00:00Z', updated_at: null },
        new: { created_at: '2026-05-01T00:00:00.000Z' },
        'epoch-seconds': { created_at: 1767225600 },
        'epoch-millis': { created_at: 1767225600000, updated_at: 1767225600000 },
        'no-created': { updated_at: '2026-01-01T00:00:00Z' },
        'no-created-recent': { updated_at: '2026-06-01T00:00:00Z' },
        'no-times': {},
        'text-garbage': { created_at: 'Jan 1 2026' },
        'no-offset': { created_at: '2026-01-01T10:00:00' },
        'bad-updated': { created_at: '2026-01-01T00:00:00Z', updated_at: 'yesterday' },
      };
      // Old by creation text, touched a moment after the cutoff: a loose pre-selection meets them
      // first, and a pass must still move past them.
      for (let n = 0; n < 5; n += 1)
        written[`near-${n}`] = { created_at: '2025-12-01T00:00:00Z', updated_at: '2026-03-01T00:00:00.001Z' };
      for (const [id, times] of Object.entries(written))
        await current().create({ id, customer_id: 'c-1', amount: 1, ...times } as unknown as RecordDocument);

      const touchedBefore = new Date('2026-03-01T00:00:00.000Z');
      const records = [];
      const unarchivable = [];
      let continuation: string | undefined;
      let pages = 0;
      do {
        const page = await current().findEligible({ touchedBefore, limit: 2, continuation });
        expect(page.records.length).toBeLessThanOrEqual(2);
        records.push(...page.records);
        unarchivable.push(...page.unarchivable);
        continuation = page.continuation;
        pages += 1;
      } while (continuation !== undefined && pages < 50);
      expect(continuation).toBeUndefined();

      const recordIds = records.map((r) => r.doc.id);
      expect(recordIds.sort()).toEqual(
        ['fraction', 'lowercase', 'no-updated', 'null-updated', 'offset-old', 'touched-offset'].sort(),
      );
      // As stored, byte for byte: nothing rewritten into another form.
      for (const record of records)
        expect(JSON.stringify(record.doc)).toBe(
          JSON.stringify({ id: record.doc.id, customer_id: 'c-1', amount: 1, ...written[record.doc.id] }),
        );
      const reported = new Map(unarchivable.map((u) => [u.id, u.problem]));
      expect(unarchivable).toHaveLength(reported.size);
      expect([...reported.keys()].sort()).toEqual(
        [
          'bad-updated',
          'epoch-millis',
          'epoch-seconds',
          'no-created',
          'no-offset',
          'no-times',
          'text-garbage',
        ].sort(),
      );
      expect(reported.get('epoch-seconds')).toMatch(/^created_at is the number 1767225600, /);
      expect(reported.get('no-created')).toBe('created_at is missing');
      expect(reported.get('bad-updated')).toMatch(/^updated_at "yesterday" is not an RFC 3339 date-time/);
    });

    it('lists in id order with filters and paging', async () => {
      for (const [id, customer, status] of [
        ['b', 'c-1', 'paid'],
        ['a', 'c-2', 'paid'],
        ['c', 'c-1', 'pending'],
        ['d', 'c-1', 'paid'],
      ] as const) {
        await current().create(doc(id, '2026-01-01T00:00:00.000Z', { customer_id: customer, status }));
      }
      expect((await current().list({ limit: 10 })).map((r) => r.doc.id)).toEqual(['a', 'b', 'c', 'd']);
      expect((await current().list({ limit: 2, afterId: 'a' })).map((r) => r.doc.id)).toEqual(['b', 'c']);
      expect(
        (await current().list({ limit: 10, customerId: 'c-1', status: 'paid' })).map((r) => r.doc.id),
      ).toEqual(['b', 'd']);
    });

    it('lists in creation order (then id) with every filter, paging by key', async () => {
      for (const [id, customer, status, createdAt] of [
        ['m', 'c-1', 'paid', '2025-02-01T00:00:00.000Z'],
        ['b', 'c-1', 'paid', '2025-01-15T00:00:00.000Z'],
        ['a', 'c-1', 'pending', '2025-01-15T00:00:00.000Z'],
        ['z', 'c-1', 'paid', '2025-01-01T00:00:00.000Z'],
        ['y', 'c-1', 'paid', '2024-12-31T23:59:59.999Z'],
        ['x', 'c-2', 'paid', '2025-01-10T00:00:00.000Z'],
      ] as const) {
        await current().create(doc(id, createdAt, { customer_id: customer, status }));
      }
      // A document another system wrote with a creation time that is no text: never in this order.
      await current().create(doc('n', '2025-01-02T00:00:00.000Z', { created_at: 1735776000 }));
      const ids = async (query: LiveListQuery) => (await current().list(query)).map((r) => r.doc.id);
      expect(await ids({ limit: 10, byCreation: {} })).toEqual(['y', 'z', 'x', 'a', 'b', 'm']);
      const january = {
        customerId: 'c-1',
        createdFrom: '2025-01-01T00:00:00.000Z',
        createdBefore: '2025-02-01T00:00:00.000Z',
      };
      expect(await ids({ limit: 10, byCreation: {}, ...january })).toEqual(['z', 'a', 'b']);
      expect(await ids({ limit: 10, byCreation: {}, ...january, status: 'paid' })).toEqual(['z', 'b']);
      expect(await ids({ limit: 2, byCreation: {}, ...january })).toEqual(['z', 'a']);
      const after = { createdAt: '2025-01-15T00:00:00.000Z', id: 'a' };
      expect(await ids({ limit: 10, byCreation: { after }, ...january })).toEqual(['b']);
      expect(
        await ids({ limit: 10, byCreation: { after: { createdAt: '2025-01-05T00:00:00.000Z', id: '' } } }),
      ).toEqual(['x', 'a', 'b', 'm']);
      // A set of ids, whatever their creation time.
      expect(await ids({ limit: 10, ids: ['n', 'x', 'missing'] })).toEqual(['n', 'x']);
      // The time filters hold in id order too, and leave out a creation time that is no text.
      expect(await ids({ limit: 10, createdBefore: '2025-01-10T00:00:00.000Z' })).toEqual(['y', 'z']);
      expect((await ids({ limit: 10 })).includes('n')).toBe(true);
    });

    it('answers the readiness probe', async () => {
      await expect(current().ping()).resolves.toBeUndefined();
    });

    it('summarises count and the oldest last touch', async () => {
      expect(await current().summary()).toEqual({ count: 0, oldestTouchedAt: undefined });
      await current().create(doc('a', '2026-03-01T00:00:00.000Z'));
      await current().create(
        doc('b', '2026-01-01T00:00:00.000Z', { updated_at: '2026-02-01T00:00:00.000Z' }),
      );
      expect(await current().summary()).toEqual({ count: 2, oldestTouchedAt: '2026-02-01T00:00:00.000Z' });
      // Written by another system: an empty updated_at is no instant and must not fail the summary.
      await current().create(doc('c', '2026-06-01T00:00:00.000Z', { updated_at: '' }));
      expect(await current().summary()).toEqual({ count: 3, oldestTouchedAt: '2026-02-01T00:00:00.000Z' });
    });

    it('measures the bytes its documents take', async () => {
      expect((await current().storage()).bytes).toBe(0);
      const docs = [
        doc('a', '2026-03-01T00:00:00.000Z'),
        doc('b', '2026-03-02T00:00:00.000Z', { note: 'é'.repeat(500) }),
      ];
      for (const d of docs) await current().create(d);
      const { bytes, from } = await current().storage();
      const json = docs.reduce((sum, d) => sum + Buffer.byteLength(JSON.stringify(d)), 0);
      if (from === 'counted') expect(bytes).toBe(json);
      // Cosmos DB adds its system properties to every document.
      else expect(bytes).toBeGreaterThanOrEqual(json);
      expect(bytes).toBeLessThan(json + 2 * 1_024);
    });
  });
}
