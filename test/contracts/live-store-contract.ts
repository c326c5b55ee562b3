import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RecordDocument } from '../../src/domain/billing-record.js';
import { ConflictError, NotFoundError, PreconditionFailedError } from '../../src/domain/errors.js';
import type { LiveStore } from '../../src/ports/live-store.js';

export interface StoreFixture<T> {
  store: T;
  /** Closes the store and removes what it stored. */
  dispose(): Promise<void>;
}

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
    let fixture: StoreFixture<LiveStore>;
    let store: LiveStore;
    beforeEach(async () => {
      fixture = await make();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.dispose();
    });

    it('creates and gets a record with its etag; unknown ids are undefined', async () => {
      const created = await store.create(doc('a', '2026-01-01T00:00:00.000Z', { legacy: { x: [1, 'two'] } }));
      expect(created.etag).toBeTruthy();
      const got = await store.get('a');
      expect(got).toEqual(created);
      expect(await store.get('missing')).toBeUndefined();
    });

    it('refuses a duplicate id with ConflictError duplicate_id', async () => {
      await store.create(doc('a', '2026-01-01T00:00:00.000Z'));
      await expect(store.create(doc('a', '2026-02-01T00:00:00.000Z'))).rejects.toMatchObject({
        constructor: ConflictError,
        code: 'duplicate_id',
      });
      expect((await store.get('a'))?.doc.created_at).toBe('2026-01-01T00:00:00.000Z');
    });

    it('replaces conditionally and changes the etag', async () => {
      const created = await store.create(doc('a', '2026-01-01T00:00:00.000Z'));
      const replaced = await store.replace({ ...created.doc, amount: 2 }, created.etag);
      expect(replaced.etag).not.toBe(created.etag);
      await expect(store.replace({ ...created.doc, amount: 3 }, created.etag)).rejects.toBeInstanceOf(
        PreconditionFailedError,
      );
      expect((await store.get('a'))?.doc.amount).toBe(2);
      await expect(store.replace(doc('nope', '2026-01-01T00:00:00.000Z'))).rejects.toBeInstanceOf(
        NotFoundError,
      );
    });

    it('deletes conditionally; deleting a missing record answers false', async () => {
      const created = await store.create(doc('a', '2026-01-01T00:00:00.000Z'));
      await expect(store.delete('a', 'stale-etag')).rejects.toBeInstanceOf(PreconditionFailedError);
      expect(await store.get('a')).toBeDefined();
      expect(await store.delete('a', created.etag)).toBe(true);
      expect(await store.get('a')).toBeUndefined();
      expect(await store.delete('a')).toBe(false);
    });

    it('finds eligible records by last touch, oldest first, paging with a cursor', async () => {
      await store.create(doc('old-2', '2026-01-02T00:00:00.000Z'));
      await store.create(doc('old-1', '2026-01-01T00:00:00.000Z'));
      await store.create(doc('old-1b', '2026-01-01T00:00:00.000Z'));
      await store.create(
        doc('touched', '2026-01-01T00:00:00.000Z', { updated_at: '2026-06-01T00:00:00.000Z' }),
      );
      await store.create(
        doc('restored', '2026-01-01T00:00:00.000Z', { restored_at: '2026-06-01T00:00:00.000Z' }),
      );
      await store.create(doc('new', '2026-05-01T00:00:00.000Z'));
      const touchedBefore = new Date('2026-03-01T00:00:00.000Z');
      const first = await store.findEligible({ touchedBefore, limit: 2 });
      expect(first.map((r) => r.doc.id)).toEqual(['old-1', 'old-1b']);
      const second = await store.findEligible({
        touchedBefore,
        limit: 2,
        after: { touchedMs: Date.parse('2026-01-01T00:00:00.000Z'), id: 'old-1b' },
      });
      expect(second.map((r) => r.doc.id)).toEqual(['old-2']);
      expect(second[0]?.etag).toBe((await store.get('old-2'))?.etag);
    });

    it('lists in id order with filters and paging', async () => {
      for (const [id, customer, status] of [
        ['b', 'c-1', 'paid'],
        ['a', 'c-2', 'paid'],
        ['c', 'c-1', 'pending'],
        ['d', 'c-1', 'paid'],
      ] as const) {
        await store.create(doc(id, '2026-01-01T00:00:00.000Z', { customer_id: customer, status }));
      }
      expect((await store.list({ limit: 10 })).map((r) => r.doc.id)).toEqual(['a', 'b', 'c', 'd']);
      expect((await store.list({ limit: 2, afterId: 'a' })).map((r) => r.doc.id)).toEqual(['b', 'c']);
      expect(
        (await store.list({ limit: 10, customerId: 'c-1', status: 'paid' })).map((r) => r.doc.id),
      ).toEqual(['b', 'd']);
    });

    it('summarises count and the oldest last touch', async () => {
      expect(await store.summary()).toEqual({ count: 0, oldestTouchedAt: undefined });
      await store.create(doc('a', '2026-03-01T00:00:00.000Z'));
      await store.create(doc('b', '2026-01-01T00:00:00.000Z', { updated_at: '2026-02-01T00:00:00.000Z' }));
      expect(await store.summary()).toEqual({ count: 2, oldestTouchedAt: '2026-02-01T00:00:00.000Z' });
    });
  });
}
