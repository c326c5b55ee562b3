import { randomBytes } from 'node:crypto';
import pMap from 'p-map';
import { sha256Hex } from '../../domain/billing-record.js';
import type { StoredBytes } from '../../domain/cost-model.js';
import { NotFoundError, PreconditionFailedError, StoreUnavailableError } from '../../domain/errors.js';
import { compareIds, encodeIndexFile, type IndexFileItem } from '../../domain/index-file.js';
import {
  emptyIndexRoot,
  encodeIndexRoot,
  filesOf,
  generationOfRootName,
  INDEX_ROOT_PREFIX,
  indexRootName,
  newestFirst,
  nextIndexRoot,
  parseIndexRoot,
  shardOf,
  type IndexRoot,
  type IndexRootFile,
} from '../../domain/index-root.js';
import {
  type ArchiveEntry,
  type ArchiveIndex,
  type ArchiveListQuery,
  type StoredEntry,
} from '../../ports/archive-index.js';
import type { ArchiveStore } from '../../ports/archive-store.js';
import { IndexFileReader } from './index-file-reader.js';

/** Where index files live, one folder per shard. */
const FILES_PREFIX = 'index/files/';
/** Commits lost to other writers in a row before a change gives up (each loss is another's progress). */
const MAX_COMMIT_ATTEMPTS = 50;
/** Parallel reads when a call looks up many ids. */
const READ_CONCURRENCY = 16;
/** Parallel uploads of a commit's files. */
const WRITE_CONCURRENCY = 8;

export interface BlobArchiveIndexOptions {
  /** Shards of a new index; an existing index keeps the count it was made with. */
  shards: number;
  /** Memory for cached footers and blocks. */
  cacheBytes: number;
  now?: () => Date;
}

/** One shard's new word on some ids, as a commit plans it. */
interface ShardWords {
  shard: number;
  items: IndexFileItem[];
}

/** What a change found at the root it read: words to commit (none: nothing to change), and its answer. */
interface CommitPlan<T> {
  words: ShardWords[];
  answer: () => T;
}

/**
 * ArchiveIndex kept as files in the archive store (`index/`): per shard a base and deltas, and a
 * numbered root naming them. A change uploads its files, then commits by creating the next root,
 * create-only; when another writer took that generation first, the change is planned again on the
 * newer root, so its conditions (ifMatch, repoint's "still unchanged") hold at the generation it
 * commits. Every call looks for a newer root first, so an entry committed or withdrawn by another
 * process is seen as soon as that commit returned.
 */
export class BlobArchiveIndex implements ArchiveIndex {
  private readonly reader: IndexFileReader;
  private readonly now: () => Date;
  private root: IndexRoot;

  constructor(
    private readonly store: ArchiveStore,
    private readonly options: BlobArchiveIndexOptions,
  ) {
    this.reader = new IndexFileReader(store, options.cacheBytes);
    this.now = options.now ?? (() => new Date());
    this.root = emptyIndexRoot(options.shards);
  }

  async init(): Promise<void> {
    let newest = 0;
    for await (const blob of this.store.list(INDEX_ROOT_PREFIX))
      newest = Math.max(newest, generationOfRootName(blob.name) ?? 0);
    this.root = newest > 0 ? await this.readRoot(newest) : emptyIndexRoot(this.options.shards);
  }

  close(): Promise<void> {
    this.reader.clear();
    return Promise.resolve();
  }

  async get(id: string): Promise<StoredEntry | undefined> {
    return this.lookUp(await this.latest(), id);
  }

  async getMany(ids: readonly string[]): Promise<(StoredEntry | undefined)[]> {
    if (ids.length === 0) return [];
    const root = await this.latest();
    const unique = [...new Set(ids)];
    const found = await pMap(unique, (id) => this.lookUp(root, id), { concurrency: READ_CONCURRENCY });
    const byId = new Map(unique.map((id, i) => [id, found[i]]));
    return ids.map((id) => byId.get(id));
  }

  async putMany(entries: readonly ArchiveEntry[]): Promise<StoredEntry[]> {
    if (entries.length === 0) return [];
    // One word per id: the last entry given for an id is the one stored.
    const last = new Map(entries.map((entry) => [entry.id, entry]));
    return this.commit((root, generation) => {
      const words = new Map<number, IndexFileItem[]>();
      for (const entry of last.values()) {
        const shard = shardOf(entry.id, root.shards.length);
        const items = words.get(shard) ?? [];
        items.push({ id: entry.id, entry, version: generation });
        words.set(shard, items);
      }
      return Promise.resolve({
        words: [...words].map(([shard, items]) => ({ shard, items })),
        answer: () =>
          entries.map((entry) => ({ ...(last.get(entry.id) ?? entry), etag: etagOf(generation) })),
      });
    });
  }

