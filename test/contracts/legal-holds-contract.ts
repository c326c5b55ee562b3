import { describe, expect, it } from 'vitest';
import { DeletionUnderWayError } from '../../src/domain/errors.js';
import {
  allHolds,
  type DeletionClaim,
  type HoldChange,
  type LegalHolds,
} from '../../src/ports/legal-holds.js';
import { useFreshStore, type StoreFixture } from './store-fixture.js';

function change(at: string, by = 'legal@example.com', reason = 'case 2026-17'): HoldChange {
  return { at, by, reason };
}

function claim(token: string, at: string, expiresAt = '2026-11-01T00:02:00.000Z'): DeletionClaim {
  return { token, at, expiresAt };
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

    it("refuses a hold while a delete's claim stands, and places it once the claim is released", async () => {
      expect(await current().claimDeletion('r1', claim('d1', '2026-11-01T00:00:00.000Z'))).toEqual({
        claimed: true,
      });
      await expect(current().set('r1', change('2026-11-01T00:00:01.000Z'))).rejects.toBeInstanceOf(
        DeletionUnderWayError,
      );
      // Lifting finds no hold and must leave the claim standing.
      expect(await current().clear('r1', change('2026-11-01T00:00:01.000Z'))).toEqual({ changed: false });
      await expect(current().set('r1', change('2026-11-01T00:00:01.000Z'))).rejects.toBeInstanceOf(
        DeletionUnderWayError,
      );
      expect(await current().get('r1')).toBeUndefined();
      expect(await allHolds(current())).toEqual([]);
      expect(await current().history('r1')).toEqual([]);
      // Another delete's token releases nothing.
      await current().releaseDeletion('r1', 'd2');
      await expect(current().set('r1', change('2026-11-01T00:00:01.000Z'))).rejects.toBeInstanceOf(
        DeletionUnderWayError,
      );
      await current().releaseDeletion('r1', 'd1');
      expect((await current().set('r1', change('2026-11-01T00:00:02.000Z'))).changed).toBe(true);
      expect(await current().history('r1')).toHaveLength(1);
    });

    it('refuses a claim on a held record, answering its hold, and releasing it leaves the hold', async () => {
      const { hold } = await current().set('r1', change('2026-11-01T00:00:00.000Z'));
      expect(await current().claimDeletion('r1', claim('d1', '2026-11-01T00:00:01.000Z'))).toEqual({
        claimed: false,
        hold,
      });
      await current().releaseDeletion('r1', 'd1');
      expect(await current().get('r1')).toEqual(hold);
    });

    it("lets one delete's claim stand at a time, answers its own again, and takes over an expired one", async () => {
      expect((await current().claimDeletion('r1', claim('d1', '2026-11-01T00:00:00.000Z'))).claimed).toBe(
        true,
      );
      expect(await current().claimDeletion('r1', claim('d2', '2026-11-01T00:00:01.000Z'))).toEqual({
        claimed: false,
      });
      expect((await current().claimDeletion('r1', claim('d1', '2026-11-01T00:00:01.000Z'))).claimed).toBe(
        true,
      );
      // Its holder died: past its expiry the claim no longer keeps a delete or a hold off.
      expect(
        (
          await current().claimDeletion(
            'r1',
            claim('d2', '2026-11-01T00:02:00.001Z', '2026-11-01T00:04:00.000Z'),
          )
        ).claimed,
      ).toBe(true);
      await current().releaseDeletion('r1', 'd1');
      await expect(current().set('r1', change('2026-11-01T00:03:00.000Z'))).rejects.toBeInstanceOf(
        DeletionUnderWayError,
      );
      expect((await current().set('r1', change('2026-11-01T00:04:00.001Z'))).changed).toBe(true);
    });

    it('lets exactly one of a hold and a claim made at once win, ten times over', async () => {
      for (let round = 0; round < 10; round++) {
        const id = `race-${round}`;
        const [placed, claimed] = await Promise.allSettled([
          current().set(id, change('2026-11-01T00:00:00.000Z')),
          current().claimDeletion(id, claim(`d${round}`, '2026-11-01T00:00:00.000Z')),
        ]);
        const holdWon = placed.status === 'fulfilled';
        if (!holdWon) expect(placed.reason).toBeInstanceOf(DeletionUnderWayError);
        expect(claimed.status).toBe('fulfilled');
        const claimWon = claimed.status === 'fulfilled' && claimed.value.claimed;
        expect(holdWon).not.toBe(claimWon);
        expect((await current().get(id)) !== undefined).toBe(holdWon);
      }
    });
  });
}
