import { afterEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/domain/billing-record.js';
import { LockHeldError, StoreUnavailableError } from '../../src/domain/errors.js';
import { verifiedRecordHashes, placeOf } from '../../src/domain/segment-format.js';
import { parseManifest } from '../../src/domain/segment-manifest.js';
import { runCli } from '../helpers/cli.js';
import { withoutEtag, type ArchiveEntry } from '../../src/ports/archive-index.js';
import { BACKENDS, blobNames, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { heldReads } from '../helpers/held-reads.js';
import { intercept } from '../helpers/intercept.js';
import { failingSegmentWrites, type SegmentFault } from '../helpers/segment-faults.js';

describe.each(BACKENDS)('verify and repair (%s)', (backend) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
  });

  async function seed(h: Harness, ids: string[], month = '2025-01'): Promise<void> {
    for (const [i, id] of ids.entries())
      await h.services.records.create(recordBody({ id, amount: i, created_at: `${month}-10T10:00:00.000Z` }));
  }

  /** Every entry's id, as the index holds it. */
  async function indexedIds(h: Harness): Promise<string[]> {
    return (await h.adapters.index.list({ limit: 1000 })).map((entry) => entry.id);
  }

  it('refuses --rebuild-index on an index kept in a database, which --repair mends entry by entry', async () => {
    harness = await startHarness({ backend, layout: 'record' });
    await expect(harness.services.verifier.verify({ repair: true, rebuildIndex: true })).rejects.toThrow(
      'a Cosmos DB or SQLite index is mended entry by entry by --repair alone',
    );
  });

  it('passes a healthy archive holding both layouts, counting what it checked', async () => {
    harness = await startHarness({ backend, layout: 'record' });
    await seed(harness, ['r1', 'r2']);
    await harness.services.archiver.runOnce();
    await harness.close();
    harness = await startHarness({ reuse: harness, layout: 'segment' });
    await seed(harness, ['s1', 's2', 's3'], '2025-02');
    await harness.services.archiver.runOnce();
    const progress: [string, number, number | undefined][] = [];
    const report = await harness.services.verifier.verify({
      onProgress: (part, done, total) => progress.push([part, done, total]),
    });
    // Entries one by one against the index's count, then every blob listed: 2 record blobs, a segment, its manifest.
    expect(
      progress.filter(([part]) => part === 'index entries').map(([, done, total]) => [done, total]),
    ).toEqual([0, 1, 2, 3, 4, 5].map((done) => [done, 5]));
    expect(progress.filter(([part]) => part === 'blobs').at(-1)).toEqual(['blobs', 4, 4]);
    expect(report).toMatchObject({
      ok: true,
      checked: { entries: 5, segments: 1, segment_records: 3, record_blobs: 2 },
      missing: { count: 0 },
      corrupt: { count: 0 },
      unindexed: { count: 0 },
      orphans: { count: 0 },
      dead_records: 0,
      live_and_archived: { count: 0 },
    });
  });

  it('--repair leaves the entry of a record that is live too: a restore of it may be in flight', async () => {
    harness = await startHarness({ backend, layout: 'record' });
    await seed(harness, ['both']);
    await harness.services.archiver.runOnce();
    // A restore that has written its live copy and not yet withdrawn the entry looks just like this.
    const archived = await harness.services.records.get('both');
    await harness.adapters.live.create({ ...archived.doc, restored_at: '2026-11-30T00:00:00.000Z' });
    const repaired = await harness.services.verifier.verify({ repair: true, graceMs: 0 });
    expect(repaired).toMatchObject({
      ok: true,
      live_and_archived: { count: 1, items: [{ id: 'both' }] },
      repaired: { entries_rebuilt: 0, orphans_removed: 0 },
    });
    expect(await indexedIds(harness)).toEqual(['both']);
  });

  it('reports orphans of failed runs, and --repair removes those past the grace period only', async () => {
    let failing: SegmentFault = 'manifest';
    harness = await startHarness({
      backend,
      layout: 'segment',
      wrap: (adapters) => failingSegmentWrites(adapters, () => failing),
    });
    await seed(harness, ['o1', 'o2', 'o3']);
    await harness.services.archiver.runOnce();
    failing = 'index';
    await harness.services.archiver.runOnce();
    failing = undefined;
    await harness.services.archiver.runOnce();

    const report = await harness.services.verifier.verify();
    expect(report.ok).toBe(true);
    expect(report.orphans.count).toBe(2);
    expect(report.orphans.items.map((o) => o.message).sort()).toEqual([
      'segment no index entry points into',
      'segment without a manifest, nothing points into it',
    ]);
    // The orphan with a manifest holds copies of records archived since: dead, not missing.
    expect(report.dead_records).toBe(3);

    const young = await harness.services.verifier.verify({ repair: true });
    expect(young.repaired.orphans_removed).toBe(0);
    expect(young.orphans.count).toBe(2);

    const repaired = await harness.services.verifier.verify({ repair: true, graceMs: 0 });
    expect(repaired).toMatchObject({ ok: true, repaired: { orphans_removed: 2, entries_rebuilt: 0 } });
    // The last run's segment and its manifest are all that is left.
    expect(await blobNames(harness, 'segments/')).toHaveLength(1);
    expect(await blobNames(harness, 'manifests/')).toHaveLength(1);
    expect(await harness.services.verifier.verify()).toMatchObject({ ok: true, orphans: { count: 0 } });
    for (const id of ['o1', 'o2', 'o3'])
      expect((await harness.services.records.get(id)).source).toBe('archive');
  });

  /**
   * Archives a to e, deletes d, restores e, then the index loses a and b (say, a botched manual
   * clean-up): what a read of a gave before, and a's entry.
   */
  async function loseTwoEntries(layout: 'segment' | 'record') {
    harness = await startHarness({ backend, layout });
    await seed(harness, ['a', 'b', 'c', 'd', 'e']);
    await harness.services.archiver.runOnce();
    const before = JSON.stringify((await harness.services.records.get('a')).doc);
    const entryOfA = await harness.adapters.index.get('a');
    await harness.services.records.delete('d', undefined);
    await harness.services.records.restore('e');
    await harness.adapters.index.withdraw('a');
    await harness.adapters.index.withdraw('b');
    return { h: harness, before, entryOfA };
  }

  it('finds records the index lost and rebuilds them from manifests, never a deleted or live one', async () => {
    const { h, before } = await loseTwoEntries('segment');

    const report = await h.services.verifier.verify();
    expect(report.ok).toBe(false);
    expect(report.unindexed.items.map((f) => f.id).sort()).toEqual(['a', 'b']);
    expect(report.dead_records).toBe(2);

    const repaired = await h.services.verifier.verify({ repair: true });
    expect(repaired).toMatchObject({ ok: true, repaired: { entries_rebuilt: 2 } });
    expect((await indexedIds(h)).sort()).toEqual(['a', 'b', 'c']);
    const view = await h.services.records.get('a');
    expect(view.source).toBe('archive');
    expect(JSON.stringify(view.doc)).toBe(before);
    await expect(h.services.records.get('d')).rejects.toMatchObject({ code: 'not_found' });
    expect((await h.services.records.get('e')).source).toBe('live');
  });

  it('never takes a record blob the index lost for an orphan: it is unindexed, and --repair indexes it again', async () => {
    const { h, before, entryOfA } = await loseTwoEntries('record');

    const report = await h.services.verifier.verify();
    expect(report.ok).toBe(false);
    expect(report.unindexed.items.map((f) => f.id).sort()).toEqual(['a', 'b']);
    // d's blob (deleted) and e's (live again) are the ones nothing needs.
    expect(report.orphans.count).toBe(2);

    const repaired = await h.services.verifier.verify({ repair: true, graceMs: 0 });
    expect(repaired).toMatchObject({ ok: true, repaired: { entries_rebuilt: 2, orphans_removed: 2 } });
    expect((await indexedIds(h)).sort()).toEqual(['a', 'b', 'c']);
    const rebuilt = await h.adapters.index.get('a');
    expect(rebuilt).toMatchObject({
      customer_id: entryOfA?.customer_id,
      created_at: entryOfA?.created_at,
      location: entryOfA?.location,
      sha256: entryOfA?.sha256,
      size: entryOfA?.size,
      run_id: expect.stringMatching(/^repair-/) as string,
    });
    const view = await h.services.records.get('a');
    expect(view.source).toBe('archive');
    expect(JSON.stringify(view.doc)).toBe(before);
    await expect(h.services.records.get('d')).rejects.toMatchObject({ code: 'not_found' });
    expect((await h.services.records.get('e')).source).toBe('live');
    expect(await h.services.verifier.verify()).toMatchObject({ ok: true, orphans: { count: 0 } });
  });

  it('leaves record blobs alone where a delete was noted, and takes a deleted one for garbage whatever its time', async () => {
    harness = await startHarness({ backend, layout: 'record' });
    await seed(harness, ['again', 'unsure', 'copied']);
    await harness.services.archiver.runOnce();
    const copied = await harness.adapters.index.get('copied');
    if (!copied) throw new Error('copied should be archived');
    // Deleted, created again and archived again: the new copy is not the deleted one.
    await harness.services.records.delete('again', undefined);
    await harness.services.records.create(
      recordBody({ id: 'again', amount: 99, created_at: '2025-01-20T10:00:00.000Z' }),
    );
    await harness.services.archiver.runOnce();
    // Deleted, then its blob's time reset, as copying an archive does: the garbage queue knows it.
    await harness.services.records.delete('copied', undefined);
    const copiedBlob = copied.location.blob;
    await harness.overwriteBlob(copiedBlob, await harness.adapters.store.get(copiedBlob));
    // A delete given up after its note; then the index loses what it held of both others.
    await harness.adapters.deletions.note('unsure', new Date().toISOString());
    await harness.adapters.index.withdraw('again');
    await harness.adapters.index.withdraw('unsure');
    const blobsBefore = await blobNames(harness, 'records/');

    const repaired = await harness.services.verifier.verify({ repair: true, graceMs: 0 });
    expect(repaired.ok).toBe(false);
    expect(repaired.repaired).toMatchObject({ entries_rebuilt: 0, orphans_removed: 1 });
    const reported = new Map(repaired.unindexed.items.map((item) => [item.id, item.message]));
    expect([...reported.keys()].sort()).toEqual(['again', 'unsure']);
    for (const message of reported.values())
      expect(message).toMatch(
        /neither live nor indexed, and a delete of it was noted at .*: nothing is changed/,
      );
    expect(await indexedIds(harness)).toEqual([]);
    expect(await blobNames(harness, 'records/')).toEqual(blobsBefore.filter((name) => name !== copiedBlob));
    await expect(harness.services.records.get('copied')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('reports a record blob whose bytes are not the record its name says, and never indexes it', async () => {
    harness = await startHarness({ backend, layout: 'record' });
    await seed(harness, ['a', 'b']);
    await harness.services.archiver.runOnce();
    const entry = await harness.adapters.index.get('a');
    const other = await harness.adapters.index.get('b');
    if (!entry || !other) throw new Error('both should be archived');
    await harness.adapters.index.withdraw('a');
    // a's blob now holds b's bytes.
    await harness.overwriteBlob(entry.location.blob, await harness.adapters.store.get(other.location.blob));
    const repaired = await harness.services.verifier.verify({ repair: true, graceMs: 0 });
    expect(repaired.ok).toBe(false);
    expect(repaired.corrupt.items).toEqual([
      {
        blob: entry.location.blob,
        id: 'a',
        message: `${entry.location.blob} does not hold record 'a' as its name says`,
      },
    ]);
    expect(repaired.repaired.entries_rebuilt).toBe(0);
    expect(await indexedIds(harness)).toEqual(['b']);
    expect(await blobNames(harness, 'records/')).toContain(entry.location.blob);
  });

  it('reads, repairs and collects segments whose format 1 manifests an earlier version wrote beside them', async () => {
    harness = await startHarness({ backend, layout: 'segment' });
    await seed(harness, ['a', 'b', 'c']);
    await harness.services.archiver.runOnce();
    const { store } = harness.adapters;
    const [manifestName] = await blobNames(harness, 'manifests/');
    if (!manifestName) throw new Error('no manifest written');
    const manifest = parseManifest(await store.get(manifestName), manifestName);
    const hashes = verifiedRecordHashes(await store.get(manifest.segment), manifest);
    const legacy = Buffer.from(
      JSON.stringify({
        ...manifest,
        format: 'billing-archive.segment-manifest/1',
        members: manifest.members.map(({ sha256: _, ...member }) => member),
        records: manifest.records.map((record) => ({
          ...record,
          sha256: hashes.get(placeOf(manifest, record)),
        })),
      }),
    );
    const legacyName = manifest.segment.replace('.ndjson.gz', '.manifest.json');
    await store.putIfAbsent(legacyName, legacy, { sha256: sha256Hex(legacy) });
    await store.delete(manifestName);

    expect(await harness.services.verifier.verify()).toMatchObject({
      ok: true,
      checked: { segments: 1, segment_records: 3 },
      orphans: { count: 0 },
    });
    await harness.adapters.index.withdraw('b');
    expect(await harness.services.verifier.verify({ repair: true })).toMatchObject({
      ok: true,
      repaired: { entries_rebuilt: 1 },
    });
    expect((await harness.services.records.get('b')).source).toBe('archive');

    for (const id of ['a', 'b', 'c']) await harness.services.records.delete(id, undefined);
    await harness.services.verifier.verify({ repair: true, graceMs: 0 });
    expect(await blobNames(harness, 'segments/')).toEqual([]);
  });

  it('reports an entry whose lengths or SHA-256 disagree with the record at its place', async () => {
    harness = await startHarness({ backend, layout: 'segment' });
    await seed(harness, ['a', 'b', 'c']);
    await harness.services.archiver.runOnce();
    const { index } = harness.adapters;
    const entryOf = async (id: string) => {
      const { etag: _, ...entry } = (await index.get(id)) ?? expect.fail(`${id} is not indexed`);
      if (entry.location.layout !== 'segment') throw new Error('not a segment entry');
      return { ...entry, location: entry.location };
    };
    const a = await entryOf('a');
    await index.putMany([
      { ...a, location: { ...a.location, line: { ...a.location.line, length: a.location.line.length - 1 } } },
    ]);
    const b = await entryOf('b');
    await index.putMany([{ ...b, sha256: 'f'.repeat(64) }]);

    const report = await harness.services.verifier.verify();
    expect(report.ok).toBe(false);
    expect(report.corrupt.items.map(({ id, message }) => [id, message]).sort()).toEqual([
      ['a', expect.stringContaining('gives lengths in') as string],
      ['b', expect.stringContaining('has a SHA-256 other than its record') as string],
    ]);
    // Repair leaves both alone: each entry points into a segment that holds the record intact.
    expect((await harness.services.verifier.verify({ repair: true })).repaired.entries_rebuilt).toBe(0);
  });

  it('rebuilds a record the index lost from its newest archived copy', async () => {
    harness = await startHarness({ backend, layout: 'segment' });
    await seed(harness, ['x', 'y']);
    await harness.services.archiver.runOnce();
    const restored = await harness.services.records.restore('x');
    const updated = await harness.services.records.replace(
      'x',
      { ...restored.doc, status: 'refunded' },
      undefined,
    );
    await harness.services.archiver.runOnce({ olderThanDays: 0 });
    expect((await blobNames(harness, 'segments/')).filter((n) => n.endsWith('.gz'))).toHaveLength(2);
    await harness.adapters.index.withdraw('x');
    await harness.adapters.index.withdraw('y');

    const repaired = await harness.services.verifier.verify({ repair: true });
    expect(repaired).toMatchObject({ ok: true, repaired: { entries_rebuilt: 2 } });
    expect((await harness.services.records.get('x')).doc).toEqual(updated.doc);
  });

  /**
   * x and y archived in `layout` an hour ago (by the archiver's clock), then x restored and
   * updated: v1 is archived, v2 live.
   */
  async function archivedThenChanged(
    layout: 'segment' | 'record',
  ): Promise<{ archived: Harness; v1: ArchiveEntry; v2: unknown }> {
    const archived = await startHarness({ backend, layout, clock: () => new Date(Date.now() - 3_600_000) });
    harness = archived;
    await seed(archived, ['x', 'y']);
    await archived.services.archiver.runOnce();
    const v1 = await archived.adapters.index.get('x');
    if (!v1) throw new Error('x was not archived');
    const restored = await archived.services.records.restore('x');
    const v2 = await archived.services.records.replace(
      'x',
      { ...restored.doc, status: 'refunded' },
      undefined,
    );
    return { archived, v1: withoutEtag(v1), v2: v2.doc };
  }

  /**
   * x archived into a segment an hour ago (by the archiver's clock), restored and updated, then
   * archived again now in the record layout: its dead v1 stays in the segment beside y.
   */
  async function twoVersionsAcrossLayouts(): Promise<{
    later: Harness;
    v1: ArchiveEntry;
    v2Blob: string;
    v2: unknown;
  }> {
    const { archived, v1, v2 } = await archivedThenChanged('segment');
    const later = await startHarness({ reuse: archived, layout: 'record' });
    await later.services.archiver.runOnce({ olderThanDays: 0 });
    const [v2Blob] = await blobNames(later, 'records/');
    if (!v2Blob) throw new Error('v2 was not archived as a record blob');
    return { later, v1, v2Blob, v2 };
  }

  it('a repair indexes the newest copy of a record the index lost, whichever layout holds it', async () => {
    const { later, v2Blob, v2 } = await twoVersionsAcrossLayouts();
    try {
      await later.adapters.index.withdraw('x');
      const repaired = await later.services.verifier.verify({ repair: true, graceMs: 0 });
      expect(repaired).toMatchObject({ ok: true, repaired: { entries_rebuilt: 1 } });
      expect((await later.services.records.get('x')).doc).toEqual(v2);
      const again = await later.services.verifier.verify({ repair: true, graceMs: 0 });
      expect(again).toMatchObject({ ok: true, repaired: { entries_rebuilt: 0 } });
      expect(await blobNames(later, 'records/')).toEqual([v2Blob]);
    } finally {
      await later.close();
    }
  });

  it('takes the place a held copy left, whose garbage note a crash cut off, for an orphan: same bytes, no later version', async () => {
    harness = await startHarness({ backend, layout: 'record' });
    await seed(harness, ['kept']);
    await harness.services.archiver.runOnce();
    const entry = await harness.adapters.index.get('kept');
    if (!entry) throw new Error('kept was not archived');
    const original = entry.location.blob;
    // What the retention sweep does for a held record, cut off after the repoint: the copy under
    // held/ is written and indexed, and the note of the old place is never written.
    const bytes = await harness.adapters.store.get(original);
    const held = `held/kept.${entry.sha256.slice(0, 16)}.json`;
    await harness.adapters.store.putIfAbsent(held, bytes, { sha256: entry.sha256 });
    await harness.adapters.index.repoint(entry, { ...entry, location: { ...entry.location, blob: held } });
    const report = await harness.services.verifier.verify();
    expect(report).toMatchObject({ ok: true, unindexed: { count: 0 } });
    expect(report.orphans.items.map((orphan) => orphan.blob)).toEqual([original]);
    const repaired = await harness.services.verifier.verify({ repair: true, graceMs: 0 });
    expect(repaired.repaired.orphans_removed).toBe(1);
    expect(await blobNames(harness, 'records/')).toEqual([]);
    expect((await harness.services.records.get('kept')).source).toBe('archive');
  });

  it('never removes a record blob archived after the copy the index points to: a later version whose entry was lost', async () => {
    const { later, v1, v2Blob } = await twoVersionsAcrossLayouts();
    try {
      // The index points at the older copy, as a repair by an earlier version could leave it.
      await later.adapters.index.withdraw('x');
      await later.adapters.index.putMany([v1]);
      const report = await later.services.verifier.verify({ repair: true, graceMs: 0 });
      expect(report.ok).toBe(false);
      expect(report.unindexed.items).toEqual([
        expect.objectContaining({
          blob: v2Blob,
          id: 'x',
          message: expect.stringContaining('archived after the copy the index points to') as unknown,
        }),
      ]);
      expect(await blobNames(later, 'records/')).toEqual([v2Blob]);
    } finally {
      await later.close();
    }
  });

  it('a repair prefers a newer segment copy to an older record blob, which it removes', async () => {
    // v1 in the record layout an hour ago; restored and updated, with the garbage note of v1 lost.
    const { archived, v2 } = await archivedThenChanged('record');
    const [v1Blob] = (await blobNames(archived, 'records/')).filter((name) => name.includes('/x.'));
    const notes = await archived.adapters.garbage.list({ limit: 100 });
    await archived.adapters.garbage.forget(notes.map((note) => note.seq));
    const later = await startHarness({ reuse: archived, layout: 'segment' });
    try {
      await later.services.archiver.runOnce({ olderThanDays: 0 });
      await later.adapters.index.withdraw('x');
      const repaired = await later.services.verifier.verify({ repair: true, graceMs: 0 });
      expect(repaired).toMatchObject({ ok: true, repaired: { entries_rebuilt: 1, orphans_removed: 1 } });
      expect((await later.services.records.get('x')).doc).toEqual(v2);
      expect(await blobNames(later, 'records/')).not.toContain(v1Blob);
    } finally {
      await later.close();
    }
  });

  it('a repair indexes no copy of a record with a deletion note, though a segment offered one', async () => {
    const { later, v2Blob } = await twoVersionsAcrossLayouts();
    try {
      await later.adapters.index.withdraw('x');
      // A delete noted long before either copy was archived: the copies cannot be told apart here.
      await later.adapters.deletions.note('x', '2000-01-01T00:00:00.000Z');
      const report = await later.services.verifier.verify({ repair: true, graceMs: 0 });
      expect(report.ok).toBe(false);
      expect(report.unindexed.items.map((item) => item.blob)).toContain(v2Blob);
      expect(await later.adapters.index.get('x')).toBeUndefined();
    } finally {
      await later.close();
    }
  });

  it.runIf(backend === 'azure')(
    'a repair indexes no copy of a record whose newer segment is in the Archive tier, and never removes it',
    async () => {
      const { archived } = await archivedThenChanged('segment');
      const older = (await blobNames(archived, 'segments/')).filter((name) => name.endsWith('.gz'));
      const later = await startHarness({ reuse: archived, layout: 'segment' });
      try {
        await later.services.archiver.runOnce({ olderThanDays: 0 });
        const [newer] = (await blobNames(later, 'segments/')).filter(
          (name) => name.endsWith('.gz') && !older.includes(name),
        );
        const tiers = later.adapters.store.tiers;
        if (!newer || !tiers) throw new Error('no newer segment, or no tiers');
        await tiers.setTier(newer, 'Archive');
        await later.adapters.index.withdraw('x');
        for (let pass = 0; pass < 2; pass++) {
          const report = await later.services.verifier.verify({ repair: true, graceMs: 0 });
          expect(report.ok).toBe(false);
          expect(report.unindexed.items.map((item) => item.blob)).toContain(newer);
          expect(await later.adapters.index.get('x')).toBeUndefined();
        }
        expect(await blobNames(later, 'segments/')).toContain(newer);
      } finally {
        await later.close();
      }
    },
  );

  it('a repair leaves alone a record deleted while it ran, though it had chosen a copy to index', async () => {
    harness = await startHarness({ backend, layout: 'segment' });
    await seed(harness, ['x', 'y']);
    await harness.services.archiver.runOnce();
    await harness.adapters.index.withdraw('x');
    // The delete lands between the repair's look at x and its write: when it reads the index
    // once more before writing.
    const index = harness.adapters.index;
    const getMany = index.getMany.bind(index);
    let deleted = false;
    index.getMany = async (ids: readonly string[]) => {
      if (ids.includes('x') && !deleted) {
        deleted = true;
        await harness?.adapters.deletions.note('x', new Date().toISOString());
      }
      return getMany(ids);
    };
    const report = await harness.services.verifier.verify({ repair: true });
    expect(deleted).toBe(true);
    expect(report.repaired.entries_rebuilt).toBe(0);
    expect(await index.get('x')).toBeUndefined();
  });

  it('reports corrupt segments and entries whose blob is gone, and fails', async () => {
    harness = await startHarness({ backend, layout: 'segment' });
    await seed(harness, ['c1', 'c2'], '2025-03');
    await seed(harness, ['g1'], '2025-04');
    await harness.services.archiver.runOnce();
    const damaged = await harness.adapters.index.get('c1');
    const gone = await harness.adapters.index.get('g1');
    if (!damaged || !gone) throw new Error('not archived');
    const bytes = await harness.adapters.store.get(damaged.location.blob);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
    await harness.overwriteBlob(damaged.location.blob, bytes);
    await harness.adapters.store.delete(gone.location.blob);

    const report = await harness.services.verifier.verify({ repair: true, graceMs: 0 });
    expect(report.ok).toBe(false);
    expect(report.missing.items.map((f) => f.id)).toEqual(['g1']);
    expect(report.corrupt.count).toBeGreaterThanOrEqual(1);
    expect(report.corrupt.items[0]?.message).toContain('does not match its manifest');
    // Repair never removes a segment entries still point into, damaged or not.
    expect(await blobNames(harness, 'segments/')).toContain(damaged.location.blob);
    // The history keeps the pass: its outcome, counts and the first problems, for the console.
    const [kept, ...older] = await harness.services.verifier.history(5);
    expect(older).toEqual([]);
    expect(kept).toMatchObject({
      outcome: 'failed',
      repair: true,
      findings: { missing: 1, corrupt: report.corrupt.count, unindexed: 0, orphans: report.orphans.count },
      repaired: { entries_rebuilt: 0, orphans_removed: report.repaired.orphans_removed },
    });
    expect(kept?.problems?.map((p) => [p.kind, p.id])).toEqual([
      ['missing', 'g1'],
      ...report.corrupt.items.map((f) => ['corrupt', f.id]),
    ]);
    expect(kept?.verification_id).toMatch(/^verify-/);
  });

  it('keeps a pass that stopped, with why, and none that never started', async () => {
    const failing = { on: false };
    harness = await startHarness({
      backend,
      layout: 'segment',
      wrap: (adapters) => {
        const failed =
          <T>(list: (prefix: string) => AsyncIterable<T>) =>
          (prefix: string) => {
            if (failing.on) throw new StoreUnavailableError('the archive store did not answer a listing');
            return list(prefix);
          };
        const { store } = adapters;
        const { tiers } = store;
        // A store with tiers is listed through them.
        return {
          ...adapters,
          store: intercept(store, {
            list: failed((prefix) => store.list(prefix)),
            ...(tiers && { tiers: intercept(tiers, { list: failed((prefix) => tiers.list(prefix)) }) }),
          }),
        };
      },
    });
    await seed(harness, ['e1']);
    await harness.services.archiver.runOnce();
    expect((await harness.services.verifier.verify({ startedBy: 'cli:ops@host' })).ok).toBe(true);
    failing.on = true;
    await expect(harness.services.verifier.verify({ startedBy: 'cli:ops@host' })).rejects.toThrow(
      'did not answer a listing',
    );
    // Refused before it began (a repair without --repair's consent to rebuild): nothing to keep.
    await expect(harness.services.verifier.verify({ rebuildIndex: true })).rejects.toThrow('add --repair');
    const kept = await harness.services.verifier.history(5);
    expect(kept.map((pass) => pass.outcome)).toEqual(['error', 'passed']);
    expect(kept[0]).toMatchObject({
      started_by: 'cli:ops@host',
      error: 'the archive store did not answer a listing',
    });
    expect(kept[0]?.findings).toBeUndefined();
    expect(kept[1]).toMatchObject({ checked: { entries: 1 }, findings: { missing: 0, corrupt: 0 } });
  });

  it('waits for no run: it refuses to start while archival holds the lock', async () => {
    // The run waits inside its first read until the test lets it go.
    const held = heldReads();
    harness = await startHarness({ backend, wrap: held.wrap });
    const { done } = await harness.services.archiver.start();
    await expect(harness.services.verifier.verify()).rejects.toBeInstanceOf(LockHeldError);
    held.release();
    expect(await done).toMatchObject({ status: 'succeeded' });
    expect((await harness.services.verifier.verify()).ok).toBe(true);
    // The refused pass never began, so only the second is kept.
    expect(await harness.services.verifier.history(5)).toHaveLength(1);
  });

  it('through the CLI: exits 1 with a summary saying what to do, and 0 once repaired', async () => {
    harness = await startHarness({ backend, layout: 'segment' });
    await seed(harness, ['v1', 'v2']);
    await harness.services.archiver.runOnce();
    await harness.adapters.index.withdraw('v1');
    const env = { ...harness.env, LOG_LEVEL: 'warn' };
    const failed = await runCli(['--json', 'verify'], env);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toContain(
      '1 records held by segments but missing from the index: `verify --repair`',
    );
    expect(failed.stderr).toContain('verify: FAILED');
    expect(JSON.parse(failed.stdout)).toMatchObject({ ok: false, unindexed: { count: 1 } });
    // Without --json the summary is the output, and it names the record.
    const text = await runCli(['verify'], env);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain("record 'v1' is in segments/");
    expect(() => JSON.parse(text.stdout) as unknown).toThrow();
    const repaired = await runCli(['--json', 'verify', '--repair'], env);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(repaired.stderr).toContain('repaired: 1 entries rebuilt');
    expect((await harness.services.records.get('v1')).source).toBe('archive');
    // Each CLI pass is kept, naming who ran it.
    const kept = await harness.services.verifier.history(5);
    expect(kept.map((pass) => [pass.outcome, pass.repair])).toEqual([
      ['passed', true],
      ['failed', false],
      ['failed', false],
    ]);
    expect(kept[0]?.started_by).toMatch(/^cli:/);
  });
});