  repoint(from: StoredEntry, to: ArchiveEntry): Promise<StoredEntry | undefined> {
    return this.commit(async (root, generation) => {
      const now = await this.lookUp(root, from.id);
      if (now?.etag !== from.etag) return { words: [], answer: () => undefined };
      const entry = { ...to, id: from.id };
      return {
        words: [
          {
            shard: shardOf(from.id, root.shards.length),
            items: [{ id: from.id, entry, version: generation }],
          },
        ],
        answer: (): StoredEntry => ({ ...entry, etag: etagOf(generation) }),
      };
    });
  }

  withdraw(id: string, ifMatch?: string): Promise<StoredEntry | undefined> {
    return this.commit(async (root) => {
      const now = await this.lookUp(root, id);
      if (!now) return { words: [], answer: () => undefined };
      if (ifMatch !== undefined && now.etag !== ifMatch)
        throw new PreconditionFailedError(`archive entry ${id} changed since it was read`);
      return {
        words: [{ shard: shardOf(id, root.shards.length), items: [{ id, withdrawn: true }] }],
        answer: () => now,
      };
    });
  }

  async list(query: ArchiveListQuery): Promise<StoredEntry[]> {
    const page: StoredEntry[] = [];
    if (query.limit <= 0) return page;
    for await (const entry of this.entries(await this.latest(), query)) {
      if (!matches(entry, query)) continue;
      page.push(entry);
      if (page.length >= query.limit) break;
    }
    return page;
  }

  async summary(): Promise<{ count: number; bytes: number }> {
    let count = 0;
    let bytes = 0;
    for await (const entry of this.entries(await this.latest(), {})) {
      count += 1;
      bytes += entry.size;
    }
    return { count, bytes };
  }

  async storage(): Promise<StoredBytes> {
    const root = await this.latest();
    const files = filesOf(root).reduce((sum, file) => sum + file.bytes, 0);
    const rootBytes = root.generation > 0 ? encodeIndexRoot(root).length : 0;
    return { bytes: files + rootBytes, from: 'counted' };
  }

  ping(): Promise<void> {
    return this.store.ping();
  }

  /** The newest committed root: the one known, unless the store holds later ones. */
  private async latest(): Promise<IndexRoot> {
    for (;;) {
      const next = await this.tryReadRoot(this.root.generation + 1);
      if (!next) return this.root;
      if (next.generation > this.root.generation) this.root = next;
    }
  }

