import { describe, expect, it } from 'vitest';
import { allHolds, type HoldChange, type LegalHolds } from '../../src/ports/legal-holds.js';
import { useFreshStore, type StoreFixture } from './store-fixture.js';

function change(at: string, by = 'legal@example.com', reason = 'case 2026-17'): HoldChange {
  return { at, by, reason };
}

/** What every LegalHolds adapter must do, run unchanged over each of them. */
export function describeLegalHoldsContract(
  name: string,
  make: () => Promise<StoreFixture<LegalHolds>>,
): void {
  describe(`LegalHolds contract: ${name}`, () => {
    const current = useFreshStore(make);

    it('answers the readiness probe', async () => {
      await expect(current().ping()).resolves.toBeUndefined();
    });

    it('places a hold once: a second set keeps the first and audits nothing', async () => {
      const first = await current().set('r1', change('2026-11-01T00:00:00.000Z'));
      expect(first).toEqual({
        changed: true,
        hold: {
          record_id: 'r1',
          since: '2026-11-01T00:00:00.000Z',
          by: 'legal@example.com',
          reason: 'case 2026-17',
        },
      });
      const again = await current().set('r1', change('2026-11-02T00:00:00.000Z', 'someone-else', 'other'));
      expect(again).toEqual({ changed: false, hold: first.hold });
      expect(await current().get('r1')).toEqual(first.hold);
      expect(await current().get('r2')).toBeUndefined();
      expect(await current().history('r1')).toHaveLength(1);
    });

    it('lifts a hold once and keeps every change in order in the audit trail', async () => {
      await current().set('r1', change('2026-11-01T00:00:00.000Z', 'a', 'opened'));
      expect(await current().clear('r1', change('2026-11-02T00:00:00.000Z', 'b', 'settled'))).toEqual({
        changed: true,
      });
      expect(await current().clear('r1', change('2026-11-03T00:00:00.000Z', 'c', 'again'))).toEqual({
        changed: false,
      });
      expect(await current().get('r1')).toBeUndefined();
      await current().set('r1', change('2026-11-04T00:00:00.000Z', 'd', 'reopened'));
      expect(await current().history('r1')).toEqual([
        { record_id: 'r1', action: 'set', at: '2026-11-01T00:00:00.000Z', by: 'a', reason: 'opened' },
        { record_id: 'r1', action: 'cleared', at: '2026-11-02T00:00:00.000Z', by: 'b', reason: 'settled' },
        { record_id: 'r1', action: 'set', at: '2026-11-04T00:00:00.000Z', by: 'd', reason: 'reopened' },
      ]);
      expect(await current().history('unknown')).toEqual([]);
    });

    it('clearing a record never held changes nothing and audits nothing', async () => {
      expect(await current().clear('r9', change('2026-11-01T00:00:00.000Z'))).toEqual({ changed: false });
      expect(await current().history('r9')).toEqual([]);
    });

    it('lists held records in id order, page by page', async () => {
      for (const id of ['c', 'a', 'b', 'd']) await current().set(id, change('2026-11-01T00:00:00.000Z'));
      await current().clear('d', change('2026-11-02T00:00:00.000Z'));
      expect((await current().list({ limit: 2 })).map((hold) => hold.record_id)).toEqual(['a', 'b']);
      expect((await current().list({ limit: 5, afterId: 'b' })).map((hold) => hold.record_id)).toEqual(['c']);
      expect((await allHolds(current())).map((hold) => hold.record_id)).toEqual(['a', 'b', 'c']);
    });

    it('places one hold when two set it at once', async () => {
      const results = await Promise.all([
        current().set('r1', change('2026-11-01T00:00:00.000Z', 'a')),
        current().set('r1', change('2026-11-01T00:00:01.000Z', 'b')),
      ]);
      expect(results.filter((result) => result.changed)).toHaveLength(1);
      expect(await current().history('r1')).toHaveLength(1);
    });
  });
}
