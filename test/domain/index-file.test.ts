import { createHash, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../../src/domain/errors.js';
import {
  blockFor,
  decodeIndexBlock,
  decodeIndexFooter,
  encodeIndexFile,
  findInBlock,
  IndexFileWriter,
  mayHold,
  type IndexFileBlock,
  type IndexFileItem,
} from '../../src/domain/index-file.js';
import type { ArchiveEntry } from '../../src/ports/archive-index.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const sha256Of = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
/** A UUID-shaped id fixed by `n`, so the test's ids are the same every run. */
const randomUUIDFrom = (n: number) => {
  const hex = sha(`id-${n}`);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
};

function segmentEntry(id: string, n: number): ArchiveEntry {
  return {
    id,
    customer_id: `cust-${n % 7}`,
    created_at: new Date(Date.UTC(2025, n % 12, 1 + (n % 28), 8, 0, 0, n % 1000)).toISOString(),
    location: {
      layout: 'segment',
      blob: `segments/created=2025-${String((n % 12) + 1).padStart(2, '0')}/20260301T080000000Z-1a2b3c4d-000${n % 3}.ndjson.gz`,
      offset: 65_536 * (n % 50),
      length: 20_000 + n,
      line: { offset: 400 * (n % 150), length: 380 + (n % 20) },
    },
    sha256: sha(id),
    // Mostly the line's length, which the file then leaves out.
    size: n % 4 === 0 ? 999 : 380 + (n % 20),
    archived_at: '2026-03-01T08:00:01.000Z',
    run_id: n % 2 ? '20260301T080000000Z-1a2b3c4d' : '20260401T080000000Z-5e6f7a8b',
  };
}

function recordEntry(id: string, n: number): ArchiveEntry {
  return {
    id,
    customer_id: 'cust-x',
    // Texts that milliseconds would not give back exactly stay text.
    created_at: '2024-02-29T23:59:59Z',
    location: {
      layout: 'record',
      blob: `records/2024/02/${id}.0123456789abcdef.json`,
      offset: 0,
      length: 812,
    },
    sha256: sha(`r-${id}`),
    // A record blob's size is its length but for the odd one, which the file must then keep.
    size: n % 2 ? 812 : 811,
    archived_at: '2026-03-01T08:00:01.123456Z',
    run_id: '20260301T080000000Z-1a2b3c4d',
  };
}

/** Items of both layouts and withdrawals, in no particular order. */
function mixedItems(count: number): IndexFileItem[] {
  return Array.from({ length: count }, (_, n): IndexFileItem => {
    const id = `inv-${String((n * 7919) % count).padStart(6, '0')}`;
    if (n % 10 === 3) return { id, withdrawn: true };
    return { id, entry: n % 5 === 1 ? recordEntry(id, n) : segmentEntry(id, n), version: 1 + (n % 9) };
  });
}

const GENERATION = 9;
const SHARD = 3;

function encoded(items: IndexFileItem[], itemsPerBlock?: number) {
  return encodeIndexFile(items, {
    generation: GENERATION,
    shard: SHARD,
    ...(itemsPerBlock && { itemsPerBlock }),
  });
}

/** What the root would say of the encoded file. */
function expected(file: ReturnType<typeof encoded>) {
  return {
    name: 'test',
    generation: GENERATION,
    shard: SHARD,
    footerOffset: file.footerOffset,
    footerSha256: file.footerSha256,
  };
}

function readItem(file: ReturnType<typeof encoded>, id: string): IndexFileItem | undefined {
  const footer = decodeIndexFooter(file.bytes, expected(file));
  const block = blockFor(footer, id);
  return block && findInBlock(bytesOf(file.bytes, block), block, footer, id, 'test');
}

/** The bytes of `block` in `file`. */
function bytesOf(file: Buffer, block: IndexFileBlock): Buffer {
  return file.subarray(block.offset, block.offset + block.length);
}

describe('index files', () => {
  it('give back every entry and withdrawal exactly, whichever block holds it', () => {
    const items = mixedItems(1000);
    const file = encoded(items, 64);
    expect(file.footer.blocks).toHaveLength(16);
    for (const item of items) expect(readItem(file, item.id)).toEqual(item);
  });

  it('say in the footer which commit and shard wrote them, and count entries, withdrawals and sizes', () => {
    const items = mixedItems(1000);
    const { footer } = encoded(items, 100);
    const entries = items.flatMap((item) => ('entry' in item ? [item.entry] : []));
    expect([footer.generation, footer.shard]).toEqual([GENERATION, SHARD]);
    expect(footer.entries).toBe(entries.length);
    expect(footer.withdrawn).toBe(1000 - entries.length);
    expect(footer.bytes).toBe(entries.reduce((sum, entry) => sum + entry.size, 0));
    expect(footer.blocks.reduce((sum, block) => sum + block.items, 0)).toBe(1000);
  });

  it('keep blocks in id order, each block sorted, so a binary search finds the one block', () => {
    const { bytes, footer } = encoded(mixedItems(500), 50);
    let last = '';
    for (const block of footer.blocks) {
      expect(block.first > last).toBe(true);
      const ids = decodeIndexBlock(bytesOf(bytes, block), block, footer, 'test').map((item) => item.id);
      expect(ids).toEqual([...ids].sort());
      expect([ids[0], ids.at(-1)]).toEqual([block.first, block.last]);
      expect(blockFor(footer, block.first)).toBe(block);
      expect(blockFor(footer, block.last)).toBe(block);
      last = block.last;
    }
  });

  it('say nothing of ids they do not hold, before, between and after their blocks', () => {
    const items = [10, 20, 30, 40].map((n) => ({
      id: `inv-${n}`,
      entry: segmentEntry(`inv-${n}`, n),
      version: 1,
    }));
    const file = encoded(items, 2);
    const [low, high] = file.footer.blocks;
    // Inside a block's range but not in it: the block is read, and says nothing.
    expect(blockFor(file.footer, 'inv-15')).toBe(low);
    expect(readItem(file, 'inv-15')).toBeUndefined();
    expect(blockFor(file.footer, 'inv-35')).toBe(high);
    expect(readItem(file, 'inv-35')).toBeUndefined();
    // Outside every range: no block is read at all.
    for (const id of ['inv-05', 'inv-25', 'inv-50']) expect(blockFor(file.footer, id)).toBeUndefined();
  });

  it('read the footer from any tail that holds it, as a ranged read from footerOffset would', () => {
    const file = encoded(mixedItems(300), 64);
    expect(decodeIndexFooter(file.bytes.subarray(file.footerOffset), expected(file))).toEqual(file.footer);
    expect(() => decodeIndexFooter(file.bytes.subarray(file.footerOffset + 1), expected(file))).toThrow(
      IntegrityError,
    );
  });

  it('encode an empty file that holds nothing', () => {
    const file = encoded([]);
    expect(decodeIndexFooter(file.bytes, expected(file)).blocks).toEqual([]);
    expect(blockFor(file.footer, 'anything')).toBeUndefined();
  });

  it('refuse what a reader would refuse: an id twice, a misfiled entry, a bad hash, a later version', () => {
    const entry = segmentEntry('inv-1', 1);
    expect(() =>
      encoded([
        { id: 'inv-1', entry, version: 1 },
        { id: 'inv-1', withdrawn: true },
      ]),
    ).toThrow(/given twice/);
    expect(() => encoded([{ id: 'inv-2', entry, version: 1 }])).toThrow(/filed under/);
    expect(() =>
      encoded([{ id: 'inv-1', entry: { ...entry, sha256: entry.sha256.toUpperCase() }, version: 1 }]),
    ).toThrow(/SHA-256/);
    expect(() => encoded([{ id: 'inv-1', entry, version: GENERATION + 1 }])).toThrow(/later than its file/);
    expect(() => encoded([{ id: 'inv-1', entry: { ...entry, size: -1 }, version: 1 }])).toThrow(
      /not be readable/,
    );
    expect(() =>
      encoded([
        { id: 'inv-1', entry: { ...entry, location: { ...entry.location, offset: 1.5 } }, version: 1 },
      ]),
    ).toThrow(/not be readable/);
  });

  it('are written item by item in id order, read back whole, and refuse any other order', () => {
    const items: IndexFileItem[] = Array.from({ length: 1200 }, (_, n) => {
      const id = `inv-${String(n).padStart(5, '0')}`;
      return n % 9 === 0 ? { id, withdrawn: true } : { id, entry: segmentEntry(id, n), version: 1 + (n % 9) };
    });
    const writer = new IndexFileWriter({ generation: GENERATION, shard: SHARD, itemsPerBlock: 100 });
    for (const item of items) writer.add(item);
    const streamed = writer.finish();
    const read = streamed.footer.blocks.flatMap((block) =>
      decodeIndexBlock(
        streamed.bytes.subarray(block.offset, block.offset + block.length),
        block,
        streamed.footer,
        'streamed',
      ),
    );
    expect(read).toEqual(items);
    expect(streamed.footer.blocks).toHaveLength(12);
    expect(streamed.footer).toMatchObject({ entries: 1066, withdrawn: 134 });

    const backwards = new IndexFileWriter({ generation: GENERATION, shard: SHARD });
    backwards.add({ id: 'inv-2', withdrawn: true });
    expect(() => {
      backwards.add({ id: 'inv-1', withdrawn: true });
    }).toThrow(/out of order/);
    expect(() => {
      backwards.add({ id: 'inv-2', withdrawn: true });
    }).toThrow(/given twice/);
  });

  it('say, without a block read, that they hold nothing of almost every id they do not hold', () => {
    const items: IndexFileItem[] = Array.from({ length: 5000 }, (_, n) => {
      const id = randomUUIDFrom(n);
      return n % 10 === 0 ? { id, withdrawn: true } : { id, entry: segmentEntry(id, n), version: 1 };
    });
    const file = encoded(items);
    // Never wrong about an id it holds, entry or withdrawal.
    expect(items.filter((item) => !mayHold(file.footer, item.id))).toEqual([]);
    // Ids fixed by their numbers, so the share is the same every run: about 0.8% by design.
    const absent = Array.from({ length: 20_000 }, (_, n) => randomUUIDFrom(100_000 + n));
    const wrong = absent.filter((id) => mayHold(file.footer, id)).length;
    expect(wrong / absent.length).toBeLessThan(0.015);
    // About 10 bits an item, in the footer the root's SHA-256 covers.
    expect(Buffer.from(file.footer.bloom.bits, 'base64').length).toBe(Math.ceil((5000 * 10) / 8));
  });

  it('keep run ids and archival times apart whatever they hold', () => {
    const odd = { ...segmentEntry('inv-1', 1), run_id: 'run\nwith a newline', archived_at: 'a"b' };
    const file = encoded([{ id: 'inv-1', entry: odd, version: 1 }]);
    expect(readItem(file, 'inv-1')).toEqual({ id: 'inv-1', entry: odd, version: 1 });
  });

  it('keep a UUID-keyed entry under 80 bytes when blocks are full, its SHA-256 whole', () => {
    // What the format costs per entry: SHA-256 32 bytes, the id ~17, the rest in columns.
    const items = Array.from({ length: 4096 }, (_, n) => {
      const id = randomUUID();
      return { id, entry: segmentEntry(id, n), version: 1 };
    });
    const { bytes } = encoded(items);
    expect(bytes.length / items.length).toBeLessThan(80);
    expect(bytes.length / items.length).toBeGreaterThan(32);
  });

  describe('damaged', () => {
    const file = encoded(mixedItems(200), 100);
    const { bytes, footer } = file;
    const [block, other] = footer.blocks;
    if (!block || !other) throw new Error('two blocks expected');
    const blockBytes = bytesOf(bytes, block);

    it('say so when the trailer is missing or wrong', () => {
      expect(() => decodeIndexFooter(bytes.subarray(0, bytes.length - 1), expected(file))).toThrow(/trailer/);
      expect(() => decodeIndexFooter(Buffer.from('BA'), expected(file))).toThrow(IntegrityError);
    });

    it('say so when the footer is not the one the root names, or of another commit or shard', () => {
      // A footer whose dictionaries were changed would otherwise decode to other customers or runs.
      const changed = gzipSync(JSON.stringify({ ...footer, customers: [...footer.customers].reverse() }));
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32BE(changed.length, 0);
      trailer.write('BAIX', 4, 'ascii');
      const forged = Buffer.concat([bytes.subarray(0, file.footerOffset), changed, trailer]);
      expect(() => decodeIndexFooter(forged, expected(file))).toThrow(/not the one the index root names/);
      expect(
        decodeIndexFooter(forged, { ...expected(file), footerSha256: sha256Of(changed) }).customers,
      ).toEqual([...footer.customers].reverse());
      expect(() => decodeIndexFooter(bytes, { ...expected(file), generation: GENERATION + 1 })).toThrow(
        /where the root expects/,
      );
      expect(() => decodeIndexFooter(bytes, { ...expected(file), shard: SHARD + 1 })).toThrow(
        /where the root expects/,
      );
      expect(() => decodeIndexFooter(bytes, { ...expected(file), footerOffset: 1 })).toThrow(
        /do not end where/,
      );
    });

    /** A file of `footer` with its block table replaced, as the root would name it. */
    const withBlocks = (blocks: IndexFileBlock[], counts = {}) => {
      const changed = gzipSync(JSON.stringify({ ...footer, ...counts, blocks }));
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32BE(changed.length, 0);
      trailer.write('BAIX', 4, 'ascii');
      return decodeIndexFooter(Buffer.concat([changed, trailer]), {
        ...expected(file),
        footerSha256: sha256Of(changed),
      });
    };

    it('say so when the footer lists blocks out of order, overlapping, with gaps, or miscounted', () => {
      expect(() => withBlocks([other, block])).toThrow(/out of place/);
      expect(() => withBlocks([block, { ...other, first: block.last }])).toThrow(/overlap/);
      expect(() => withBlocks([block, { ...other, offset: other.offset + 1 }])).toThrow(/out of place/);
      expect(() => withBlocks([{ ...block, first: block.last, last: block.first }, other])).toThrow(
        /out of place/,
      );
      expect(() => withBlocks([block, other], { entries: footer.entries + 1 })).toThrow(/counts other items/);
    });

    /** A block as the encoder frames it (length, JSON columns, hashes; gzipped), and its description. */
    const framed = (columns: object, hashes: number, items = 1) => {
      const json = Buffer.from(JSON.stringify(columns));
      const length = Buffer.alloc(4);
      length.writeUInt32BE(json.length, 0);
      const packed = gzipSync(Buffer.concat([length, json, Buffer.alloc(hashes)]));
      const description = {
        offset: 0,
        length: packed.length,
        first: 'a',
        last: 'a',
        items,
        sha256: sha256Of(packed),
      };
      return [packed, description] as const;
    };
    const oneEntry = {
      ids: ['a'],
      withdrawn: [],
      version: [4],
      customer: [0],
      created: [0],
      blob: [0],
      offset: [0],
      length: [1],
      line_offset: [null],
      line_length: [null],
      size: [null],
      run: [0],
    };
    const small = { ...footer, customers: ['c'], blobs: ['b'], runs: [['r', 't']] as [string, string][] };
    const decodeFramed = (columns: object, hashes: number, items = 1) => {
      const [packed, description] = framed(columns, hashes, items);
      return decodeIndexBlock(packed, description, small, 't');
    };

    it('say so when a block is not the one the footer describes', () => {
      const flipped = Buffer.from(blockBytes);
      flipped[flipped.length - 5] = (flipped[flipped.length - 5] ?? 0) ^ 0xff;
      expect(() => decodeIndexBlock(flipped, block, footer, 't')).toThrow(/not the one its footer describes/);
      expect(() => decodeIndexBlock(blockBytes.subarray(1), block, footer, 't')).toThrow(IntegrityError);
      expect(() => decodeIndexBlock(bytesOf(bytes, other), block, footer, 't')).toThrow(IntegrityError);
    });

    it('say so when a block is not in its format, or holds other ids than its description', () => {
      expect(() => decodeFramed({ ids: ['a'] }, 0)).toThrow(/not in its format/);
      expect(() => decodeFramed(oneEntry, 32, 2)).toThrow(/other ids/);
      expect(() => decodeFramed({ ...oneEntry, version: [GENERATION + 1] }, 32)).toThrow(/later generation/);
      expect(() => decodeFramed({ ...oneEntry, created: [9e15] }, 32)).toThrow(/not in its format/);
    });

    it('say so when a block has fewer hashes than entries, or refers to values the footer lacks', () => {
      expect(decodeIndexBlock(blockBytes, block, footer, 't')).toHaveLength(100);
      expect(decodeFramed(oneEntry, 32)).toEqual([
        {
          id: 'a',
          entry: {
            id: 'a',
            customer_id: 'c',
            created_at: '1970-01-01T00:00:00.000Z',
            location: { layout: 'record', blob: 'b', offset: 0, length: 1 },
            sha256: '0'.repeat(64),
            size: 1,
            archived_at: 't',
            run_id: 'r',
          },
          version: 4,
        },
      ]);
      expect(() => decodeFramed({ ...oneEntry, version: [] }, 32)).toThrow(/different lengths/);
      expect(() => decodeFramed(oneEntry, 31)).toThrow(/different lengths/);
      expect(() => decodeFramed({ ...oneEntry, run: [1] }, 32)).toThrow(/does not hold/);
      expect(() => decodeFramed({ ...oneEntry, line_offset: [3] }, 32)).toThrow(/half a line range/);
    });
  });
});
