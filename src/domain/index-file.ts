import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Type, type Static } from 'typebox';
import type { ArchiveEntry, ArchiveLocation } from '../ports/archive-index.js';
import { IntegrityError } from './errors.js';
import { compileAssert } from './schema-validator.js';

/**
 * One immutable file of the blob-native archive index: entries sorted by id, in gzip blocks that a
 * look-up reads one of, then a footer that says where each block is and which ids it covers.
 *
 *   [block 0] … [block n-1] [footer: gzipped JSON] [footer length: u32 BE] [MAGIC]
 *
 * A block is gzipped `[u32 BE length][JSON columns][32-byte SHA-256 of each entry, in order]`.
 * The footer keeps each distinct customer, blob and run once; columns refer to them by place, keep
 * a creation time as milliseconds when that reads back as the same text, and leave out a size equal
 * to the record's own length. SHA-256 stays whole and binary: it is the archived record's evidence,
 * and 32 random bytes compress to nothing less. A file may also name ids as withdrawn: that hides
 * the id's entry in every file asked after it.
 *
 * A file is written by one commit of the index (its `generation`) for one `shard`, or for the
 * journal, which spans every shard (`shard` null). Each entry keeps
 * the generation that stored this very version (`version`, at most the file's): versions are told
 * apart by it, and it outlives compactions. Within a shard a newer file's word on an id wins (see
 * index-root.ts), which the writer keeps true by building each file against the root it commits on.
 *
 * The integrity chain starts at the root, which keeps each file's footer SHA-256: the footer (with
 * its dictionaries) is checked against it, and each block against the footer.
 */
export const INDEX_FILE_FORMAT = 'billing-archive.index-file/2';
const MAGIC = Buffer.from('BAIX', 'ascii');
const TRAILER_BYTES = 4 + MAGIC.length;
const SHA256_BYTES = 32;

/** What a file says of one id: its entry, or that it was withdrawn. */
export type IndexFileItem = IndexFileEntry | IndexFileWithdrawal;

export interface IndexFileEntry {
  id: string;
  entry: ArchiveEntry;
  /** The generation that stored this version. */
  version: number;
}

export interface IndexFileWithdrawal {
  id: string;
  withdrawn: true;
}

export interface IndexFileBlock {
  offset: number;
  length: number;
  /** The first and last id the block holds (entries and withdrawals alike). */
  first: string;
  last: string;
  items: number;
  /** Of the compressed block: a look-up checks the block it read is this one, not only intact. */
  sha256: string;
}

export interface IndexFileFooter {
  format: typeof INDEX_FILE_FORMAT;
  generation: number;
  /** Null for a journal file. */
  shard: number | null;
  entries: number;
  withdrawn: number;
  /** Summed `size` of the entries. */
  bytes: number;
  /** Each distinct customer, blob and run (id and archival time) once; blocks refer to them by place. */
  customers: string[];
  blobs: string[];
  runs: [string, string][];
  blocks: IndexFileBlock[];
  /** Says which ids the file cannot hold, so a look-up of one skips its block read (see `mayHold`). */
  bloom: IndexFileBloom;
}

/** A Bloom filter of the file's ids: `hashes` bit positions an id, in `bits` (base64). */
export interface IndexFileBloom {
  hashes: number;
  bits: string;
}

export interface EncodedIndexFile {
  bytes: Buffer;
  footer: IndexFileFooter;
  /** Where the footer starts: a reader that knows it reads footer and trailer in one range. */
  footerOffset: number;
  /** Of the gzipped footer: the root keeps it, and a reader checks the footer against it. */
  footerSha256: string;
}

/** What the root says of a file, which its footer must match. */
export interface ExpectedIndexFile {
  name: string;
  generation: number;
  shard: number | null;
  footerOffset: number;
  footerSha256: string;
}

