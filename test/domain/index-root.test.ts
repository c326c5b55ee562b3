import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../../src/domain/errors.js';
import {
  emptyIndexRoot,
  encodeIndexRoot,
  filesOf,
  generationOfRootName,
  indexRootName,
  newestFirst,
  nextIndexRoot,
  parseIndexRoot,
  shardOf,
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

/** Three deltas in shard 1 over three commits, one in shard 0. */
function threeCommits(): IndexRoot {
  let root = emptyIndexRoot(2);
  root = nextIndexRoot(root, { deltas: [{ shard: 1, file: file('d1') }] }, at);
  root = nextIndexRoot(
    root,
    {
      deltas: [
        { shard: 1, file: file('d2') },
        { shard: 0, file: file('e2') },
      ],
    },
    at,
  );
  return nextIndexRoot(root, { deltas: [{ shard: 1, file: file('d3') }] }, at);
}

describe('index roots', () => {
  it('name generations so that names sort as generations do, and read them back', () => {
    expect(indexRootName(7)).toBe('index/roots/000000000007.json');
    expect(indexRootName(7) < indexRootName(10)).toBe(true);
    expect(generationOfRootName(indexRootName(123_456))).toBe(123_456);
    for (const name of [
      'index/roots/7.json',
      'index/roots/000000000000.json',
      'index/files/000000000007.json',
    ])
      expect(generationOfRootName(name)).toBeUndefined();
    expect(() => indexRootName(0)).toThrow(RangeError);
  });

  it('number each commit and stamp its files with it', () => {
    const root = threeCommits();
    expect(root.generation).toBe(3);
    expect(root.committed_at).toBe(at.toISOString());
    expect(root.shards[1]?.deltas.map((d) => [d.name, d.generation])).toEqual([
      ['d1', 1],
      ['d2', 2],
      ['d3', 3],
    ]);
    expect(filesOf(root).map((f) => f.name)).toEqual(['e2', 'd1', 'd2', 'd3']);
  });

  it('ask a shard newest first, its base last', () => {
    let root = threeCommits();
    root = nextIndexRoot(root, { bases: [{ shard: 1, file: file('b4'), replaces: ['d1', 'd2'] }] }, at);
    expect(newestFirst(root.shards[1] ?? { base: null, deltas: [] }).map((f) => f.name)).toEqual([
      'd3',
      'b4',
    ]);
  });

  it('let a compaction replace only the base and the oldest deltas, all still there', () => {
    const root = threeCommits();
    expect(() =>
      nextIndexRoot(root, { bases: [{ shard: 1, file: file('b'), replaces: ['d2'] }] }, at),
    ).toThrow(/oldest deltas/);
    expect(() =>
      nextIndexRoot(root, { bases: [{ shard: 1, file: file('b'), replaces: ['d0', 'd1'] }] }, at),
    ).toThrow(/no longer holds d0/);
    const compacted = nextIndexRoot(root, { bases: [{ shard: 1, file: file('b4'), replaces: ['d1'] }] }, at);
    expect(() =>
      nextIndexRoot(compacted, { bases: [{ shard: 1, file: file('b5'), replaces: ['d2'] }] }, at),
    ).toThrow(/must replace its base b4/);
    expect(() => nextIndexRoot(root, { deltas: [{ shard: 2, file: file('x') }] }, at)).toThrow(/shard 2/);
  });

  it('refuse a file under a name the index holds, and two files for one shard in one commit', () => {
    // A commit retried after a lost answer must not name its file twice: no reader could open it.
    const root = threeCommits();
    expect(() => nextIndexRoot(root, { deltas: [{ shard: 0, file: file('d2') }] }, at)).toThrow(
      /already holds a file named d2/,
    );
    expect(() =>
      nextIndexRoot(root, { bases: [{ shard: 1, file: file('d3'), replaces: ['d1'] }] }, at),
    ).toThrow(/already holds/);
    expect(() =>
      nextIndexRoot(
        root,
        {
          deltas: [
            { shard: 0, file: file('x') },
            { shard: 0, file: file('y') },
          ],
        },
        at,
      ),
    ).toThrow(/one file to shard 0/);
    expect(() =>
      nextIndexRoot(
        root,
        {
          bases: [{ shard: 1, file: file('b'), replaces: ['d1'] }],
          deltas: [{ shard: 1, file: file('x') }],
        },
        at,
      ),
    ).toThrow(/one file to shard 1/);
  });

  it('leave the root it started from as it was', () => {
    const root = threeCommits();
    const before = structuredClone(root);
    nextIndexRoot(root, { bases: [{ shard: 1, file: file('b4'), replaces: ['d1', 'd2', 'd3'] }] }, at);
    expect(root).toEqual(before);
  });

  it('read back what they wrote', () => {
    const root = threeCommits();
    expect(parseIndexRoot(encodeIndexRoot(root), indexRootName(3))).toEqual(root);
  });

  it('refuse a root that is damaged, misnamed, or names files it could not hold', () => {
    const root = threeCommits();
    const name = indexRootName(3);
    expect(() => parseIndexRoot(Buffer.from('{"format":'), name)).toThrow(IntegrityError);
    expect(() => parseIndexRoot(encodeIndexRoot(root), indexRootName(4))).toThrow(/says it is generation 3/);
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
