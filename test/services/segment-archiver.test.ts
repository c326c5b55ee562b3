import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalBytes } from '../../src/domain/billing-record.js';
import { StoreUnavailableError } from '../../src/domain/errors.js';
import { MEMBER_MAX_BYTES } from '../../src/domain/segment-format.js';
import { parseManifest } from '../../src/domain/segment-manifest.js';
import type { ArchiveStore } from '../../src/ports/archive-store.js';
import type { LiveStore } from '../../src/ports/live-store.js';
import { BACKENDS, blobNames, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { intercept } from '../helpers/intercept.js';
import { losingLock } from '../helpers/lost-lock.js';
import { failingSegmentWrites, type SegmentFault } from '../helpers/segment-faults.js';

const SEGMENTS = 'segments/';
const MANIFESTS = 'manifests/';

function manifestOf(segment: string): string {
  return segment.replace(SEGMENTS, MANIFESTS).replace('.ndjson.gz', '.manifest.json.gz');
}

describe.each(BACKENDS)('Archiver, segment layout (%s)', (backend) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
  });

  /** `count` records created in `month` (YYYY-MM), ids `${prefix}-${i}`. */
  async function seed(h: Harness, prefix: string, month: string, count: number): Promise<string[]> {
    const ids = [];
    for (let i = 0; i < count; i++) {
      const id = `${prefix}-${i.toString().padStart(3, '0')}`;
      const day = (1 + (i % 27)).toString().padStart(2, '0');
      await h.services.records.create(
        recordBody({ id, amount: i, created_at: `${month}-${day}T10:00:00.000Z` }),
      );
      ids.push(id);
    }
    return ids;
  }

  async function segmentsAndManifests(h: Harness): Promise<{ segments: string[]; manifests: string[] }> {
    return { segments: await blobNames(h, SEGMENTS), manifests: await blobNames(h, MANIFESTS) };
  }

  it('gathers one creation month per segment across read batches, sealing at SEGMENT_MAX_RECORDS', async () => {
    harness = await startHarness({
      backend,
      layout: 'segment',
      env: { BATCH_SIZE: '4', SEGMENT_MAX_RECORDS: '10' },
    });
    const january = await seed(harness, 'jan', '2025-01', 12);
    const march = await seed(harness, 'mar', '2025-03', 5);
    const run = await harness.services.archiver.runOnce();
    expect(run).toMatchObject({ status: 'succeeded', archived: 17, failed: 0, batches: 5 });
    const { segments, manifests } = await segmentsAndManifests(harness);
    expect(segments.map((n) => n.replace(/\/[^/]+-(\d+)\.ndjson\.gz$/, '/$1'))).toEqual([
      'segments/created=2025-01/0001',
      'segments/created=2025-01/0002',
      'segments/created=2025-03/0003',
    ]);
    expect(manifests).toHaveLength(3);
    // Any gzip reader sees the records of a segment as NDJSON, byte for byte as archived.
    const lines: string[] = [];
    for (const name of segments) {
      const text = gunzipSync(await harness.adapters.store.get(name)).toString();
      lines.push(...text.trimEnd().split('\n'));
    }
    const ids = [...january, ...march];
    expect(lines).toHaveLength(ids.length);
    for (const text of lines) {
      const doc = JSON.parse(text) as { id: string };
      expect(ids).toContain(doc.id);
      const view = await harness.services.records.get(doc.id);
      expect(view.source).toBe('archive');
      expect(canonicalBytes(view.doc).toString()).toBe(text);
    }
    // Each manifest says what its segment holds, and every entry points into it.
    for (const name of manifests) {
      const manifest = parseManifest(await harness.adapters.store.get(name), name);
      const entries = await harness.adapters.index.list({ blob: manifest.segment, limit: 100 });
      expect(entries.map((e) => e.id).sort()).toEqual(manifest.records.map((r) => r.id).sort());
      for (const member of manifest.members)
        expect(member.uncompressed_length).toBeLessThanOrEqual(MEMBER_MAX_BYTES);
    }
  });

  it('deletes a live copy only once its segment, manifest and index entry are durable', async () => {
    const checked: string[] = [];
    const late: { harness?: Harness } = {};
    harness = await startHarness({
      backend,
      layout: 'segment',
      env: { BATCH_SIZE: '3' },
      wrap: (adapters) => ({
        ...adapters,
        live: intercept<LiveStore>(adapters.live, {
          deleteMany: async (items) => {
            for (const { id } of items) {
              if (!late.harness) continue;
              const entry = await adapters.index.get(id);
              if (entry?.location.layout !== 'segment') throw new Error(`no segment entry for ${id} yet`);
              expect(await blobNames(late.harness, SEGMENTS)).toContain(entry.location.blob);
              expect(await blobNames(late.harness, MANIFESTS)).toContain(manifestOf(entry.location.blob));
              checked.push(id);
            }
            return adapters.live.deleteMany(items);
          },
        }),
      }),
    });
    late.harness = harness;
    await seed(harness, 'd', '2025-02', 7);
    expect(await harness.services.archiver.runOnce()).toMatchObject({ status: 'succeeded', archived: 7 });
    expect(checked).toHaveLength(7);
  });

  it('keeps every record live when a segment upload fails, and archives them on the next run', async () => {
    let failing = true;
    harness = await startHarness({
      backend,
      layout: 'segment',
      wrap: (adapters) => ({
        ...adapters,
        store: intercept<ArchiveStore>(adapters.store, {
          putIfAbsent: (name, bytes, facts) =>
            failing && name.includes('created=2025-04')
              ? Promise.reject(new StoreUnavailableError('injected: blob service timed out'))
              : adapters.store.putIfAbsent(name, bytes, facts),
        }),
      }),
    });
    await seed(harness, 'feb', '2025-02', 3);
    await seed(harness, 'apr', '2025-04', 3);
    const run = await harness.services.archiver.runOnce();
    // February's segment landed before April's failed: its records are archived, April's stay live.
    expect(run).toMatchObject({ status: 'failed', archived: 3 });
    expect(run.errors.join('\n')).toContain('blob service timed out');
    expect((await harness.services.records.get('feb-000')).source).toBe('archive');
    expect((await harness.services.records.get('apr-000')).source).toBe('live');
    failing = false;
    expect(await harness.services.archiver.runOnce()).toMatchObject({ status: 'succeeded', archived: 3 });
    expect((await harness.services.records.get('apr-002')).source).toBe('archive');
  });

  it('deletes nothing when the manifest or the index write fails; the next run archives into a new segment', async () => {
    let failing: SegmentFault = 'manifest';
    harness = await startHarness({
      backend,
      layout: 'segment',
      wrap: (adapters) => failingSegmentWrites(adapters, () => failing),
    });
    await seed(harness, 'm', '2025-05', 4);
    expect(await harness.services.archiver.runOnce()).toMatchObject({ status: 'failed', archived: 0 });
    failing = 'index';
    expect(await harness.services.archiver.runOnce()).toMatchObject({ status: 'failed', archived: 0 });
    expect((await harness.adapters.live.summary()).count).toBe(4);
    expect((await harness.adapters.index.summary()).count).toBe(0);
    failing = undefined;
    expect(await harness.services.archiver.runOnce()).toMatchObject({ status: 'succeeded', archived: 4 });
    // Two segments left by the failed runs (one without a manifest) wait for `verify --repair`.
    const { segments, manifests } = await segmentsAndManifests(harness);
    expect(segments).toHaveLength(3);
    expect(manifests).toHaveLength(2);
    const entry = await harness.adapters.index.get('m-000');
    expect(segments.at(-1)).toBe(entry?.location.blob);
  });

  it('stops when its lock is lost before indexing a sealed segment, leaving every record readable', async () => {
    harness = await startHarness({
      backend,
      layout: 'segment',
      env: { BATCH_SIZE: '2', SEGMENT_MAX_RECORDS: '2' },
      // The lease is lost once the first segment's records are archived.
      wrap: (adapters) => losingLock(adapters, (run) => run.archived === 2),
    });
    const ids = await seed(harness, 'l', '2025-06', 5);
    const run = await harness.services.archiver.runOnce();
    expect(run).toMatchObject({ status: 'failed', archived: 2 });
    expect(run.errors.join('\n')).toContain('the archival lock was lost');
    for (const id of ids) expect((await harness.services.records.get(id)).doc.id).toBe(id);
    expect((await harness.adapters.live.summary()).count).toBe(3);
  });

  it('keeps a segment while any entry points into it, and collects it with its manifest once none does', async () => {
    harness = await startHarness({ backend, layout: 'segment' });
    const ids = await seed(harness, 'g', '2025-07', 3);
    await harness.services.archiver.runOnce();
    const [first, second, third] = ids as [string, string, string];
    await harness.services.records.restore(first);
    await harness.services.records.delete(second, undefined);
    const kept = await harness.services.archiver.runOnce({ olderThanDays: 10_000 });
    expect(kept).toMatchObject({ status: 'succeeded', garbage_collected: 0 });
    expect((await segmentsAndManifests(harness)).segments).toHaveLength(1);
    expect((await harness.services.records.get(third)).source).toBe('archive');
    expect(await harness.adapters.garbage.list({ limit: 10 })).toEqual([]);

    await harness.services.records.restore(third);
    const collected = await harness.services.archiver.runOnce({ olderThanDays: 10_000 });
    expect(collected).toMatchObject({ status: 'succeeded', garbage_collected: 1 });
    expect(await blobNames(harness, SEGMENTS)).toEqual([]);
    expect((await harness.services.records.get(third)).source).toBe('live');
    expect(await harness.adapters.deletions.deletedAt(second)).toBeDefined();
  });
});
