import { describe, expect, it } from 'vitest';
import { canonicalBytes, newRecordDocument, sha256Hex } from '../../src/domain/billing-record.js';
import { NotFoundError } from '../../src/domain/errors.js';
import type { ArchiveIndex, StoredEntry } from '../../src/ports/archive-index.js';
import type { ArchiveStore } from '../../src/ports/archive-store.js';
import type { StoredRecord } from '../../src/ports/live-store.js';
import type { ArchiveLayout, DurableBatch } from '../../src/services/layouts/archive-layout.js';
import { sampleRecord } from '../../src/services/sample-records.js';
import { useFreshStore, type StoreFixture } from './store-fixture.js';

/** A layout over a fresh archive store, with an index to ask what is still referenced. */
export interface LayoutFixture {
  layout: ArchiveLayout;
  store: ArchiveStore;
  index: ArchiveIndex;
  init(): Promise<void>;
  close(): Promise<void>;
}

const NOW = new Date('2026-11-01T00:00:00.000Z');

/** Records created over three months, in `created_at` order as the archiver hands them over. */
function records(count: number): StoredRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const doc = newRecordDocument(sampleRecord(i, NOW, 400 - i * 30), NOW);
    return { doc: { ...doc, id: `rec-${i.toString().padStart(3, '0')}` }, etag: `etag-${i}` };
  }).sort((a, b) => a.doc.created_at.localeCompare(b.doc.created_at));
}

async function writeAll(
  layout: ArchiveLayout,
  given: StoredRecord[],
  runId = 'run-1',
): Promise<DurableBatch[]> {
  const writer = layout.open({ runId, archivedAt: NOW.toISOString() });
  const batches: DurableBatch[] = [];
  for (let start = 0; start < given.length; start += 2)
    batches.push(...(await writer.add(given.slice(start, start + 2))));
  batches.push(...(await writer.finish()));
  return batches;
}

async function names(layout: ArchiveLayout): Promise<string[]> {
  const found: string[] = [];
  for await (const blob of layout.blobs()) found.push(blob.name);
  return found.sort();
}

/**
 * What every archive layout must do, run unchanged over each: a new layout is right when this
 * passes (and the archiver, crash and verify suites, which run per layout, stay green).
 */
export function describeArchiveLayoutContract(
  name: string,
  make: () => Promise<StoreFixture<LayoutFixture>>,
): void {
  describe(`ArchiveLayout contract: ${name}`, () => {
    const current = useFreshStore(make);

    it('makes every record durable, once, with the live etag read with it, readable at its entry', async () => {
      const given = records(7);
      const batches = await writeAll(current().layout, given);
      const written = batches.flatMap((batch) => batch.written);
      expect(batches.flatMap((batch) => batch.failed)).toEqual([]);
      expect(written.map((item) => item.entry.id).sort()).toEqual(given.map((r) => r.doc.id).sort());
      for (const { entry, etag } of written) {
        const record = given.find((r) => r.doc.id === entry.id);
        expect(etag).toBe(record?.etag);
        const bytes = await current().layout.read(entry.location);
        expect(bytes).toEqual(canonicalBytes(record?.doc ?? ({} as never)));
        expect(sha256Hex(bytes)).toBe(entry.sha256);
        expect(entry).toMatchObject({ size: bytes.length, run_id: 'run-1', archived_at: NOW.toISOString() });
        expect(entry.location.layout).toBe(current().layout.name);
      }
    });

    it('writes only under its own prefixes, and lists what it wrote', async () => {
      const batches = await writeAll(current().layout, records(5));
      const blobs = await names(current().layout);
      expect(blobs.length).toBeGreaterThan(0);
      for (const blob of blobs)
        expect(current().layout.prefixes.some((prefix) => blob.startsWith(prefix))).toBe(true);
      for (const { entry } of batches.flatMap((batch) => batch.written))
        expect(blobs).toContain(entry.location.blob);
    });

    it('writes the same run again after a crash without error and without a second copy', async () => {
      const given = records(5);
      const first = await writeAll(current().layout, given, 'run-again');
      const before = await names(current().layout);
      const second = await writeAll(current().layout, given, 'run-again');
      expect(await names(current().layout)).toEqual(before);
      const places = (batches: DurableBatch[]) => batches.flatMap((b) => b.written.map((w) => w.entry));
      expect(places(second)).toEqual(places(first));
    });

    it('keeps a blob while an entry points into it, and removes it with what belongs to it', async () => {
      const written = (await writeAll(current().layout, records(3))).flatMap((batch) => batch.written);
      const stored: StoredEntry[] = await current().index.putMany(written.map((item) => item.entry));
      const [first] = stored;
      if (!first) throw new Error('nothing was written');
      const garbage = { id: first.id, location: first.location };
      expect(await current().layout.stillReferenced(current().index, garbage)).toBe(true);
      for (const entry of stored.filter((e) => e.location.blob === first.location.blob))
        await current().index.withdraw(entry.id);
      expect(await current().layout.stillReferenced(current().index, garbage)).toBe(false);
      await current().layout.remove(first.location.blob);
      await current().layout.remove(first.location.blob);
      const left = await names(current().layout);
      // No blob of the removed one's stays behind (a segment's manifest goes with it).
      expect(left.filter((blob) => blob.startsWith(first.location.blob.replace(/\.[^/]*$/, '')))).toEqual([]);
      await expect(current().layout.read(first.location)).rejects.toBeInstanceOf(NotFoundError);
      for (const entry of stored.filter((e) => e.location.blob !== first.location.blob))
        expect(sha256Hex(await current().layout.read(entry.location))).toBe(entry.sha256);
    });
  });
}
