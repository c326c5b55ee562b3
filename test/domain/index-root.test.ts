import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../../src/domain/errors.js';
import {
  countsChange,
  countsFallShort,
  countsOf,
  emptiedIndexRoot,
  emptyIndexRoot,
  encodeIndexRoot,
  filesOf,
  generationOfFileName,
  generationOfRootName,
  indexFileName,
  indexRootName,
  filesToMerge,
  journalNewestFirst,
  newestFirst,
  nextIndexRoot,
  parseIndexRoot,
  shardOf,
  INDEX_ROOT_FORMAT,
  type CountsChange,
  type IndexRoot,
} from '../../src/domain/index-root.js';

const at = new Date('2026-11-30T09:00:00.000Z');
const file = (name: string) => ({
  name,
  bytes: 1000,
  footer_offset: 900,
  footer_sha256: 'f'.repeat(64),
  entries: 10,
  withdrawn: 1,
});

/** Shard 1: d1, d2, d3 over three commits; shard 0: e2; and a journal file j4. */
function fourCommits(): IndexRoot {
  let root = emptyIndexRoot(2);
  const delta = (shard: number, name: string) => ({ shard, file: file(name), replaces: [], base: false });
  root = nextIndexRoot(root, { shards: [delta(1, 'd1')] }, at);
  root = nextIndexRoot(root, { shards: [delta(1, 'd2'), delta(0, 'e2')] }, at);
  root = nextIndexRoot(root, { shards: [delta(1, 'd3')] }, at);
  return nextIndexRoot(root, { journal: { file: file('j4'), replaces: [] } }, at);
}

