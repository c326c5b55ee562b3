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
  type IndexFileItem,
} from '../../src/domain/index-file.js';
import type { ArchiveEntry } from '../../src/ports/archive-index.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const sha256Of = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

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

function recordEntry(id: string): ArchiveEntry {
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
    size: 812,
    archived_at: '2026-03-01T08:00:01.123456Z',
    run_id: '20260301T080000000Z-1a2b3c4d',
  };
}

/** Items of both layouts and withdrawals, in no particular order. */
function mixedItems(count: number): IndexFileItem[] {
  return Array.from({ length: count }, (_, n): IndexFileItem => {
    const id = `inv-${String((n * 7919) % count).padStart(6, '0')}`;
    if (n % 10 === 3) return { id, withdrawn: 7 + (n % 3) };
    const put = 1 + (n % 9);
    return { id, entry: n % 5 === 1 ? recordEntry(id) : segmentEntry(id, n), put, changed: put + (n % 2) };
  });
}

function readItem(file: Buffer, id: string): IndexFileItem | undefined {
  const footer = decodeIndexFooter(file, 'test');
  const block = blockFor(footer, id);
  return (
    block && findInBlock(file.subarray(block.offset, block.offset + block.length), block, footer, id, 'test')
  );
}

describe('index files', () => {
  it('give back every entry and withdrawal exactly, whichever block holds it', () => {
    const items = mixedItems(1000);
    const { bytes, footer } = encodeIndexFile(items, 64);
    expect(footer.blocks).toHaveLength(16);
    for (const item of items) expect(readItem(bytes, item.id)).toEqual(item);
  });

  it('count entries, withdrawals and summed sizes in the footer', () => {
    const items = mixedItems(1000);
    const { footer } = encodeIndexFile(items, 100);
    const entries = items.flatMap((item) => ('entry' in item ? [item.entry] : []));
    expect(footer.entries).toBe(entries.length);
    expect(footer.withdrawn).toBe(1000 - entries.length);
    expect(footer.bytes).toBe(entries.reduce((sum, entry) => sum + entry.size, 0));
    expect(footer.blocks.reduce((sum, block) => sum + block.items, 0)).toBe(1000);
  });

  it('keep blocks in id order, each block sorted, so a binary search finds the one block', () => {
    const { bytes, footer } = encodeIndexFile(mixedItems(500), 50);
    let last = '';
    for (const block of footer.blocks) {
      expect(block.first > last).toBe(true);
      const ids = decodeIndexBlock(
        bytes.subarray(block.offset, block.offset + block.length),
        block,
        footer,
        'test',
      ).map((item) => item.id);
      expect(ids).toEqual([...ids].sort());
      expect([ids[0], ids.at(-1)]).toEqual([block.first, block.last]);
      last = block.last;
    }
  });

  it('say nothing of ids they do not hold, before, between and after their blocks', () => {
    const items = [10, 20, 30, 40].map((n) => ({
      id: `inv-${n}`,
      entry: segmentEntry(`inv-${n}`, n),
      put: 1,
      changed: 1,
    }));
    const { bytes, footer } = encodeIndexFile(items, 2);
    for (const id of ['inv-05', 'inv-25', 'inv-50', 'inv-15']) {
      const block = blockFor(footer, id);
      expect(
        block &&
          findInBlock(bytes.subarray(block.offset, block.offset + block.length), block, footer, id, 't'),
      ).toBe(undefined);
    }
    expect(blockFor(footer, 'inv-25')).toBeUndefined();
  });

  it('read the footer from any tail that holds it, as a ranged read from footerOffset would', () => {
    const { bytes, footer, footerOffset } = encodeIndexFile(mixedItems(300), 64);
    expect(decodeIndexFooter(bytes.subarray(footerOffset), 't')).toEqual(footer);
    expect(() => decodeIndexFooter(bytes.subarray(footerOffset + 1), 't')).toThrow(IntegrityError);
  });

  it('encode an empty file that holds nothing', () => {
    const { bytes, footer } = encodeIndexFile([]);
    expect(decodeIndexFooter(bytes, 't')).toEqual({ ...footer, blocks: [] });
    expect(blockFor(footer, 'anything')).toBeUndefined();
  });

  it('refuse an id given twice, an entry filed under another id and a SHA-256 that is not hex', () => {
    const entry = segmentEntry('inv-1', 1);
    expect(() =>
      encodeIndexFile([
        { id: 'inv-1', entry, put: 1, changed: 1 },
        { id: 'inv-1', withdrawn: 1 },
      ]),
    ).toThrow(/given twice/);
    expect(() => encodeIndexFile([{ id: 'inv-2', entry, put: 1, changed: 1 }])).toThrow(/filed under/);
    expect(() =>
      encodeIndexFile([
        { id: 'inv-1', entry: { ...entry, sha256: entry.sha256.toUpperCase() }, put: 1, changed: 1 },
      ]),
    ).toThrow(/SHA-256/);
  });

  it('keep a UUID-keyed entry under 80 bytes when blocks are full, its SHA-256 whole', () => {
    // What the format costs per entry: SHA-256 32 bytes, the id ~17, the rest in columns.
    const items = Array.from({ length: 4096 }, (_, n) => {
      const id = randomUUID();
      return { id, entry: segmentEntry(id, n), put: 1, changed: 1 };
    });
    const { bytes } = encodeIndexFile(items);
    expect(bytes.length / items.length).toBeLessThan(80);
    expect(bytes.length / items.length).toBeGreaterThan(32);
  });

  describe('damaged', () => {
    const { bytes, footer } = encodeIndexFile(mixedItems(200), 100);
    const [block, other] = footer.blocks;
    if (!block || !other) throw new Error('two blocks expected');

    it('say so when the trailer is missing or wrong', () => {
      expect(() => decodeIndexFooter(bytes.subarray(0, bytes.length - 1), 't')).toThrow(/trailer/);
      expect(() => decodeIndexFooter(Buffer.from('BA'), 't')).toThrow(IntegrityError);
    });

    const blockBytes = bytes.subarray(block.offset, block.offset + block.length);
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
      withdrawn_put: [],
      put: [4],
      changed: [5],
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
      expect(() =>
        decodeIndexBlock(bytes.subarray(other.offset, other.offset + other.length), block, footer, 't'),
      ).toThrow(IntegrityError);
    });

    it('say so when a block is not in its format, or holds other ids than its description', () => {
      expect(() => decodeFramed({ ids: ['a'] }, 0)).toThrow(/not in its format/);
      expect(() => decodeFramed(oneEntry, 32, 2)).toThrow(/other ids/);
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
          put: 4,
          changed: 5,
        },
      ]);
      expect(() => decodeFramed({ ...oneEntry, changed: [] }, 32)).toThrow(/different lengths/);
      expect(() => decodeFramed({ ...oneEntry, withdrawn: ['b'] }, 32, 2)).toThrow(/different lengths/);
      expect(() => decodeFramed(oneEntry, 31)).toThrow(/different lengths/);
      expect(() => decodeFramed({ ...oneEntry, run: [1] }, 32)).toThrow(/does not hold/);
      expect(() => decodeFramed({ ...oneEntry, line_offset: [3] }, 32)).toThrow(/half a line range/);
    });
  });
});
