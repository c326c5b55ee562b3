import { LRUCache } from 'lru-cache';
import {
  blockFor,
  compareIds,
  decodeIndexBlock,
  decodeIndexFooter,
  mayHold,
  type IndexFileBlock,
  type IndexFileFooter,
  type IndexFileItem,
} from '../../domain/index-file.js';
import type { IndexRootFile } from '../../domain/index-root.js';
import type { ArchiveStore } from '../../ports/archive-store.js';

/** Heap a decoded entry takes with its strings: 488 bytes measured by bench/index-file.mjs. */
const DECODED_ITEM_BYTES = 500;

type Cached = IndexFileFooter | IndexFileItem[];

/**
 * Reads index files through the archive store: footers and blocks, each checked against what names
 * it (root → footer → block) and cached under one memory budget. Files are immutable, so a cached
 * footer or block never goes stale; a name is never reused for other bytes.
 */
export class IndexFileReader {
  private readonly cache: LRUCache<string, Cached>;
  /** Reads under way, so look-ups that need the same footer or block at once read it once. */
  private readonly reading = new Map<string, Promise<Cached>>();

  constructor(
    private readonly store: ArchiveStore,
    cacheBytes: number,
  ) {
    this.cache = new LRUCache<string, Cached>({
      maxSize: Math.max(1, cacheBytes),
      sizeCalculation: (value) => Math.max(1, Array.isArray(value) ? itemsBytes(value) : footerBytes(value)),
    });
  }

  /** The file's footer: one ranged read of its tail, then from the cache. */
  footer(file: IndexRootFile, shard: number | null): Promise<IndexFileFooter> {
    return this.cached(`f:${file.name}`, async () => {
      const tail = await this.store.get(file.name, {
        offset: file.footer_offset,
        length: file.bytes - file.footer_offset,
      });
      return decodeIndexFooter(tail, {
        name: file.name,
        generation: file.generation,
        shard,
        footerOffset: file.footer_offset,
        footerSha256: file.footer_sha256,
      });
    });
  }

  /** A block's items in id order: one ranged read, then from the cache. */
  block(file: IndexRootFile, footer: IndexFileFooter, block: IndexFileBlock): Promise<IndexFileItem[]> {
    return this.cached(`b:${file.name}:${block.offset}`, async () => {
      const bytes = await this.store.get(file.name, { offset: block.offset, length: block.length });
      return decodeIndexBlock(bytes, block, footer, file.name);
    });
  }

  /** What the file says of `id`, or undefined when it says nothing. */
  async find(file: IndexRootFile, shard: number | null, id: string): Promise<IndexFileItem | undefined> {
    const footer = await this.footer(file, shard);
    if (!mayHold(footer, id)) return undefined;
    const block = blockFor(footer, id);
    if (!block) return undefined;
    const items = await this.block(file, footer, block);
    return itemOf(items, id);
  }

  /** The file's items with ids after `afterId` (all when undefined), in id order, block by block. */
  async *itemsAfter(
    file: IndexRootFile,
    shard: number | null,
    afterId?: string,
  ): AsyncIterable<IndexFileItem> {
    const footer = await this.footer(file, shard);
    for (const block of footer.blocks) {
      if (afterId !== undefined && compareIds(block.last, afterId) <= 0) continue;
      for (const item of await this.block(file, footer, block))
        if (afterId === undefined || compareIds(item.id, afterId) > 0) yield item;
    }
  }

  clear(): void {
    this.cache.clear();
  }

  /** The value under `key`, read once however many ask at a time. Keys say their kind ('f:' or 'b:'). */
  private async cached<T extends Cached>(key: string, read: () => Promise<T>): Promise<T> {
    const hit = this.cache.get(key) as T | undefined;
    if (hit) return hit;
    let reading = this.reading.get(key) as Promise<T> | undefined;
    if (!reading) {
      reading = read().finally(() => this.reading.delete(key));
      this.reading.set(key, reading);
    }
    const value = await reading;
    this.cache.set(key, value);
    return value;
  }
}

/** Binary search of a block's sorted items. */
function itemOf(items: readonly IndexFileItem[], id: string): IndexFileItem | undefined {
  let low = 0;
  let high = items.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const item = items[middle];
    if (!item) return undefined;
    const order = compareIds(id, item.id);
    if (order === 0) return item;
    if (order < 0) high = middle - 1;
    else low = middle + 1;
  }
  return undefined;
}

function footerBytes(footer: IndexFileFooter): number {
  const strings = [...footer.customers, ...footer.blobs].reduce((sum, text) => sum + text.length, 0);
  // The Bloom filter as base64 text, then decoded to bytes on its first use.
  const bloom = footer.bloom.bits.length * (1 + 3 / 4);
  return 2 * strings + bloom + 200 * (footer.blocks.length + footer.runs.length);
}

function itemsBytes(items: readonly IndexFileItem[]): number {
  return items.length * DECODED_ITEM_BYTES;
}