describe('index roots', () => {
  it('name generations so that names sort as generations do, and read them back', () => {
    expect(indexRootName(1)).toBe('index/roots/000000000001.json');
    expect(indexRootName(123_456_789)).toBe('index/roots/000123456789.json');
    expect(generationOfRootName('index/roots/000123456789.json')).toBe(123_456_789);
    expect(generationOfRootName('index/roots/000000000000.json')).toBeUndefined();
    expect(generationOfRootName('index/roots/12.json')).toBeUndefined();
    expect(generationOfRootName('index/files/000000000001.json')).toBeUndefined();
    expect(() => indexRootName(0)).toThrow(RangeError);
    expect(() => indexRootName(1.5)).toThrow(RangeError);
  });

  it('name files by place and generation, with random bytes, and read the generation back', () => {
    const journal = indexFileName(null, 7);
    expect(journal).toMatch(/^index\/files\/journal\/000000000007-[0-9a-f]{12}\.baix$/);
    expect(indexFileName(null, 7)).not.toBe(journal);
    expect(indexFileName(12, 40)).toMatch(/^index\/files\/0012\/000000000040-[0-9a-f]{12}\.baix$/);
    expect(generationOfFileName(journal)).toBe(7);
    expect(generationOfFileName(indexFileName(4095, 123_456_789))).toBe(123_456_789);
    // Only names of that exact shape: anything else under index/ is not the index's to remove.
    expect(generationOfFileName('index/files/journal/000000000000-0123456789ab.baix')).toBeUndefined();
    expect(
      generationOfFileName('index/files/journal/000000000007-0123456789ab.baix.partial'),
    ).toBeUndefined();
    expect(generationOfFileName('index/files/12/000000000007-0123456789ab.baix')).toBeUndefined();
    expect(generationOfFileName('index/roots/000000000007.json')).toBeUndefined();
    expect(generationOfFileName('segments/000000000007-0123456789ab.baix')).toBeUndefined();
  });

  it('keep the counts each change adds, in total and by creation month, stopping at zero where counts were already wrong', () => {
    let root = emptyIndexRoot(2);
    const commit = (counts: CountsChange) =>
      nextIndexRoot(root, { journal: { file: file(`j${root.generation + 1}`), replaces: [] }, counts }, at);
    const jan = { created_at: '2025-01-31T23:59:59.999Z', size: 100 };
    const feb = { created_at: '2025-02-01T00:00:00.000Z', size: 80 };
    const feb2 = { created_at: '2025-02-14T10:00:00.000Z', size: 120 };
    root = commit(countsChange([jan, feb, feb2], []));
    // A withdrawal, and an upsert over an entry of another month (a repoint keeps the month).
    root = commit(countsChange([], [feb2]));
    expect(root.counts).toEqual({
      entries: 2,
      bytes: 180,
      months: { '2025-01': { entries: 1, bytes: 100 }, '2025-02': { entries: 1, bytes: 80 } },
    });
    root = commit(countsChange([{ ...feb, size: 90 }], [feb]));
    expect(root.counts.months?.['2025-02']).toEqual({ entries: 1, bytes: 90 });
    root = commit(countsChange([], [{ ...feb, size: 90 }]));
    // A month none are left in is left out.
    expect(root.counts).toEqual({
      entries: 1,
      bytes: 100,
      months: { '2025-01': { entries: 1, bytes: 100 } },
    });
    // A fold moves words only: the counts stay.
    const folded = nextIndexRoot(root, { journal: { file: null, replaces: ['j1', 'j2', 'j3', 'j4'] } }, at);
    expect(folded.counts).toEqual(root.counts);
    // A statistic never blocks a withdrawal: the writer is told (countsFallShort), the change goes in.
    const short = { journal: { file: file('j5'), replaces: [] }, counts: countsChange([], [feb]) };
    expect(countsFallShort(root, short)).toBe(true);
    expect(nextIndexRoot(root, short, at).counts).toEqual({
      entries: 0,
      bytes: 20,
      months: { '2025-01': { entries: 1, bytes: 100 } },
    });
    expect(countsFallShort(root, { counts: countsChange([], [jan]) })).toBe(false);
    expect(parseIndexRoot(encodeIndexRoot(folded), indexRootName(5)).counts).toEqual(folded.counts);
    const { counts: _dropped, ...uncounted } = folded;
    expect(() => parseIndexRoot(Buffer.from(JSON.stringify(uncounted)), indexRootName(5))).toThrow(
      IntegrityError,
    );
  });

  it('read a root of format 2 as one that keeps no months, which only a recount brings back', () => {
    const root = nextIndexRoot(emptyIndexRoot(2), { journal: { file: file('j1'), replaces: [] } }, at);
    const older = { ...root, format: 'billing-archive.index-root/2', counts: { entries: 3, bytes: 30 } };
    const read = parseIndexRoot(Buffer.from(JSON.stringify(older)), indexRootName(1));
    expect(read.format).toBe(INDEX_ROOT_FORMAT);
    expect(read.counts).toEqual({ entries: 3, bytes: 30 });
    // Changes keep the totals; the months stay unknown rather than counting only what came since.
    const changed = nextIndexRoot(
      read,
      {
        journal: { file: file('j2'), replaces: [] },
        counts: countsChange([{ created_at: '2025-01-01T00:00:00.000Z', size: 5 }], []),
      },
      at,
    );
    expect(changed.counts).toEqual({ entries: 4, bytes: 35 });
    expect(
      countsFallShort(read, {
        counts: countsChange([], [{ created_at: '2025-01-01T00:00:00.000Z', size: 5 }]),
      }),
    ).toBe(false);
    const recount = countsOf([
      { created_at: '2025-03-01T00:00:00.000Z', size: 7 },
      { created_at: '2025-01-01T00:00:00.000Z', size: 5 },
    ]);
    const recounted = nextIndexRoot(changed, { recount }, at);
    expect(recounted.counts).toEqual({
      entries: 2,
      bytes: 12,
      months: { '2025-01': { entries: 1, bytes: 5 }, '2025-03': { entries: 1, bytes: 7 } },
    });
    expect(Object.keys(recounted.counts.months ?? {})).toEqual(['2025-01', '2025-03']);
    expect(encodeIndexRoot(recounted).toString()).toContain('"format":"billing-archive.index-root/3"');
  });

  it('number each commit and stamp its files with it', () => {
    const root = fourCommits();
    expect(root.generation).toBe(4);
    expect(root.committed_at).toBe(at.toISOString());
    expect(root.shards[1]?.deltas.map((d) => [d.name, d.generation])).toEqual([
      ['d1', 1],
      ['d2', 2],
      ['d3', 3],
    ]);
    expect(root.journal.map((j) => [j.name, j.generation])).toEqual([['j4', 4]]);
    expect(filesOf(root).map((f) => f.name)).toEqual(['j4', 'e2', 'd1', 'd2', 'd3']);
  });

  it('ask the journal newest first, then a shard newest first, its base last', () => {
    let root = fourCommits();
    root = nextIndexRoot(root, { journal: { file: file('j5'), replaces: [] } }, at);
    expect(journalNewestFirst(root).map((f) => f.name)).toEqual(['j5', 'j4']);
    root = nextIndexRoot(
      root,
      { shards: [{ shard: 1, file: file('b6'), replaces: ['d1', 'd2', 'd3'], base: true }] },
      at,
    );
    root = nextIndexRoot(root, { shards: [{ shard: 1, file: file('d7'), replaces: [], base: false }] }, at);
    expect(newestFirst(root.shards[1] ?? { base: null, deltas: [] }).map((f) => f.name)).toEqual([
      'd7',
      'b6',
    ]);
  });

  it('let a merge replace only the newest files of its list, and a base only the whole shard', () => {
    const root = fourCommits();
    const merged = nextIndexRoot(
      root,
      { shards: [{ shard: 1, file: file('m5'), replaces: ['d2', 'd3'], base: false }] },
      at,
    );
    expect(merged.shards[1]?.deltas.map((d) => d.name)).toEqual(['d1', 'm5']);
    expect(() =>
      nextIndexRoot(
        root,
        { shards: [{ shard: 1, file: file('x'), replaces: ['d1', 'd2'], base: false }] },
        at,
      ),
    ).toThrow(/newest files/);
    expect(() =>
      nextIndexRoot(
        root,
        { shards: [{ shard: 1, file: file('x'), replaces: ['d3', 'd2'], base: false }] },
        at,
      ),
    ).toThrow(/newest files/);
    expect(() =>
      nextIndexRoot(
        root,
        { shards: [{ shard: 1, file: file('x'), replaces: ['d2', 'd3'], base: true }] },
        at,
      ),
    ).toThrow(/base and every delta/);
    expect(() => nextIndexRoot(root, { journal: { file: file('x'), replaces: ['d3'] } }, at)).toThrow(
      /the journal/,
    );
    expect(() =>
      nextIndexRoot(root, { shards: [{ shard: 2, file: file('x'), replaces: [], base: false }] }, at),
    ).toThrow(/shard 2/);
  });

  it('fold the whole journal into the shards in one commit, and nothing less', () => {
    let root = fourCommits();
    root = nextIndexRoot(root, { journal: { file: file('j5'), replaces: [] } }, at);
    expect(() => nextIndexRoot(root, { journal: { file: null, replaces: ['j5'] } }, at)).toThrow(
      /whole journal/,
    );
    const folded = nextIndexRoot(
      root,
      {
        journal: { file: null, replaces: ['j4', 'j5'] },
        shards: [
          { shard: 0, file: file('b6'), replaces: ['e2'], base: true },
          { shard: 1, file: file('d6'), replaces: [], base: false },
        ],
      },
      at,
    );
    expect(folded.journal).toEqual([]);
    expect(folded.shards[0]).toEqual({ base: { ...file('b6'), generation: 6 }, deltas: [] });
    expect(folded.shards[1]?.deltas.map((d) => d.name)).toEqual(['d1', 'd2', 'd3', 'd6']);
  });

  it('refuse a file under a name the index holds, and two files for one shard in one commit', () => {
    // A commit retried after a lost answer must not name its file twice: no reader could open it.
    const root = fourCommits();
    const delta = (shard: number, name: string) => ({ shard, file: file(name), replaces: [], base: false });
    expect(() => nextIndexRoot(root, { shards: [delta(0, 'd2')] }, at)).toThrow(
      /already holds a file named d2/,
    );
    expect(() => nextIndexRoot(root, { journal: { file: file('j4'), replaces: [] } }, at)).toThrow(
      /already holds/,
    );
    expect(() => nextIndexRoot(root, { shards: [delta(0, 'x'), delta(0, 'y')] }, at)).toThrow(
      /one file to shard 0/,
    );
  });

  it('take into a merge the newest files while each holds no more than the newer ones together', () => {
    const sized = (items: number) => ({ ...file(`f${items}`), entries: items, withdrawn: 0, generation: 1 });
    // 8, 4, 2, 1 and a new 1: all five merge into 16, like a binary counter's carry.
    expect(filesToMerge([sized(8), sized(4), sized(2), sized(1)], 1)).toBe(4);
    expect(filesToMerge([sized(8), sized(4), sized(2)], 1)).toBe(0);
    expect(filesToMerge([sized(100), sized(3)], 5)).toBe(1);
    expect(filesToMerge([], 5)).toBe(0);
  });

  it('keep the index id of the first commit, which differs from one index to the next', () => {
    const root = fourCommits();
    expect(root.index_id).toMatch(/^[0-9a-f]{16}$/);
    expect(nextIndexRoot(root, { journal: { file: file('j5'), replaces: [] } }, at).index_id).toBe(
      root.index_id,
    );
    expect(emptyIndexRoot(2).index_id).not.toBe(emptyIndexRoot(2).index_id);
    const { index_id: _dropped, ...withoutId } = root;
    expect(() => parseIndexRoot(Buffer.from(JSON.stringify(withoutId)), indexRootName(4))).toThrow(
      IntegrityError,
    );
  });

  it('empty the index for a rebuild, carry the rebuild through every commit, and drop it only when it ends', () => {
    const root = fourCommits();
    const rebuild = { started_at: at.toISOString(), by: 'repair-1' };
    const emptied = emptiedIndexRoot(root, rebuild, at);
    expect(emptied).toMatchObject({
      index_id: root.index_id,
      generation: 5,
      rebuild,
      journal: [],
      emptied_generation: 5,
    });
    expect(root).not.toHaveProperty('emptied_generation');
    expect(filesOf(emptied)).toEqual([]);
    expect(emptied.counts).toEqual({ entries: 0, bytes: 0, months: {} });
    expect(emptied.shards).toHaveLength(root.shards.length);
    const written = nextIndexRoot(
      emptied,
      {
        journal: { file: file('j6'), replaces: [] },
        counts: countsChange([{ created_at: '2026-01-02T00:00:00Z', size: 5 }], []),
      },
      at,
    );
    const recounted = nextIndexRoot(written, { recount: countsOf([]) }, at);
    for (const during of [written, recounted]) {
      expect(during.rebuild).toEqual(rebuild);
      expect(parseIndexRoot(encodeIndexRoot(during), indexRootName(during.generation))).toEqual(during);
    }
    const ended = nextIndexRoot(recounted, { endRebuild: true }, at);
    expect(ended).not.toHaveProperty('rebuild');
    // When it was emptied stays known: a restore that read an entry before then can tell.
    expect(ended.emptied_generation).toBe(5);
    expect(nextIndexRoot(ended, { recount: countsOf([]) }, at).emptied_generation).toBe(5);
    expect(filesOf(ended).map((f) => f.name)).toEqual(['j6']);
    expect(nextIndexRoot(ended, { journal: { file: file('j8'), replaces: [] } }, at)).not.toHaveProperty(
      'rebuild',
    );
  });

  it('leave the root it started from as it was', () => {
    const root = fourCommits();
    const before = structuredClone(root);
    nextIndexRoot(
      root,
      { shards: [{ shard: 1, file: file('b5'), replaces: ['d1', 'd2', 'd3'], base: true }] },
      at,
    );
    expect(root).toEqual(before);
  });

  it('read back what they wrote', () => {
    const root = fourCommits();
    expect(parseIndexRoot(encodeIndexRoot(root), indexRootName(4))).toEqual(root);
  });

  it('refuse a root that is damaged, misnamed, or names files it could not hold', () => {
    const root = fourCommits();
    const name = indexRootName(4);
    expect(() => parseIndexRoot(Buffer.from('{"format":'), name)).toThrow(IntegrityError);
    expect(() => parseIndexRoot(encodeIndexRoot(root), indexRootName(5))).toThrow(/says it is generation 4/);
    const later = structuredClone(root);
    const first = later.shards[1]?.deltas[0];
    if (first) first.generation = 9;
    expect(() => parseIndexRoot(encodeIndexRoot(later), name)).toThrow(/later generation/);
    const twice = structuredClone(root);
    twice.shards[0]?.deltas.push({ ...file('d1'), generation: 1 });
    expect(() => parseIndexRoot(encodeIndexRoot(twice), name)).toThrow(/twice/);
    const shuffled = structuredClone(root);
    shuffled.shards[1]?.deltas.reverse();
    expect(() => parseIndexRoot(encodeIndexRoot(shuffled), name)).toThrow(/out of order/);
    const journalShuffled = nextIndexRoot(root, { journal: { file: file('j5'), replaces: [] } }, at);
    journalShuffled.journal.reverse();
    expect(() => parseIndexRoot(encodeIndexRoot(journalShuffled), indexRootName(5))).toThrow(
      /the journal out of order/,
    );
    const sameCommit = structuredClone(root);
    const [d1, d2] = sameCommit.shards[1]?.deltas ?? [];
    if (d1 && d2) d2.generation = d1.generation;
    expect(() => parseIndexRoot(encodeIndexRoot(sameCommit), name)).toThrow(/out of order/);
    expect(() => parseIndexRoot(encodeIndexRoot({ ...root, shards: [] }), name)).toThrow(IntegrityError);
  });

  it('spread ids over the shards evenly and always the same way', () => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) {
      const shard = shardOf(`inv-${i}`, 16);
      counts[shard] = (counts[shard] ?? 0) + 1;
    }
    for (const count of counts) expect(count).toBeGreaterThan(800);
    // Fixed by the format, so files written by one version are read by the next: SHA-256 of 'a'
    // starts ca978112, of 'abc' ba7816bf.
    expect(shardOf('a', 4096)).toBe(0xca978112 % 4096);
    expect(shardOf('abc', 1000)).toBe(0xba7816bf % 1000);
    expect(() => emptyIndexRoot(0)).toThrow(RangeError);
  });
});
