import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlobArchiveStore } from '../../src/adapters/azure-blob/blob-archive-store.js';
import {
  BlobArchiveIndex,
  DEFAULT_ROOT_RETENTION_MS,
} from '../../src/adapters/blob-index/blob-archive-index.js';
import { FilesystemArchiveStore } from '../../src/adapters/filesystem/filesystem-archive-store.js';
import { sha256Hex } from '../../src/domain/billing-record.js';
import { IntegrityError, PreconditionFailedError, ValidationError } from '../../src/domain/errors.js';
import {
  encodeIndexRoot,
  filesOf,
  INDEX_ROOT_PREFIX,
  indexRootName,
  parseIndexRoot,
  type IndexRoot,
} from '../../src/domain/index-root.js';
import type { ArchiveEntry } from '../../src/ports/archive-index.js';
import type { ArchiveStore, BlobFacts } from '../../src/ports/archive-store.js';
import { describeArchiveIndexContract } from '../contracts/archive-index-contract.js';
import { openedStore, useFreshStore, type StoreFixture } from '../contracts/store-fixture.js';
import { freshContainer } from '../helpers/azure.js';
import { BACKENDS, type BackendKind } from '../helpers/harness.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * Few shards and early folds, so a handful of entries already shares shards, spans several, and
 * goes through journal merges, folds and shard merges.
 */
const OPTIONS = { shards: 4, cacheBytes: 1 << 20, foldItemsPerShard: 2 } as const;

/** A fresh archive store of the backend, opened; disposing closes it and removes its data. */
async function freshArchiveStore(backend: BackendKind): Promise<StoreFixture<ArchiveStore>> {
  let store: ArchiveStore;
  let remove: () => Promise<void>;
  if (backend === 'embedded') {
    const dir = await tempDir();
    store = new FilesystemArchiveStore(join(dir.path, 'archive'));
    remove = dir.remove;
  } else {
    const fresh = freshContainer();
    store = new BlobArchiveStore(fresh.container, { uploadTier: 'Hot', rehydratePriority: 'Standard' });
    remove = fresh.remove;
  }
  return openedStore(store, remove);
}

/** An index opened over a fresh store; disposing closes both. */
async function freshIndex(backend: BackendKind): Promise<StoreFixture<BlobArchiveIndex>> {
  const under = await freshArchiveStore(backend);
  return openedStore(new BlobArchiveIndex(under.store, OPTIONS), () => under.dispose());
}

for (const backend of BACKENDS) {
  describeArchiveIndexContract(
    `blob-native index (${backend === 'embedded' ? 'filesystem' : 'Azurite'})`,
    () => freshIndex(backend),
  );
}

function entry(id: string, extra: Partial<ArchiveEntry> = {}): ArchiveEntry {
  return {
    id,
    customer_id: 'c-1',
    created_at: '2026-01-01T00:00:00.000Z',
    location: { layout: 'record', blob: `records/2026/01/${id}.json`, offset: 0, length: 10 },
    sha256: 'ab'.repeat(32),
    size: 10,
    archived_at: '2026-11-01T00:00:00.000Z',
    run_id: 'run-1',
    ...extra,
  };
}

async function names(store: ArchiveStore, prefix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const blob of store.list(prefix)) found.push(blob.name);
  return found;
}