  private async tryReadRoot(generation: number): Promise<IndexRoot | undefined> {
    try {
      return await this.readRoot(generation);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  private async readRoot(generation: number): Promise<IndexRoot> {
    const name = indexRootName(generation);
    return parseIndexRoot(await this.store.get(name), name);
  }

  /** The entry `root` holds for `id`: the shard's files asked newest first, the first word wins. */
  private async lookUp(root: IndexRoot, id: string): Promise<StoredEntry | undefined> {
    const shard = shardOf(id, root.shards.length);
    const files = root.shards[shard];
    if (!files) return undefined;
    for (const file of newestFirst(files)) {
      const item = await this.reader.find(file, shard, id);
      if (item) return storedOf(item);
    }
    return undefined;
  }

  /**
   * Plans the change on the newest root, uploads its files and commits the next root; planned again
   * on the newer root whenever another writer committed first.
   */
  private async commit<T>(plan: (root: IndexRoot, generation: number) => Promise<CommitPlan<T>>): Promise<T> {
    for (let attempt = 1; attempt <= MAX_COMMIT_ATTEMPTS; attempt++) {
      const root = await this.latest();
      const generation = root.generation + 1;
      const { words, answer } = await plan(root, generation);
      if (words.length === 0) return answer();
      const deltas = await pMap(
        words,
        async ({ shard, items }) => {
          const encoded = encodeIndexFile(items, { generation, shard });
          const name = indexFileName(shard, generation);
          await this.store.putIfAbsent(name, encoded.bytes, { sha256: sha256Hex(encoded.bytes) });
          const file = {
            name,
            bytes: encoded.bytes.length,
            footer_offset: encoded.footerOffset,
            footer_sha256: encoded.footerSha256,
            entries: encoded.footer.entries,
            withdrawn: encoded.footer.withdrawn,
          };
          return { shard, file };
        },
        { concurrency: WRITE_CONCURRENCY },
      );
      const next = nextIndexRoot(root, { deltas }, this.now());
      if (await this.createRoot(next)) {
        if (next.generation > this.root.generation) this.root = next;
        return answer();
      }
      // Another writer took the generation: these files are named by no root, now or ever.
      await Promise.all(deltas.map(({ file }) => this.store.delete(file.name)));
    }
    throw new StoreUnavailableError(
      `archive index: ${MAX_COMMIT_ATTEMPTS} commits in a row lost to other writers; try again`,
    );
  }

  /** Creates the root, create-only; true when this one is stored, also when an answer was lost and a retry found it. */
  private async createRoot(root: IndexRoot): Promise<boolean> {
    const name = indexRootName(root.generation);
    const bytes = encodeIndexRoot(root);
    const { created } = await this.store.putIfAbsent(name, bytes, { sha256: sha256Hex(bytes) });
    if (created) return true;
    // A root names files with random names, so the same bytes can only be this writer's own.
    return (await this.store.get(name)).equals(bytes);
  }

  /**
   * Every entry of `root` with an id after `afterId`, in id order: each shard's files merged (the
   * newest word on an id wins, withdrawals hide it), then the shards merged.
   */
  private async *entries(
    root: IndexRoot,
    query: Omit<ArchiveListQuery, 'limit'>,
  ): AsyncIterable<StoredEntry> {
    const shards = await pMap(
      root.shards.entries(),
      async ([shard, files]) => {
        const newest = newestFirst(files);
        if (!(await this.mayHold(newest, shard, query))) return undefined;
        return mergeNewestFirst(newest.map((file) => this.reader.itemsAfter(file, shard, query.afterId)));
      },
      { concurrency: READ_CONCURRENCY },
    );
    yield* mergeInIdOrder(shards.filter((stream) => stream !== undefined));
  }

  /**
   * Whether any of a shard's files may hold an entry of the customer or blob asked for: footers
   * list each once. An entry a shard stands by is in one of its files, so a shard none of whose
   * files names them holds none.
   */
  private async mayHold(
    files: readonly IndexRootFile[],
    shard: number,
    query: Pick<ArchiveListQuery, 'customerId' | 'blob'>,
  ): Promise<boolean> {
    const { customerId, blob } = query;
    if (customerId === undefined && blob === undefined) return true;
    for (const file of files) {
      const footer = await this.reader.footer(file, shard);
      if (
        (customerId === undefined || footer.customers.includes(customerId)) &&
        (blob === undefined || footer.blobs.includes(blob))
      )
        return true;
    }
    return false;
  }
}

/**
 * Merges sorted item streams given newest first into one sorted stream of what stands for each id:
 * the first stream's word on an id wins, and a withdrawal leaves nothing.
 */
async function* mergeNewestFirst(streams: AsyncIterable<IndexFileItem>[]): AsyncIterable<StoredEntry> {
  const cursors = await Promise.all(streams.map((stream) => Cursor.open(stream)));
  for (;;) {
    let smallest: string | undefined;
    for (const cursor of cursors)
      if (cursor.head && (smallest === undefined || compareIds(cursor.head.id, smallest) < 0))
        smallest = cursor.head.id;
    if (smallest === undefined) return;
    let word: IndexFileItem | undefined;
    for (const cursor of cursors) {
      if (cursor.head?.id !== smallest) continue;
      word ??= cursor.head;
      await cursor.advance();
    }
    const stored = word && storedOf(word);
    if (stored) yield stored;
  }
}

/** Merges entry streams sorted by id, which share no id, into one. */
async function* mergeInIdOrder(streams: AsyncIterable<StoredEntry>[]): AsyncIterable<StoredEntry> {
  const cursors = await Promise.all(streams.map((stream) => Cursor.open(stream)));
  for (;;) {
    let next: Cursor<StoredEntry> | undefined;
    for (const cursor of cursors)
      if (cursor.head && (!next?.head || compareIds(cursor.head.id, next.head.id) < 0)) next = cursor;
    if (!next?.head) return;
    yield next.head;
    await next.advance();
  }
}

/** A sorted stream and its current item. */
class Cursor<T> {
  private constructor(
    private readonly iterator: AsyncIterator<T>,
    public head: T | undefined,
  ) {}

  static async open<T>(stream: AsyncIterable<T>): Promise<Cursor<T>> {
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    return new Cursor(iterator, first.done ? undefined : first.value);
  }

  async advance(): Promise<void> {
    const next = await this.iterator.next();
    this.head = next.done ? undefined : next.value;
  }
}

function matches(entry: StoredEntry, query: ArchiveListQuery): boolean {
  return (
    (query.customerId === undefined || entry.customer_id === query.customerId) &&
    (query.blob === undefined || entry.location.blob === query.blob) &&
    (query.createdBefore === undefined || entry.created_at < query.createdBefore)
  );
}

function storedOf(item: IndexFileItem): StoredEntry | undefined {
  return 'entry' in item ? { ...item.entry, etag: etagOf(item.version) } : undefined;
}

/** A version is told by the generation that stored it: one word on an id per shard per commit. */
function etagOf(generation: number): string {
  return `g${generation}`;
}

/**
 * A new file's name: its shard and generation, and random bytes, so a commit retried after losing
 * its generation (or a writer's lost answer) never names another's file.
 */
function indexFileName(shard: number, generation: number): string {
  const digits = String(generation).padStart(12, '0');
  return `${FILES_PREFIX}${String(shard).padStart(4, '0')}/${digits}-${randomBytes(6).toString('hex')}.baix`;
}
