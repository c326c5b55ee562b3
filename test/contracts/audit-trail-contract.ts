import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/domain/errors.js';
import type { AuditEntry, AuditQuery, AuditTrail } from '../../src/ports/audit-trail.js';
import { useFreshStore, type StoreFixture } from './store-fixture.js';

function entry(at: string, fields: Partial<AuditEntry> = {}): AuditEntry {
  return { at, actor: 'key:ops', action: 'record.create', outcome: 'succeeded', ...fields };
}

/** Entries over three days, appended in time order, with two actors and two records. */
const SPREAD: AuditEntry[] = [
  entry('2026-03-01T08:00:00.000Z', { record_id: 'r1', request_id: 'q1' }),
  entry('2026-03-01T23:59:59.999Z', { actor: 'cli:ana', record_id: 'r2', request_id: 'q2' }),
  entry('2026-03-02T00:00:00.000Z', { record_id: 'r1', request_id: 'q3' }),
  entry('2026-03-02T12:00:00.000Z', { actor: 'cli:ana', record_id: 'r1', request_id: 'q4' }),
  entry('2026-03-02T12:00:00.001Z', {
    actor: 'system:scheduler',
    action: 'archive.run.end',
    request_id: 'q5',
  }),
  entry('2026-03-04T09:30:00.000Z', { record_id: 'r2', request_id: 'q6' }),
  entry('2026-03-04T10:00:00.000Z', { actor: 'cli:ana', record_id: 'r1', request_id: 'q7' }),
];