describe.each(BACKENDS)('blob-native index over one store, several processes (%s)', (backend) => {
  const current = useFreshStore(() => freshArchiveStore(backend));
  const open = async (shards: number = OPTIONS.shards) => {
    const index = new BlobArchiveIndex(current(), { ...OPTIONS, shards });
    await index.init();
    return index;
  };

  it('an index opened on the same store sees what another committed, as soon as it committed', async () => {
    const writer = await open();
    const reader = await open();
    const [a] = await writer.putMany([entry('a'), entry('b')]);
    expect(await reader.get('a')).toEqual(a);
    // The reader withdraws (an API replica restoring a record): the writer sees it gone at once.
    expect(await reader.withdraw('a', a?.etag)).toEqual(a);
    expect(await writer.get('a')).toBeUndefined();
    expect((await writer.list({ limit: 10 })).map((e) => e.id)).toEqual(['b']);
  });

  it('a reader far behind finds the newest root in a few reads, not one a commit', async () => {
    const store = current();
    const counting: ArchiveStore = Object.create(store) as ArchiveStore;
    let rootReads = 0;
    counting.get = (name, range) => {
      if (name.startsWith(INDEX_ROOT_PREFIX)) rootReads += 1;
      return store.get(name, range);
    };
    const reader = new BlobArchiveIndex(counting, OPTIONS);
    await reader.init();
    const writer = await open();
    for (let i = 0; i < 40; i++) await writer.putMany([entry(`far-${i}`)]);
    const generations = (await names(store, INDEX_ROOT_PREFIX)).length;
    expect(generations).toBeGreaterThanOrEqual(40);
    expect((await reader.list({ limit: 100 })).length).toBe(40);
    // Doubling to the first missing generation, then halving: about 2 log2(n) reads.
    expect(rootReads).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(generations)) + 3);
  });

  it('never repeats an etag across an index made again from scratch', async () => {
    const [first] = await (await open()).putMany([entry('a')]);
    const again = await freshArchiveStore(backend);
    try {
      const index = new BlobArchiveIndex(again.store, OPTIONS);
      await index.init();
      const [second] = await index.putMany([entry('a')]);
      // Both are generation 1 of their index; the index tells them apart.
      expect(first?.etag.startsWith('g1-')).toBe(true);
      expect(second?.etag.startsWith('g1-')).toBe(true);
      expect(second?.etag).not.toBe(first?.etag);
    } finally {
      await again.dispose();
    }
  });

  it('keeps the shard count it was made with, whatever a later process is configured with', async () => {
    const first = await open(4);
    const stored = await first.putMany(Array.from({ length: 20 }, (_, i) => entry(`k-${i}`)));
    const second = await open(16);
    expect(await second.getMany(stored.map((e) => e.id))).toEqual(stored);
  });

  it('writers racing for the same generation all land: the losers plan again on the newer root', async () => {
    const writers = await Promise.all([open(), open(), open()]);
    const batches = writers.map((_, w) => Array.from({ length: 10 }, (_, i) => entry(`w${w}-${i}`)));
    await Promise.all(writers.map((writer, w) => writer.putMany(batches[w] ?? [])));
    const reader = await open();
    expect((await reader.list({ limit: 100 })).map((e) => e.id)).toEqual(
      batches
        .flat()
        .map((e) => e.id)
        .sort(),
    );
    // Every commit (three changes, and the folds they led to) took a generation of its own, with
    // none skipped, and no file is left that the newest root does not name.
    const roots = await names(current(), INDEX_ROOT_PREFIX);
    expect(roots.length).toBeGreaterThanOrEqual(3);
    expect(roots).toEqual(roots.map((_, i) => indexRootName(i + 1)));
    expect(await names(current(), 'index/files/')).toEqual(await namedFiles(current()));
  });

  it('folds the journal into the shards once it is big enough; every word reads the same after', async () => {
    const index = await open();
    const stored = [];
    for (let batch = 0; batch < 6; batch++)
      stored.push(...(await index.putMany(Array.from({ length: 5 }, (_, i) => entry(`f${batch}-${i}`)))));
    const gone = stored.filter((_, i) => i % 4 === 0);
    for (const entry of gone) expect(await index.withdraw(entry.id, entry.etag)).toEqual(entry);
    // Withdrawals never fold: the next upsert (a run's) folds them with the rest.
    stored.push(...(await index.putMany([entry('f6-0')])));
    const kept = stored.filter((e) => !gone.includes(e));
    const root = await newestRoot(current());
    // Folded: the journal holds less than a fold's worth, and the shards hold files, some of them bases.
    expect(root.journal.reduce((sum, f) => sum + f.entries + f.withdrawn, 0)).toBeLessThan(8);
    expect(root.shards.filter((shard) => shard.base !== null).length).toBeGreaterThan(0);
    const reader = await open();
    expect(await reader.getMany(stored.map((e) => e.id))).toEqual(
      stored.map((e) => (gone.includes(e) ? undefined : e)),
    );
    expect((await reader.list({ limit: 100 })).map((e) => e.id)).toEqual(kept.map((e) => e.id).sort());
    expect(await reader.summary()).toEqual({ count: kept.length, bytes: 10 * kept.length });
    // What a merge or fold replaced is deleted once its root is committed.
    expect(await names(current(), 'index/files/')).toEqual(await namedFiles(current()));
  });

  it('a withdrawal folds only at four times the fold size, so API requests seldom wait; an upsert folds what is due', async () => {
    const store = current();
    const index = await open();
    // Four shards, two items each: the journal is due at 8 items.
    await index.putMany(Array.from({ length: 7 }, (_, i) => entry(`w${i}`)));
    await index.withdraw('w0');
    let root = await newestRoot(store);
    expect(root.journal.reduce((sum, f) => sum + f.entries + f.withdrawn, 0)).toBe(8);
    expect(root.shards.every((shard) => shard.base === null && shard.deltas.length === 0)).toBe(true);
    await index.putMany([entry('w7')]);
    root = await newestRoot(store);
    expect(root.journal).toEqual([]);
    expect((await (await open()).list({ limit: 10 })).map((e) => e.id)).toEqual([
      'w1',
      'w2',
      'w3',
      'w4',
      'w5',
      'w6',
      'w7',
    ]);
  });

  it('a long row of withdrawals (a retention sweep) folds once the journal is four times the fold size', async () => {
    const store = current();
    const index = await open();
    // 40 entries fold at once (over 8); then 31 withdrawals stay in the journal, the 32nd folds.
    await index.putMany(Array.from({ length: 40 }, (_, i) => entry(`s${String(i).padStart(2, '0')}`)));
    expect((await newestRoot(store)).journal).toEqual([]);
    for (let i = 0; i < 31; i++) await index.withdraw(`s${String(i).padStart(2, '0')}`);
    expect((await newestRoot(store)).journal.reduce((sum, f) => sum + f.withdrawn, 0)).toBe(31);
    await index.withdraw('s31');
    expect((await newestRoot(store)).journal).toEqual([]);
    expect((await (await open()).list({ limit: 50 })).map((e) => e.id)).toEqual(
      Array.from({ length: 8 }, (_, i) => `s${32 + i}`),
    );
    expect(await index.summary()).toEqual({ count: 8, bytes: 80 });
  });

  it('counts stay exact while several processes race on the same ids, losing generations to each other', async () => {
    const writers = await Promise.all([open(), open(), open()]);
    const ids = Array.from({ length: 12 }, (_, i) => `r${i}`);
    await Promise.all(
      writers.map(async (writer, w) => {
        for (let round = 0; round < 4; round++) {
          // Overlapping upserts of other sizes, and withdrawals of ids another may be upserting.
          await writer.putMany(
            ids.filter((_, i) => (i + round + w) % 3 !== 0).map((id) => entry(id, { size: 10 + w })),
          );
          await writer.withdraw(ids[(round * 3 + w) % ids.length] ?? '');
        }
      }),
    );
    const reader = await open();
    const listed = await reader.list({ limit: 100 });
    expect(await reader.summary()).toEqual({
      count: listed.length,
      bytes: listed.reduce((sum, e) => sum + e.size, 0),
    });
  });

  it('a read that finds a file gone because a newer root replaced it reads that root', async () => {
    const writer = await open();
    const [a] = await writer.putMany([entry('a')]);
    const store = current();
    const racing: ArchiveStore = Object.create(store) as ArchiveStore;
    let raced = false;
    let gone = false;
    racing.get = async (name, range) => {
      if (!raced && name.startsWith('index/files/')) {
        raced = true;
        // Between the reader's root and its file read, another process merges the file away.
        await writer.putMany(Array.from({ length: 12 }, (_, i) => entry(`r-${i}`)));
        gone = !(await names(store, 'index/files/')).includes(name);
      }
      return store.get(name, range);
    };
    const reader = new BlobArchiveIndex(racing, OPTIONS);
    await reader.init();
    expect(await reader.get('a')).toEqual(a);
    expect([raced, gone]).toEqual([true, true]);
  });

  it('a withdrawal that loses its generation to a change of the same entry is checked again, and refused', async () => {
    const run = await open();
    const [seen] = await run.putMany([entry('a')]);
    const store = current();
    const racing: ArchiveStore = Object.create(store) as ArchiveStore;
    let raced = false;
    racing.putIfAbsent = async (name: string, bytes: Uint8Array, facts: BlobFacts) => {
      if (!raced && name.startsWith(INDEX_ROOT_PREFIX)) {
        raced = true;
        // The withdrawal planned on the root where 'a' was `seen`; the run commits a new version first.
        await run.putMany([entry('a', { run_id: 'run-2' })]);
      }
      return store.putIfAbsent(name, bytes, facts);
    };
    const api = new BlobArchiveIndex(racing, OPTIONS);
    await api.init();
    await expect(api.withdraw('a', seen?.etag)).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(raced).toBe(true);
    expect((await api.get('a'))?.run_id).toBe('run-2');
    // No file of the losing attempt is left behind.
    expect(await names(store, 'index/files/')).toEqual(await namedFiles(store));
  });

  it('a change whose old files cannot be deleted is still committed; the failure is told, not thrown', async () => {
    const store = current();
    const stubborn: ArchiveStore = Object.create(store) as ArchiveStore;
    stubborn.delete = () => Promise.reject(new Error('delete refused'));
    const told: string[] = [];
    const index = new BlobArchiveIndex(stubborn, {
      ...OPTIONS,
      onMaintenanceError: (_error, what) => told.push(what),
    });
    await index.init();
    // The second commit merges the first's journal file, which it then cannot delete.
    await index.putMany([entry('a')]);
    const [b] = await index.putMany([entry('b')]);
    expect(await (await open()).get('b')).toEqual(b);
    expect(told).toContain('deleting files a commit replaced');
  });

  it('a withdrawal conditioned on an etag fails once another process changed the entry', async () => {
    const api = await open();
    const run = await open();
    const [seen] = await api.putMany([entry('a')]);
    await run.putMany([entry('a', { run_id: 'run-2' })]);
    await expect(api.withdraw('a', seen?.etag)).rejects.toBeInstanceOf(PreconditionFailedError);
    expect((await api.get('a'))?.run_id).toBe('run-2');
  });

  it('a root whose creation answer was lost is recognised as its own, not committed twice', async () => {
    const store = current();
    const lossy: ArchiveStore = Object.create(store) as ArchiveStore;
    let lost = 0;
    lossy.putIfAbsent = async (name: string, bytes: Uint8Array, facts: BlobFacts) => {
      const result = await store.putIfAbsent(name, bytes, facts);
      // The first root is stored, but its answer is lost, and a retry finds the name taken.
      if (name.startsWith(INDEX_ROOT_PREFIX) && lost++ === 0) return { created: false };
      return result;
    };
    const index = new BlobArchiveIndex(lossy, OPTIONS);
    await index.init();
    const [a] = await index.putMany([entry('a')]);
    expect(a?.etag).toMatch(/^g1-[0-9a-f]{16}$/);
    expect(await names(store, INDEX_ROOT_PREFIX)).toHaveLength(1);
    expect(await (await open()).get('a')).toEqual(a);

    // The same when the put fails after the root was stored (its answer lost on the way back).
    lossy.putIfAbsent = async (name: string, bytes: Uint8Array, facts: BlobFacts) => {
      const result = await store.putIfAbsent(name, bytes, facts);
      if (name.startsWith(INDEX_ROOT_PREFIX)) throw new Error('connection reset');
      return result;
    };
    const [b] = await index.putMany([entry('b')]);
    expect(b?.etag).toMatch(/^g2-[0-9a-f]{16}$/);
    expect(await names(store, INDEX_ROOT_PREFIX)).toHaveLength(2);
    expect(await (await open()).get('b')).toEqual(b);
  });

  it('finds the files of commits that died before their root as orphans, and removes only those', async () => {
    const store = current();
    const index = await open();
    await index.putMany([entry('a')]);
    // A commit whose root put fails, unstored: the process dies there, its journal file written.
    const dying: ArchiveStore = Object.create(store) as ArchiveStore;
    dying.putIfAbsent = (name: string, bytes: Uint8Array, facts: BlobFacts) =>
      name.startsWith(INDEX_ROOT_PREFIX)
        ? Promise.reject(new Error('connection reset'))
        : store.putIfAbsent(name, bytes, facts);
    const crashing = new BlobArchiveIndex(dying, OPTIONS);
    await crashing.init();
    await expect(crashing.putMany([entry('b')])).rejects.toThrow('connection reset');
    const [dead] = (await names(store, 'index/files/')).filter((name) => !name.includes('/000000000001-'));
    // Its generation is not reached yet: it may be a commit in flight, so it is left alone.
    expect(await index.upkeep.orphans()).toEqual([]);
    await index.putMany([entry('c')]);
    // Generation 2 is committed without it: no root will ever name it.
    await expect(crashing.putMany([entry('d')])).rejects.toThrow('connection reset');
    const orphans = await index.upkeep.orphans();
    expect(orphans.map((blob) => blob.name)).toEqual([dead]);
    const named = await namedFiles(store);
    const inFlight = (await names(store, 'index/files/')).filter(
      (name) => name !== dead && !named.includes(name),
    );
    expect(inFlight).toHaveLength(1);
    for (const keep of [...named, ...inFlight])
      await expect(index.upkeep.removeOrphan(keep)).rejects.toBeInstanceOf(ValidationError);
    await index.upkeep.removeOrphan(dead ?? '');
    expect(await names(store, 'index/files/')).toEqual([...named, ...inFlight].sort());
    const reader = await open();
    expect((await reader.list({ limit: 10 })).map((e) => e.id)).toEqual(['a', 'c']);
  });

  it('prunes roots superseded longer ago than the retention, oldest first, never the newest', async () => {
    let ahead = 0;
    const index = new BlobArchiveIndex(current(), {
      ...OPTIONS,
      rootRetentionMs: 60_000,
      now: () => new Date(Date.now() + ahead),
    });
    await index.init();
    for (let i = 0; i < 6; i++) await index.putMany([entry(`p${i}`)]);
    const roots = await names(current(), INDEX_ROOT_PREFIX);
    expect(roots.length).toBeGreaterThanOrEqual(6);
    expect(await index.upkeep.pruneRoots()).toBe(0);
    ahead = 61_000;
    expect(await index.upkeep.pruneRoots()).toBe(roots.length - 1);
    expect(await names(current(), INDEX_ROOT_PREFIX)).toEqual([roots.at(-1)]);
    // An index opened now finds the one root left, and commits go on after it.
    const reader = await open();
    expect(await reader.list({ limit: 10 })).toHaveLength(6);
    const [p6] = await index.putMany([entry('p6')]);
    expect(await reader.get('p6')).toEqual(p6);
  });

  it('two pruners at once leave only the newest root, and every entry readable', async () => {
    const index = await open();
    for (let i = 0; i < 8; i++) await index.putMany([entry(`t${i}`)]);
    const roots = await names(current(), INDEX_ROOT_PREFIX);
    const pruner = async () => {
      const later = new BlobArchiveIndex(current(), {
        ...OPTIONS,
        now: () => new Date(Date.now() + 2 * DEFAULT_ROOT_RETENTION_MS),
      });
      await later.init();
      return later.upkeep.pruneRoots();
    };
    const [a, b] = await Promise.all([pruner(), pruner()]);
    expect(a + b).toBeGreaterThanOrEqual(roots.length - 1);
    expect(await names(current(), INDEX_ROOT_PREFIX)).toEqual([roots.at(-1)]);
    expect(await (await open()).list({ limit: 20 })).toHaveLength(8);
  });

  it('prunes a root by the age of the root after it, not its own', async () => {
    const store = current();
    const index = await open();
    for (let i = 0; i < 4; i++) await index.putMany([entry(`m${i}`)]);
    // Roots 1 and 2 were made two hours ago, 3 and 4 just now: root 2 is superseded only since 3.
    const dated: ArchiveStore = Object.create(store) as ArchiveStore;
    dated.list = async function* (prefix: string) {
      for await (const blob of store.list(prefix)) {
        const generation = Number(/(\d+)\.json$/.exec(blob.name)?.[1] ?? 0);
        yield generation >= 1 && generation <= 2
          ? { ...blob, lastModified: new Date(Date.now() - 2 * 60 * 60 * 1000) }
          : blob;
      }
    };
    const pruner = new BlobArchiveIndex(dated, OPTIONS);
    await pruner.init();
    expect(await pruner.upkeep.pruneRoots()).toBe(1);
    expect(await names(store, INDEX_ROOT_PREFIX)).toEqual([2, 3, 4].map(indexRootName));
  });

  it('a writer stalled past the retention never commits onto a pruned generation: it plans again', async () => {
    const store = current();
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const gate = { stalled: false };
    const stalling: ArchiveStore = Object.create(store) as ArchiveStore;
    stalling.putIfAbsent = async (name: string, bytes: Uint8Array, facts: BlobFacts) => {
      if (name.startsWith(INDEX_ROOT_PREFIX) && !gate.stalled) {
        gate.stalled = true;
        await released;
      }
      return store.putIfAbsent(name, bytes, facts);
    };
    await (await open()).putMany([entry('a')]);
    const slow = new BlobArchiveIndex(stalling, { ...OPTIONS, rootRetentionMs: 60_000 });
    await slow.init();
    // Planned on root 1; held up just before it creates root 2.
    const pending = slow.putMany([entry('w')]);
    while (!gate.stalled) await new Promise((resolve) => setTimeout(resolve, 5));
    // Meanwhile others commit roots 2 to 4, and an hour later (by its clock) 1 to 3 are pruned.
    const later = new BlobArchiveIndex(store, {
      ...OPTIONS,
      rootRetentionMs: 60_000,
      now: () => new Date(Date.now() + 2 * 60_000),
    });
    await later.init();
    for (let i = 0; i < 3; i++) await later.putMany([entry(`x${i}`)]);
    expect(await later.upkeep.pruneRoots()).toBe(3);
    // Generation 2 is free again; taking it would put `w` where no reader looks.
    release();
    const [w] = await pending;
    expect(w?.etag).toMatch(/^g5-/);
    expect(await names(store, INDEX_ROOT_PREFIX)).toEqual([4, 5].map(indexRootName));
    const reader = await open();
    expect((await reader.list({ limit: 10 })).map((e) => e.id)).toEqual(['a', 'w', 'x0', 'x1', 'x2']);
    expect(await names(store, 'index/files/')).toEqual(await namedFiles(store));
  });

  it('a reader idle past a quarter of the retention lists the roots, not trusting a missing next one', async () => {
    let idle = 0;
    const reader = new BlobArchiveIndex(current(), {
      ...OPTIONS,
      rootRetentionMs: 60_000,
      now: () => new Date(Date.now() + idle),
    });
    await reader.init();
    // A writer whose clock says the retention is over prunes every root but the newest.
    const writer = new BlobArchiveIndex(current(), {
      ...OPTIONS,
      rootRetentionMs: 60_000,
      now: () => new Date(Date.now() + 61_000),
    });
    await writer.init();
    for (let i = 0; i < 3; i++) await writer.putMany([entry(`q${i}`)]);
    expect(await writer.upkeep.pruneRoots()).toBe(2);
    // Root 1, the next the reader would probe for, is gone: only a listing finds root 3.
    idle = 16_000;
    expect((await reader.list({ limit: 10 })).map((e) => e.id)).toEqual(['q0', 'q1', 'q2']);
  });

  it('finds counts that disagree with its files, and a repair writes them again from a scan', async () => {
    const store = current();
    const index = await open();
    await index.putMany([entry('a', { size: 5 }), entry('b', { size: 7 })]);
    expect(await index.upkeep.checkCounts({ repair: false })).toEqual({
      kept: { count: 2, bytes: 12 },
      counted: { count: 2, bytes: 12 },
      months: 'agree',
      repaired: false,
    });
    // A root that keeps wrong counts, as a bug could leave: the next generation, the same files.
    const root = await newestRoot(store);
    const wrong = encodeIndexRoot({
      ...root,
      generation: root.generation + 1,
      counts: { entries: 5, bytes: 1, months: { '2026-01': { entries: 5, bytes: 1 } } },
    });
    await store.putIfAbsent(indexRootName(root.generation + 1), wrong, { sha256: sha256Hex(wrong) });
    const reader = await open();
    expect(await reader.summary()).toEqual({ count: 5, bytes: 1 });
    expect(await reader.upkeep.checkCounts({ repair: false })).toEqual({
      kept: { count: 5, bytes: 1 },
      counted: { count: 2, bytes: 12 },
      months: 'differ',
      repaired: false,
    });
    expect((await reader.upkeep.checkCounts({ repair: true })).repaired).toBe(true);
    expect(await (await open()).summary()).toEqual({ count: 2, bytes: 12 });
    expect(await (await open()).summaryByMonth()).toEqual([{ month: '2026-01', count: 2, bytes: 12 }]);
    expect((await reader.upkeep.checkCounts({ repair: true })).repaired).toBe(false);
    expect(await reader.list({ limit: 10 })).toHaveLength(2);
  });

  it('counts the months of a root written before roots kept them from a scan, until a repair keeps them', async () => {
    const store = current();
    const index = await open();
    await index.putMany([
      entry('a', { size: 5 }),
      entry('b', { size: 7, created_at: '2025-06-30T23:00:00.000Z' }),
    ]);
    // The root an index of format 2 wrote: totals only.
    const root = await newestRoot(store);
    const { months: _months, ...totals } = root.counts;
    const older = Buffer.from(
      JSON.stringify({
        ...root,
        format: 'billing-archive.index-root/2',
        generation: root.generation + 1,
        counts: totals,
      }),
    );
    await store.putIfAbsent(indexRootName(root.generation + 1), older, { sha256: sha256Hex(older) });
    const reader = await open();
    const byMonth = [
      { month: '2025-06', count: 1, bytes: 7 },
      { month: '2026-01', count: 1, bytes: 5 },
    ];
    expect(await reader.summaryByMonth()).toEqual(byMonth);
    // Changes since keep the totals, and the months stay unknown rather than counting only them.
    await reader.putMany([entry('c', { size: 1 })]);
    expect(await reader.summary()).toEqual({ count: 3, bytes: 13 });
    expect((await newestRoot(store)).counts.months).toBeUndefined();
    expect(await reader.upkeep.checkCounts({ repair: false })).toMatchObject({
      months: 'not kept',
      repaired: false,
    });
    expect((await reader.upkeep.checkCounts({ repair: true })).repaired).toBe(true);
    expect((await newestRoot(store)).counts.months).toEqual({
      '2025-06': { entries: 1, bytes: 7 },
      '2026-01': { entries: 2, bytes: 6 },
    });
    expect(await (await open()).summaryByMonth()).toEqual([
      { month: '2025-06', count: 1, bytes: 7 },
      { month: '2026-01', count: 2, bytes: 6 },
    ]);
  });

  it('refuses a damaged index file rather than answering from it', async () => {
    const writer = await open();
    await writer.putMany([entry('a')]);
    const [file] = await names(current(), 'index/files/');
    if (!file) throw new Error('no index file was written');
    const bytes = await current().get(file);
    bytes[0] = (bytes[0] ?? 0) ^ 0xff;
    await current().delete(file);
    await current().putIfAbsent(file, bytes, { sha256: sha256Hex(bytes) });
    const reader = await open();
    await expect(reader.get('a')).rejects.toBeInstanceOf(IntegrityError);
  });
});

