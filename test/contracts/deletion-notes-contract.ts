import { describe, expect, it } from 'vitest';
import type { DeletionNotes } from '../../src/ports/deletion-notes.js';
import { useFreshStore, type StoreFixture } from './store-fixture.js';

/** What every DeletionNotes adapter must do, run unchanged over each of them. */
export function describeDeletionNotesContract(
  name: string,
  make: () => Promise<StoreFixture<DeletionNotes>>,
): void {
  describe(`DeletionNotes contract: ${name}`, () => {
    const current = useFreshStore(make);

    it('notes deletions per record, keeping the latest', async () => {
      expect(await current().deletedAt('gone')).toBeUndefined();
      await current().note('gone', '2026-03-01T00:00:00.000Z');
      await current().note('gone', '2026-02-01T00:00:00.000Z');
      expect(await current().deletedAt('gone')).toBe('2026-03-01T00:00:00.000Z');
      await current().note('gone', '2026-04-01T00:00:00.000Z');
      expect(await current().deletedAt('gone')).toBe('2026-04-01T00:00:00.000Z');
      expect(await current().deletedAt('other')).toBeUndefined();
    });

    it('keeps confirmations apart from notes, the latest of each', async () => {
      await current().note('gone', '2026-03-01T00:00:00.000Z');
      expect(await current().confirmedAt('gone')).toBeUndefined();
      await current().confirm('gone', '2026-03-01T00:00:01.000Z');
      await current().confirm('gone', '2026-02-01T00:00:00.000Z');
      expect(await current().confirmedAt('gone')).toBe('2026-03-01T00:00:01.000Z');
      expect(await current().deletedAt('gone')).toBe('2026-03-01T00:00:00.000Z');
      await current().confirm('other', '2026-04-01T00:00:00.000Z');
      expect(await current().deletedAt('other')).toBeUndefined();
      expect(await current().confirmedAt('other')).toBe('2026-04-01T00:00:00.000Z');
    });

    it('answers the readiness probe', async () => {
      await expect(current().ping()).resolves.toBeUndefined();
    });
  });
}