/** Every page of `query`, in order. */
async function allPages(trail: AuditTrail, query: AuditQuery): Promise<AuditEntry[][]> {
  const pages: AuditEntry[][] = [];
  let cursor: string | undefined;
  do {
    const page = await trail.query({ ...query, cursor });
    pages.push(page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined && pages.length < 100);
  return pages;
}

function ids(entries: AuditEntry[]): (string | undefined)[] {
  return entries.map((e) => e.request_id);
}

/** What every AuditTrail adapter must do, run unchanged over each of them. */
export function describeAuditTrailContract(
  name: string,
  make: () => Promise<StoreFixture<AuditTrail>>,
): void {
  describe(`AuditTrail contract: ${name}`, () => {
    const current = useFreshStore(make);

    async function appendAll(entries: AuditEntry[]): Promise<void> {
      for (const e of entries) await current().append(e);
    }

    it('answers the readiness probe', async () => {
      await expect(current().ping()).resolves.toBeUndefined();
    });

    it('an empty trail has no entries and no cursor', async () => {
      expect(await current().query({ limit: 10 })).toEqual({ items: [], nextCursor: undefined });
      expect(
        await current().query({
          limit: 10,
          actor: 'key:ops',
          from: '2026-01-01T00:00:00.000Z',
          to: '2026-12-31T00:00:00.000Z',
        }),
      ).toEqual({ items: [], nextCursor: undefined });
    });

    it('returns entries exactly as appended, oldest day first and in append order within a day', async () => {
      const full: AuditEntry = {
        at: '2026-03-05T10:00:00.000Z',
        actor: 'oid-1234',
        actor_name: 'Ana Lima',
        action: 'legal_hold.set',
        outcome: 'refused',
        status: 409,
        record_id: 'r9',
        run_id: 'run-1',
        request_id: 'req-1',
        client: '203.0.113.7',
        detail: 'conflict: the hold is already set',
      };
      // Within a day the append order counts, not the time.
      const later = entry('2026-03-05T11:00:00.000Z', { request_id: 'later' });
      const earlier = entry('2026-03-05T09:00:00.000Z', { request_id: 'earlier', detail: undefined });
      const dayBefore = entry('2026-03-04T23:00:00.000Z', { request_id: 'day-before' });
      await appendAll([full, later, earlier, dayBefore]);
      const page = await current().query({ limit: 10 });
      expect(page).toEqual({ items: [dayBefore, full, later, earlier], nextCursor: undefined });
      expect(page.items[1]).toStrictEqual(full);
      expect(Object.keys(page.items[3] ?? {})).not.toContain('detail');
    });

    it('filters by record, actor, from (inclusive) and to (exclusive), across days', async () => {
      await appendAll(SPREAD);
      const query = async (q: Omit<AuditQuery, 'limit'>) =>
        ids((await current().query({ limit: 50, ...q })).items);
      expect(await query({})).toEqual(['q1', 'q2', 'q3', 'q4', 'q5', 'q6', 'q7']);
      expect(await query({ recordId: 'r1' })).toEqual(['q1', 'q3', 'q4', 'q7']);
      expect(await query({ actor: 'cli:ana' })).toEqual(['q2', 'q4', 'q7']);
      expect(await query({ actor: 'cli:ana', recordId: 'r1' })).toEqual(['q4', 'q7']);
      expect(await query({ from: '2026-03-02T00:00:00.000Z' })).toEqual(['q3', 'q4', 'q5', 'q6', 'q7']);
      expect(await query({ to: '2026-03-02T00:00:00.000Z' })).toEqual(['q1', 'q2']);
      expect(await query({ from: '2026-03-01T23:59:59.999Z', to: '2026-03-02T12:00:00.001Z' })).toEqual([
        'q2',
        'q3',
        'q4',
      ]);
      // Within one day, and bounds that are not in the stored form.
      expect(await query({ from: '2026-03-02T12:00:00Z', to: '2026-03-02T13:00:00.001+01:00' })).toEqual([
        'q4',
      ]);
      expect(await query({ from: '2026-03-03T00:00:00.000Z', to: '2026-03-04T09:30:00.000Z' })).toEqual([]);
      expect(await query({ from: '2026-03-04T00:00:00.000Z', recordId: 'r2' })).toEqual(['q6']);
      expect(await query({ from: '2026-03-02T00:00:00.000Z', to: '2026-03-02T00:00:00.000Z' })).toEqual([]);
      expect(await query({ recordId: 'unknown' })).toEqual([]);
    });

    it('pages with limit and cursor, visiting every match exactly once, with no empty last page', async () => {
      await appendAll(SPREAD);
      const everything = await allPages(current(), { limit: 2 });
      expect(everything.map(ids)).toEqual([['q1', 'q2'], ['q3', 'q4'], ['q5', 'q6'], ['q7']]);
      const filtered = await allPages(current(), {
        limit: 1,
        actor: 'key:ops',
        from: '2026-03-01T09:00:00.000Z',
      });
      expect(filtered.map(ids)).toEqual([['q3'], ['q6']]);
      const exact = await allPages(current(), { limit: 3, recordId: 'r2' });
      expect(exact.map(ids)).toEqual([['q2', 'q6']]);
    });

    it('refuses a cursor it did not give out', async () => {
      await appendAll(SPREAD);
      const { nextCursor } = await current().query({ limit: 1 });
      expect(nextCursor).toBeDefined();
      for (const cursor of [
        'nonsense',
        `${nextCursor ?? ''}!`,
        Buffer.from('{"day":1}').toString('base64url'),
      ]) {
        await expect(current().query({ limit: 1, cursor })).rejects.toBeInstanceOf(ValidationError);
      }
    });

    it('refuses a time it could not file by day', async () => {
      await expect(current().append(entry('2026-03-01T08:00:00Z'))).rejects.toBeInstanceOf(ValidationError);
      await expect(current().append(entry('yesterday'))).rejects.toBeInstanceOf(ValidationError);
      expect((await current().query({ limit: 10 })).items).toEqual([]);
    });

    it('keeps every one of 20 concurrent appends', async () => {
      const entries = Array.from({ length: 20 }, (_, i) =>
        entry(`2026-03-06T10:00:00.${String(i).padStart(3, '0')}Z`, { request_id: `c${i}` }),
      );
      await Promise.all(entries.map((e) => current().append(e)));
      const { items, nextCursor } = await current().query({ limit: 100 });
      expect(nextCursor).toBeUndefined();
      expect(items).toHaveLength(20);
      expect(new Set(ids(items))).toEqual(new Set(ids(entries)));
      expect(items).toEqual(expect.arrayContaining(entries));
    });
  });
}