async function newestRoot(store: ArchiveStore): Promise<IndexRoot> {
  const name = (await names(store, INDEX_ROOT_PREFIX)).at(-1);
  if (!name) throw new Error('no root was committed');
  return parseIndexRoot(await store.get(name), name);
}

/** The files the newest root names, sorted. */
async function namedFiles(store: ArchiveStore): Promise<string[]> {
  return filesOf(await newestRoot(store))
    .map((file) => file.name)
    .sort();
}

describe.runIf(BACKENDS.includes('azure'))('blob-native index on Azure Blob Storage', () => {
  it('keeps its files Hot whatever tier the archive uploads in', async () => {
    const { container, remove } = freshContainer();
    try {
      const store = new BlobArchiveStore(container, { uploadTier: 'Cool', rehydratePriority: 'Standard' });
      await store.init();
      const index = new BlobArchiveIndex(store, OPTIONS);
      await index.init();
      await index.putMany([entry('a'), entry('b')]);
      const tiers = new Map<string, string>();
      for await (const blob of store.tiers.list('index/')) tiers.set(blob.name, blob.tier);
      expect(tiers.size).toBeGreaterThanOrEqual(2);
      expect(new Set(tiers.values())).toEqual(new Set(['Hot']));
    } finally {
      await remove();
    }
  });
});