const Count = Type.Integer({ minimum: 0 });
const Generation = Type.Integer({ minimum: 1 });
/** The latest instant a Date holds, in milliseconds. */
const MAX_TIME_MS = 8.64e15;
const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$' });
const FooterSchema = Type.Object(
  {
    format: Type.Literal(INDEX_FILE_FORMAT),
    generation: Generation,
    shard: Type.Union([Count, Type.Null()]),
    entries: Count,
    withdrawn: Count,
    bytes: Count,
    customers: Type.Array(Type.String()),
    blobs: Type.Array(Type.String({ minLength: 1 })),
    runs: Type.Array(Type.Tuple([Type.String(), Type.String()])),
    blocks: Type.Array(
      Type.Object(
        {
          offset: Count,
          length: Count,
          first: Type.String({ minLength: 1 }),
          last: Type.String({ minLength: 1 }),
          items: Type.Integer({ minimum: 1 }),
          sha256: Sha256,
        },
        { additionalProperties: false },
      ),
    ),
    bloom: Type.Object(
      {
        hashes: Type.Integer({ minimum: 1, maximum: 32 }),
        bits: Type.String({ minLength: 4, pattern: '^[A-Za-z0-9+/]*={0,2}$' }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

const Column = <T extends Parameters<typeof Type.Array>[0]>(item: T) => Type.Array(item);
const BlockSchema = Type.Object(
  {
    ids: Column(Type.String({ minLength: 1 })),
    withdrawn: Column(Type.String({ minLength: 1 })),
    version: Column(Generation),
    customer: Column(Count),
    created: Column(
      Type.Union([Type.Integer({ minimum: 0, maximum: MAX_TIME_MS }), Type.String({ minLength: 1 })]),
    ),
    blob: Column(Count),
    offset: Column(Count),
    length: Column(Count),
    line_offset: Column(Type.Union([Count, Type.Null()])),
    line_length: Column(Type.Union([Count, Type.Null()])),
    /** Null when the record's size is its line's length (segment) or its blob's (record). */
    size: Column(Type.Union([Count, Type.Null()])),
    run: Column(Count),
  },
  { additionalProperties: false },
);
type BlockColumns = Static<typeof BlockSchema>;

const assertFooter: (value: unknown) => asserts value is IndexFileFooter = compileAssert(
  FooterSchema,
  'footer',
);
const assertBlock: (value: unknown) => asserts value is BlockColumns = compileAssert(BlockSchema, 'block');

/** Items per block unless told: a look-up then reads and unzips ~40 KB (UUID ids, 2026-11-30). */
export const DEFAULT_ITEMS_PER_BLOCK = 512;

/**
 * Encodes items (any order; one per id) as an index file. Throws on a repeated id: a file says one
 * thing of each.
 */
export function encodeIndexFile(
  items: readonly IndexFileItem[],
  file: { generation: number; shard: number | null; itemsPerBlock?: number },
): EncodedIndexFile {
  const writer = new IndexFileWriter(file);
  for (const item of [...items].sort((a, b) => compareIds(a.id, b.id))) writer.add(item);
  return writer.finish();
}

/**
 * Writes an index file from items given in id order, a block at a time: it holds only the
 * compressed blocks and the footer's tables, never the decoded items of the whole file, so a merge
 * of files far larger than memory streams through it.
 */
export class IndexFileWriter {
  private readonly generation: number;
  private readonly shard: number | null;
  private readonly itemsPerBlock: number;
  private readonly values = new FileValues();
  private readonly parts: Buffer[] = [];
  private readonly blocks: IndexFileBlock[] = [];
  private pending: IndexFileItem[] = [];
  /** Each item's two Bloom hashes, 8 bytes an item: the filter's size is known only at the end. */
  private hashes = new Uint32Array(2 * 1024);
  private items = 0;
  private lastId: string | undefined;
  private offset = 0;
  private entries = 0;
  private withdrawn = 0;
  private bytes = 0;

  constructor(file: { generation: number; shard: number | null; itemsPerBlock?: number }) {
    const { generation, shard, itemsPerBlock = DEFAULT_ITEMS_PER_BLOCK } = file;
    if (!(Number.isInteger(itemsPerBlock) && itemsPerBlock >= 1))
      throw new RangeError('itemsPerBlock must be a whole number ≥ 1');
    this.generation = generation;
    this.shard = shard;
    this.itemsPerBlock = itemsPerBlock;
  }

  /** Adds the next item; throws unless its id comes after the last one's (a file says one thing of each). */
  add(item: IndexFileItem): void {
    if (this.lastId !== undefined && compareIds(item.id, this.lastId) <= 0)
      throw new RangeError(
        item.id === this.lastId
          ? `id '${item.id}' is given twice`
          : `id '${item.id}' comes after '${this.lastId}', out of order`,
      );
    this.lastId = item.id;
    this.pending.push(item);
    if (2 * this.items + 2 > this.hashes.length) {
      const grown = new Uint32Array(this.hashes.length * 2);
      grown.set(this.hashes);
      this.hashes = grown;
    }
    const [first, step] = bloomHashes(item.id);
    this.hashes[2 * this.items] = first;
    this.hashes[2 * this.items + 1] = step;
    this.items += 1;
    if ('entry' in item) {
      this.entries += 1;
      this.bytes += item.entry.size;
    } else {
      this.withdrawn += 1;
    }
    if (this.pending.length >= this.itemsPerBlock) this.sealBlock();
  }

  /** The file's bytes, with its footer and where it starts. */
  finish(): EncodedIndexFile {
    if (this.pending.length > 0) this.sealBlock();
    const footer: IndexFileFooter = {
      format: INDEX_FILE_FORMAT,
      generation: this.generation,
      shard: this.shard,
      entries: this.entries,
      withdrawn: this.withdrawn,
      bytes: this.bytes,
      customers: this.values.customers.values,
      blobs: this.values.blobs.values,
      runs: this.values.runs.values.map((key) => JSON.parse(key) as [string, string]),
      blocks: this.blocks,
      bloom: bloomOf(this.hashes.subarray(0, 2 * this.items)),
    };
    // What a reader would refuse is refused here, before anything is written.
    writable(footer, assertFooter, 'footer');
    const footerBytes = gzipSync(JSON.stringify(footer));
    const trailer = Buffer.alloc(TRAILER_BYTES);
    trailer.writeUInt32BE(footerBytes.length, 0);
    MAGIC.copy(trailer, 4);
    return {
      bytes: Buffer.concat([...this.parts, footerBytes, trailer]),
      footer,
      footerOffset: this.offset,
      footerSha256: sha256Of(footerBytes),
    };
  }

  private sealBlock(): void {
    const chunk = this.pending;
    this.pending = [];
    const block = gzipSync(blockPayload(chunk, this.values, this.generation), { level: 9 });
    this.parts.push(block);
    this.blocks.push({
      offset: this.offset,
      length: block.length,
      first: chunk[0]?.id ?? '',
      last: chunk.at(-1)?.id ?? '',
      items: chunk.length,
      sha256: sha256Of(block),
    });
    this.offset += block.length;
  }
}

/**
 * The footer from a file's tail (any suffix holding footer and trailer: the whole file will do),
 * checked against what the root says of the file and for a block table a look-up can trust.
 */
export function decodeIndexFooter(tail: Buffer, expected: ExpectedIndexFile): IndexFileFooter {
  const { name } = expected;
  if (tail.length < TRAILER_BYTES || !tail.subarray(tail.length - MAGIC.length).equals(MAGIC))
    throw new IntegrityError(`index file ${name} does not end with its trailer`);
  const footerLength = tail.readUInt32BE(tail.length - TRAILER_BYTES);
  const start = tail.length - TRAILER_BYTES - footerLength;
  if (start < 0) throw new IntegrityError(`index file ${name}: the tail read is shorter than its footer`);
  const footerBytes = tail.subarray(start, tail.length - TRAILER_BYTES);
  if (sha256Of(footerBytes) !== expected.footerSha256)
    throw new IntegrityError(`index file ${name}: its footer is not the one the index root names`);
  let json: Buffer;
  try {
    json = gunzipSync(footerBytes);
  } catch (error) {
    throw new IntegrityError(`index file ${name}: its footer does not unzip`, { cause: error });
  }
  const footer = shaped(parseJson(json, name, 'footer'), assertFooter, name, 'footer');
  if (footer.generation !== expected.generation || footer.shard !== expected.shard)
    throw new IntegrityError(
      `index file ${name} is of generation ${footer.generation}, shard ${footer.shard}, where the root expects ${expected.generation}, ${expected.shard}`,
    );
  let offset = 0;
  let items = 0;
  let last: string | undefined;
  for (const block of footer.blocks) {
    if (block.offset !== offset || compareIds(block.first, block.last) > 0)
      throw new IntegrityError(`index file ${name}: its footer's block at ${block.offset} is out of place`);
    if (last !== undefined && compareIds(last, block.first) >= 0)
      throw new IntegrityError(`index file ${name}: its footer's blocks overlap or are out of order`);
    offset += block.length;
    items += block.items;
    last = block.last;
  }
  if (offset !== expected.footerOffset)
    throw new IntegrityError(`index file ${name}: its blocks do not end where its footer starts`);
  if (items !== footer.entries + footer.withdrawn)
    throw new IntegrityError(`index file ${name}: its footer counts other items than its blocks hold`);
  return footer;
}

/**
 * False when the file holds nothing of `id` (its Bloom filter says so: a look-up of an id a file
 * does not hold, as every new id is, then reads no block); true when it may, wrongly about 1 time
 * in 120. The footer's SHA-256 in the root covers the filter: a damaged one is refused with it.
 */
export function mayHold(footer: IndexFileFooter, id: string): boolean {
  let bits = decodedBlooms.get(footer);
  if (!bits) {
    bits = Buffer.from(footer.bloom.bits, 'base64');
    decodedBlooms.set(footer, bits);
  }
  const size = bits.length * 8;
  const [first, step] = bloomHashes(id);
  for (let i = 0; i < footer.bloom.hashes; i++) {
    // Division, not `>> 3`: a shift works on 32-bit signed integers.
    const at = (first + i * step) % size;
    if (((bits[Math.floor(at / 8)] ?? 0) & (1 << (at % 8))) === 0) return false;
  }
  return true;
}

/** Bits a file's Bloom filter gives an item and hash positions an id: about 0.8% false positives. */
const BLOOM_BITS_PER_ITEM = 10;
const BLOOM_HASHES = 7;
/** Decoded filters of footers read, kept as long as the footer is (the reader caches footers). */
const decodedBlooms = new WeakMap<IndexFileFooter, Buffer>();

/**
 * An id's two Bloom hashes, from bytes 8 to 15 of its SHA-256: bytes 0 to 3 choose its shard, so
 * every id of a shard file shares them modulo the shard count.
 */
function bloomHashes(id: string): [number, number] {
  const digest = createHash('sha256').update(id).digest();
  // Odd, so the steps never repeat a position before wrapping the filter (`>>> 0` keeps it unsigned).
  return [digest.readUInt32BE(8), (digest.readUInt32BE(12) | 1) >>> 0];
}

/** The filter of items whose hashes are `hashes`, two a item (first, step). */
function bloomOf(hashes: Uint32Array): IndexFileBloom {
  const items = hashes.length / 2;
  const bytes = Math.max(8, Math.ceil((items * BLOOM_BITS_PER_ITEM) / 8));
  const bits = Buffer.alloc(bytes);
  const size = bytes * 8;
  for (let item = 0; item < items; item++) {
    const first = hashes[2 * item] ?? 0;
    const step = hashes[2 * item + 1] ?? 1;
    for (let i = 0; i < BLOOM_HASHES; i++) {
      const at = (first + i * step) % size;
      const byte = Math.floor(at / 8);
      bits[byte] = (bits[byte] ?? 0) | (1 << (at % 8));
    }
  }
  return { hashes: BLOOM_HASHES, bits: bits.toString('base64') };
}

/** The block that would hold `id`, or undefined when no block's range covers it. */
export function blockFor(footer: IndexFileFooter, id: string): IndexFileBlock | undefined {
  let low = 0;
  let high = footer.blocks.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const block = footer.blocks[middle];
    if (!block) return undefined;
    if (compareIds(id, block.first) < 0) high = middle - 1;
    else if (compareIds(id, block.last) > 0) low = middle + 1;
    else return block;
  }
  return undefined;
}

/**
 * Every item of `block` (one of `footer`'s), in id order, from its bytes, which must be exactly
 * what the footer says. `name` is for messages.
 */
export function decodeIndexBlock(
  bytes: Buffer,
  block: IndexFileBlock,
  footer: IndexFileFooter,
  name: string,
): IndexFileItem[] {
  if (bytes.length !== block.length || sha256Of(bytes) !== block.sha256)
    throw new IntegrityError(
      `index file ${name}: the block at ${block.offset} is not the one its footer describes`,
    );
  let payload: Buffer;
  try {
    payload = gunzipSync(bytes);
  } catch (error) {
    throw new IntegrityError(`index file ${name}: a block does not unzip`, { cause: error });
  }
  const jsonLength = payload.length >= 4 ? payload.readUInt32BE(0) : Infinity;
  if (4 + jsonLength > payload.length) throw new IntegrityError(`index file ${name}: a block is truncated`);
  const columns = shaped(
    parseJson(payload.subarray(4, 4 + jsonLength), name, 'block'),
    assertBlock,
    name,
    'block',
  );
  const hashes = payload.subarray(4 + jsonLength);
  const count = columns.ids.length;
  const perEntry = [
    columns.version,
    columns.customer,
    columns.created,
    columns.blob,
    columns.offset,
    columns.length,
    columns.line_offset,
    columns.line_length,
    columns.size,
    columns.run,
  ];
  if (perEntry.some((column) => column.length !== count) || hashes.length !== count * SHA256_BYTES)
    throw new IntegrityError(`index file ${name}: a block has columns of different lengths`);
  const items: IndexFileItem[] = columns.withdrawn.map((id) => ({ id, withdrawn: true }));
  for (let i = 0; i < count; i++) {
    const version = columns.version[i] ?? 0;
    if (version > footer.generation)
      throw new IntegrityError(`index file ${name}: an entry is of a later generation than its file`);
    items.push({ id: columns.ids[i] ?? '', entry: entryAt(columns, footer, hashes, i, name), version });
  }
  items.sort((a, b) => compareIds(a.id, b.id));
  if (items.length !== block.items || items[0]?.id !== block.first || items.at(-1)?.id !== block.last)
    throw new IntegrityError(
      `index file ${name}: the block at ${block.offset} holds other ids than its footer says`,
    );
  return items;
}

/** What the block says of `id`, or undefined when it says nothing. */
export function findInBlock(
  bytes: Buffer,
  block: IndexFileBlock,
  footer: IndexFileFooter,
  id: string,
  name: string,
): IndexFileItem | undefined {
  return decodeIndexBlock(bytes, block, footer, name).find((item) => item.id === id);
}

/** Record ids are ASCII, so UTF-16 order is byte order, the order SQLite and Cosmos DB list in. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function blockPayload(items: readonly IndexFileItem[], values: FileValues, generation: number): Buffer {
  const columns: BlockColumns = {
    ids: [],
    withdrawn: [],
    version: [],
    customer: [],
    created: [],
    blob: [],
    offset: [],
    length: [],
    line_offset: [],
    line_length: [],
    size: [],
    run: [],
  };
  const hashes: Buffer[] = [];
  for (const item of items) {
    if (!('entry' in item)) {
      columns.withdrawn.push(item.id);
      continue;
    }
    const { entry } = item;
    const { location } = entry;
    if (entry.id !== item.id) throw new RangeError(`entry '${entry.id}' is filed under '${item.id}'`);
    if (item.version > generation)
      throw new RangeError(`entry '${entry.id}' is of generation ${item.version}, later than its file's`);
    const hash = Buffer.from(entry.sha256, 'hex');
    if (hash.length !== SHA256_BYTES || hash.toString('hex') !== entry.sha256)
      throw new RangeError(`entry '${entry.id}' has no SHA-256 in lowercase hex`);
    const line = location.layout === 'segment' ? location.line : undefined;
    columns.ids.push(entry.id);
    columns.version.push(item.version);
    columns.customer.push(values.customers.indexOf(entry.customer_id));
    columns.created.push(compactTime(entry.created_at));
    columns.blob.push(values.blobs.indexOf(location.blob));
    columns.offset.push(location.offset);
    columns.length.push(location.length);
    columns.line_offset.push(line ? line.offset : null);
    columns.line_length.push(line ? line.length : null);
    columns.size.push(entry.size === (line ?? location).length ? null : entry.size);
    columns.run.push(values.runs.indexOf(JSON.stringify([entry.run_id, entry.archived_at])));
    hashes.push(hash);
  }
  writable(columns, assertBlock, 'block');
  const json = Buffer.from(JSON.stringify(columns));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length, 0);
  return Buffer.concat([length, json, ...hashes]);
}

function entryAt(
  columns: BlockColumns,
  footer: IndexFileFooter,
  hashes: Buffer,
  i: number,
  name: string,
): ArchiveEntry {
  const broken = (what: string) => new IntegrityError(`index file ${name}: a block's entry ${i} ${what}`);
  const at = <T>(column: readonly T[], what: string): T => {
    const value = column[i];
    if (value === undefined) throw broken(`has no ${what}`);
    return value;
  };
  const [runId, archivedAt] = footer.runs[at(columns.run, 'run')] ?? [];
  const customer = footer.customers[at(columns.customer, 'customer')];
  const blob = footer.blobs[at(columns.blob, 'blob')];
  if (runId === undefined || archivedAt === undefined || customer === undefined || blob === undefined)
    throw broken('refers to a value the footer does not hold');
  const lineOffset = at(columns.line_offset, 'line offset');
  const lineLength = at(columns.line_length, 'line length');
  const range = { blob, offset: at(columns.offset, 'offset'), length: at(columns.length, 'length') };
  let location: ArchiveLocation;
  if (lineOffset === null && lineLength === null) location = { layout: 'record', ...range };
  else if (lineOffset !== null && lineLength !== null)
    location = { layout: 'segment', ...range, line: { offset: lineOffset, length: lineLength } };
  else throw broken('has half a line range');
  const created = at(columns.created, 'creation time');
  const size = at(columns.size, 'size');
  return {
    id: at(columns.ids, 'id'),
    customer_id: customer,
    created_at: typeof created === 'number' ? new Date(created).toISOString() : created,
    location,
    sha256: hashes.subarray(i * SHA256_BYTES, (i + 1) * SHA256_BYTES).toString('hex'),
    size: size ?? (location.layout === 'segment' ? location.line.length : location.length),
    archived_at: archivedAt,
    run_id: runId,
  };
}

/** The time as milliseconds when they read back as exactly this text; else the text itself. */
function compactTime(text: string): number | string {
  const ms = Date.parse(text);
  return Number.isFinite(ms) && ms >= 0 && new Date(ms).toISOString() === text ? ms : text;
}

function sha256Of(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Asserts what the encoder built is what a reader accepts: RangeError, naming each problem, if not. */
function writable(value: unknown, assert: (value: unknown) => void, what: string): void {
  try {
    assert(value);
  } catch (error) {
    throw new RangeError(
      `index file ${what} would not be readable: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

/** The distinct customers, blobs and runs of a file, each numbered by first use. */
class FileValues {
  readonly customers = new Dictionary();
  readonly blobs = new Dictionary();
  /** `[run_id, archived_at]` as JSON. */
  readonly runs = new Dictionary();
}

class Dictionary {
  readonly values: string[] = [];
  readonly #at = new Map<string, number>();

  indexOf(value: string): number {
    let at = this.#at.get(value);
    if (at === undefined) {
      at = this.values.length;
      this.values.push(value);
      this.#at.set(value, at);
    }
    return at;
  }
}

function parseJson(bytes: Buffer, name: string, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (error) {
    throw new IntegrityError(`index file ${name}: its ${what} is not JSON`, { cause: error });
  }
}

/** The value as its schema's type; IntegrityError, naming every problem, when it is not. */
function shaped<T>(
  value: unknown,
  assert: (value: unknown) => asserts value is T,
  name: string,
  what: string,
): T {
  try {
    assert(value);
    return value;
  } catch (error) {
    const problems = error instanceof Error ? error.message : String(error);
    throw new IntegrityError(`index file ${name}: its ${what} is not in its format: ${problems}`, {
      cause: error,
    });
  }
}
