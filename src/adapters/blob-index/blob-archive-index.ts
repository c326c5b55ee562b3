import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { isDeepStrictEqual } from 'node:util';
import pMap from 'p-map';
import { sha256Hex } from '../../domain/billing-record.js';
import type { StoredBytes } from '../../domain/cost-model.js';
import {
  compareCreation,
  compareText,
  type CreationKey,
  type CreationOrder,
} from '../../domain/creation-order.js';
import {
  IndexRebuildingError,
  IntegrityError,
  NotFoundError,
  PreconditionFailedError,
  StoreUnavailableError,
  ValidationError,
} from '../../domain/errors.js';
import { compareIds, IndexFileWriter, type IndexFileItem } from '../../domain/index-file.js';
import {
  emptiedIndexRoot,
  emptyIndexRoot,
  encodeIndexRoot,
  filesOf,
  filesToMerge,
  journalNewestFirst,
  indexFileName,
  indexRootName,
  countsChange,
  countsFallShort,
  countsOf,
  type CountedEntry,
  type CountsChange,
  newestFirst,
  nextIndexRoot,
  INDEX_FILES_PREFIX,
  INDEX_ROOT_PREFIX,
  generationOfFileName,
  generationOfRootName,
  parseIndexRoot,
  shardOf,
  type IndexCounts,
  type IndexRebuild,
  type IndexRoot,
  type IndexRootFile,
} from '../../domain/index-root.js';
import {
  type ArchiveEntry,
  type ArchiveIndex,
  type ArchiveListQuery,
  type IndexCountCheck,
  type IndexReadOptions,
  type IndexUpkeep,
  type MonthSummary,
  type StoredEntry,
} from '../../ports/archive-index.js';
import type { ArchiveStore, BlobInfo } from '../../ports/archive-store.js';
import { IndexFileReader } from './index-file-reader.js';

/** Commits lost to other writers in a row before a change gives up (each loss is another's progress). */
const MAX_COMMIT_ATTEMPTS = 50;
/** A fold is maintenance: when other writers keep winning, the next commit folds instead. */
const MAX_FOLD_ATTEMPTS = 3;
/** Parallel reads when a call looks up many ids. */
const READ_CONCURRENCY = 16;
/** Parallel uploads of a fold's files. */
const WRITE_CONCURRENCY = 8;
/**
 * Index files are replaced within minutes or days, and read by every look-up: Hot, whatever tier
 * the archive uploads in (Cool and Cold bill 30 and 90 days however soon a blob goes; Archive is offline).
 */
const INDEX_TIER = 'Hot';

export interface BlobArchiveIndexOptions {
  /** Shards of a new index; an existing index keeps the count it was made with. */
  shards: number;
  /** Memory for cached footers and blocks. */
  cacheBytes: number;
  /**
   * Journal items a shard's share must reach before a writer folds the journal into the shards:
   * each fold then gives a shard a delta of about this many items.
   */
  foldItemsPerShard?: number;
  /**
   * How long a superseded root is kept before `pruneRoots` may delete it. A reader that found the
   * newest root less than a quarter of this ago trusts a missing next root to mean none was
   * committed; one idle for longer lists the roots instead (see `latest`).
   */
  rootRetentionMs?: number;
  /**
   * Told of maintenance that failed after the change it followed was committed: a fold (the next
   * commit tries again) or deleting files a commit replaced (left as orphans).
   */
  onMaintenanceError?: (error: unknown, what: string) => void;
  now?: () => Date;
}

const NEVER = { wall: -Infinity, monotonic: -Infinity } as const;
/** A withdrawal folds once the journal holds this many times the fold size. */
const WITHDRAWAL_FOLD_FACTOR = 4;

/** Folds once a shard's share of the journal is about a few blocks. */
export const DEFAULT_FOLD_ITEMS_PER_SHARD = 2048;
/**
 * An hour: far longer than a read or commit takes. Roots are pruned after each archival run, so what
 * accumulates between runs is one small root per change made through the API.
 */
export const DEFAULT_ROOT_RETENTION_MS = 60 * 60 * 1000;

/**
 * What a change found at the root it read: words to commit (none: nothing to change), what they
 * add to the counts, and its answer.
 */
interface CommitPlan<T> {
  words: IndexFileItem[];
  counts: CountsChange;
  answer: () => T;
}

const NO_CHANGE: CountsChange = { entries: 0, bytes: 0, months: {} };

/**
 * ArchiveIndex kept as files in the archive store (`index/`, see index-root.ts): a journal and per
 * shard a base and deltas, named by a numbered root. A change merges its words into one journal
 * file (with the journal's newest files, as the logarithmic method says), then commits by creating
 * the next root, create-only; when another writer took that generation first, the change is
 * planned again on the newer root, so its conditions (ifMatch, repoint's "still unchanged") hold at
 * the generation it commits. Once the journal is big enough, the writer folds it into the shards.
 * Every call first looks for a newer root, so what another process committed is seen as soon as
 * its commit returned; a file a newer root replaced (and its writer deleted) sends a read to that root.
 */
export class BlobArchiveIndex implements ArchiveIndex {
  private readonly reader: IndexFileReader;
  private readonly now: () => Date;
  private readonly foldItemsPerShard: number;
  private readonly rootRetentionMs: number;
  private root: IndexRoot;
  /**
   * When `root` was last seen to be the newest (its successor missing), by `now` and by the
   * monotonic clock: idle time is the longer of the two, so neither a clock stepped back nor a
   * frozen test clock hides it.
   */
  private confirmed = NEVER;
  /** This instance's commits, one after another: run side by side, they would only lose to each other. */
  private commits: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: ArchiveStore,
    private readonly options: BlobArchiveIndexOptions,
  ) {
    this.reader = new IndexFileReader(store, options.cacheBytes);
    this.now = options.now ?? (() => new Date());
    this.foldItemsPerShard = options.foldItemsPerShard ?? DEFAULT_FOLD_ITEMS_PER_SHARD;
    this.rootRetentionMs = options.rootRetentionMs ?? DEFAULT_ROOT_RETENTION_MS;
    this.root = emptyIndexRoot(options.shards);
  }

  /** What commits leave behind, found and removed by `verify --repair` and after archival runs. */
  readonly upkeep: IndexUpkeep = {
    orphans: () => this.orphanFiles(),
    removeOrphan: (name) => this.removeOrphan(name),
    pruneRoots: () => this.pruneRoots(),
    checkCounts: ({ repair }) => this.checkCounts(repair),
    rebuildUnderWay: async () => (await this.latest()).rebuild,
    beginRebuild: (rebuild) => this.beginRebuild(rebuild),
    endRebuild: () => this.endRebuild(),
  };

  /** Finds the newest root by listing the roots, as a reader idle for long does. */
  async init(): Promise<void> {
    this.root = emptyIndexRoot(this.options.shards);
    this.confirmed = NEVER;
    await this.latest();
  }

  close(): Promise<void> {
    this.reader.clear();
    return Promise.resolve();
  }

  get(id: string, options: IndexReadOptions = {}): Promise<StoredEntry | undefined> {
    return this.reading(async (root) => {
      const found = await this.lookUp(root, id);
      if (!found) refuseWhileRebuilding(root, options);
      return found;
    });
  }

  getMany(ids: readonly string[], options: IndexReadOptions = {}): Promise<(StoredEntry | undefined)[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.reading(async (root) => {
      const unique = [...new Set(ids)];
      const found = await pMap(unique, (id) => this.lookUp(root, id), { concurrency: READ_CONCURRENCY });
      if (found.includes(undefined)) refuseWhileRebuilding(root, options);
      const byId = new Map(unique.map((id, i) => [id, found[i]]));
      return ids.map((id) => byId.get(id));
    });
  }

  async putMany(entries: readonly ArchiveEntry[]): Promise<StoredEntry[]> {
    if (entries.length === 0) return [];
    // One word per id: the last entry given for an id is the one stored.
    const last = new Map(entries.map((entry) => [entry.id, entry]));
    return this.commit({ foldAt: 1 }, async (root, generation) => {
      const standing = [...last.values()];
      // What each replaces, for the counts: the blocks are the ones the caller's getMany just read.
      const before = await pMap(standing, (entry) => this.lookUp(root, entry.id), {
        concurrency: READ_CONCURRENCY,
      });
      return {
        words: standing.map((entry) => ({ id: entry.id, entry, version: generation })),
        counts: countsChange(standing, before),
        answer: () =>
          entries.map((entry) => ({ ...(last.get(entry.id) ?? entry), etag: etagOf(root, generation) })),
      };
    });
  }

  repoint(from: StoredEntry, to: ArchiveEntry): Promise<StoredEntry | undefined> {
    return this.commit({ foldAt: 1 }, async (root, generation) => {
      const now = await this.lookUp(root, from.id);
      if (now?.etag !== from.etag) return { words: [], counts: NO_CHANGE, answer: () => undefined };
      const entry = { ...to, id: from.id };
      return {
        words: [{ id: from.id, entry, version: generation }],
        counts: countsChange([entry], [now]),
        answer: (): StoredEntry => ({ ...entry, etag: etagOf(root, generation) }),
      };
    });
  }

  /**
   * Withdrawals come mostly from API requests (restore, update, delete of an archived record): they
   * fold only once the journal is several times the fold size, so a client seldom waits for one,
   * and the next upsert or repoint (a run's) folds what is due. Only so many, since a retention
   * sweep withdraws thousands in a row and the journal must stay small.
   */
  withdraw(id: string, ifMatch?: string): Promise<StoredEntry | undefined> {
    return this.commit({ foldAt: WITHDRAWAL_FOLD_FACTOR }, async (root) => {
      const now = await this.lookUp(root, id);
      if (!now) return { words: [], counts: NO_CHANGE, answer: () => undefined };
      if (ifMatch !== undefined && now.etag !== ifMatch)
        throw new PreconditionFailedError(`archive entry ${id} changed since it was read`);
      return {
        words: [{ id, withdrawn: true }],
        counts: countsChange([], [now]),
        answer: () => now,
      };
    });
  }

  list(query: ArchiveListQuery): Promise<StoredEntry[]> {
    return this.reading(async (root) => {
      refuseWhileRebuilding(root, query);
      const page: StoredEntry[] = [];
      if (query.limit <= 0) return page;
      if (query.byCreation) return this.listByCreation(root, query, query.byCreation);
      for await (const entry of this.entries(root, query)) {
        if (!matches(entry, query)) continue;
        page.push(entry);
        if (page.length >= query.limit) break;
      }
      return page;
    });
  }

  /**
   * Files keep entries in id order, so a page in creation order reads every entry the query may
   * match (only the shards whose footers name the customer, when one is asked for) and keeps the
   * first `limit` after the key: memory for a page, reads for the matching shards.
   */
  private async listByCreation(
    root: IndexRoot,
    query: ArchiveListQuery,
    order: CreationOrder,
  ): Promise<StoredEntry[]> {
    const { after } = order;
    const kept: StoredEntry[] = [];
    const byCreation = (a: StoredEntry, b: StoredEntry) => compareCreation(keyOf(a), keyOf(b));
    for await (const entry of this.entries(root, { ...query, afterId: undefined })) {
      if (!matches(entry, query) || (after && compareCreation(keyOf(entry), after) <= 0)) continue;
      kept.push(entry);
      if (kept.length >= 2 * query.limit) kept.sort(byCreation).splice(query.limit);
    }
    return kept.sort(byCreation).slice(0, query.limit);
  }

  /** Kept in the root by every commit: no scan. */
  async summary(): Promise<{ count: number; bytes: number }> {
    const { counts } = await this.latest();
    return { count: counts.entries, bytes: counts.bytes };
  }

  /**
   * Kept in the root by every commit since roots had format 3. A root older than that keeps none,
   * and its months are counted from a scan until `verify --repair` recounts them into the root.
   */
  summaryByMonth(): Promise<MonthSummary[]> {
    return this.reading(async (root) => {
      const months = root.counts.months ?? (await this.recount(root)).months;
      return Object.entries(months).map(([month, { entries, bytes }]) => ({ month, count: entries, bytes }));
    });
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

  /**
   * The newest committed root. Roots are made one after another, and pruned oldest first, so the
   * generations kept are contiguous: a reader that knows root N looks for N+1, and when it is there
   * (an idle replica while a run committed thousands) finds the newest by steps that double and
   * then halve, a logarithmic number of reads, and parses only that one.
   *
   * A missing N+1 means none was committed only while N+1 cannot have been pruned meanwhile: a
   * root is pruned only once the next one is older than the retention, so a reader that saw N
   * newest less than a quarter of the retention ago trusts it (the rest is room for a store's
   * clock and a pruner's to disagree, which Azure bounds at 15 minutes by refusing requests
   * dated further off). A reader idle for longer, or opening, lists the roots first (pruning keeps
   * that listing short).
   */
  private async latest(): Promise<IndexRoot> {
    const asked = { wall: this.now().getTime(), monotonic: performance.now() };
    const idle = Math.max(asked.wall - this.confirmed.wall, asked.monotonic - this.confirmed.monotonic);
    let known = this.root;
    if (idle > this.rootRetentionMs / 4) known = await this.newestListed(known);
    const found = await this.newestFrom(known);
    // Calls overlap: keep the newest root any of them found, and when it was last seen newest.
    if (found.generation > this.root.generation) {
      this.root = found;
      this.confirmed = asked;
    } else if (found.generation === this.root.generation) {
      this.confirmed = {
        wall: Math.max(this.confirmed.wall, asked.wall),
        monotonic: Math.max(this.confirmed.monotonic, asked.monotonic),
      };
    }
    return this.root;
  }

  /** The newest root from `known` on, by probing the generations after it. */
  private async newestFrom(known: IndexRoot): Promise<IndexRoot> {
    const start = known.generation;
    const next = await this.tryReadRoot(start + 1);
    if (!next) return known;
    let found = start + 1;
    let missing: number | undefined;
    for (let step = 2; missing === undefined; step *= 2) {
      if (await this.tryGet(indexRootName(start + step))) found = start + step;
      else missing = start + step;
    }
    while (missing - found > 1) {
      const middle = Math.floor((found + missing) / 2);
      if (await this.tryGet(indexRootName(middle))) found = middle;
      else missing = middle;
    }
    return found === next.generation ? next : this.readRoot(found);
  }

  /** The newest root the store lists, when newer than `known`. */
  private async newestListed(known: IndexRoot): Promise<IndexRoot> {
    let newest = 0;
    for await (const blob of this.store.list(INDEX_ROOT_PREFIX))
      newest = Math.max(newest, generationOfRootName(blob.name) ?? 0);
    return newest > known.generation ? this.readRoot(newest) : known;
  }

  /**
   * Deletes roots superseded longer than the retention ago, oldest first and one at a time, so
   * the roots kept stay contiguous at every instant. The next root's time in the store (roots are
   * never rewritten: when it was made) says since when a root is superseded; the listing comes in
   * name order, which is generation order.
   */
  private async pruneRoots(): Promise<number> {
    const newest = await this.latest();
    const cutoff = this.now().getTime() - this.rootRetentionMs;
    const roots: { generation: number; madeAt: number }[] = [];
    for await (const blob of this.store.list(INDEX_ROOT_PREFIX)) {
      const generation = generationOfRootName(blob.name);
      if (generation !== undefined) roots.push({ generation, madeAt: blob.lastModified.getTime() });
    }
    let pruned = 0;
    for (const [i, root] of roots.entries()) {
      const next = roots[i + 1];
      // Never the newest this pruner knows, nor any made since it looked.
      if (root.generation >= newest.generation || next === undefined || next.madeAt > cutoff) break;
      await this.store.delete(indexRootName(root.generation));
      pruned += 1;
    }
    return pruned;
  }

  /**
   * Counts the entries of one generation and compares them with what its root keeps; with
   * `repair`, commits the next generation with the counted figures (the same files), again on a
   * newer root if another writer committed first.
   */
  private async checkCounts(repair: boolean): Promise<IndexCountCheck> {
    for (let attempt = 1; attempt <= MAX_COMMIT_ATTEMPTS; attempt++) {
      const { root, counted } = await this.reading(async (root) => ({
        root,
        counted: await this.recount(root),
      }));
      const { counts } = root;
      const check = {
        kept: { count: counts.entries, bytes: counts.bytes },
        counted: { count: counted.entries, bytes: counted.bytes },
        months:
          counts.months === undefined
            ? 'not kept'
            : isDeepStrictEqual(counts.months, counted.months)
              ? 'agree'
              : 'differ',
        repaired: false,
      } as const;
      if (
        !repair ||
        (counted.entries === counts.entries && counted.bytes === counts.bytes && check.months === 'agree')
      )
        return check;
      if (await this.commitRoot(root, nextIndexRoot(root, { recount: counted }, this.now()), [], []))
        return { ...check, repaired: true };
      await backOff(attempt);
    }
    throw new StoreUnavailableError(
      `archive index: ${MAX_COMMIT_ATTEMPTS} recounts in a row lost to other writers; try again`,
    );
  }

  /**
   * Empties the index for a rebuild, marked as rebuilding (same index id, so readers move on to it
   * as to any commit), then deletes every file no root names any more: the files the emptied root
   * replaced, and the orphans. A writer that planned on the root before plans again on the empty one.
   */
  private async beginRebuild(rebuild: IndexRebuild): Promise<number> {
    const replaced = await this.commitOver('empty it', (root) => ({
      next: emptiedIndexRoot(root, rebuild, this.now()),
      replaced: filesOf(root),
    }));
    const orphans = await this.orphanFiles();
    for (const orphan of orphans) await this.store.delete(orphan.name);
    return replaced.length + orphans.length;
  }

  private async endRebuild(): Promise<void> {
    await this.commitOver('end its rebuild', (root) => ({
      next: nextIndexRoot(root, { endRebuild: true }, this.now()),
      replaced: [],
    }));
  }

  /**
   * Commits the root `change` makes of the newest one, naming no new file, again on a newer root
   * while other writers commit first; the files it replaced.
   */
  private async commitOver(
    what: string,
    change: (root: IndexRoot) => { next: IndexRoot; replaced: IndexRootFile[] },
  ): Promise<IndexRootFile[]> {
    for (let attempt = 1; attempt <= MAX_COMMIT_ATTEMPTS; attempt++) {
      if (attempt > 1) await backOff(attempt);
      const root = await this.latest();
      const { next, replaced } = change(root);
      if (await this.commitRoot(root, next, [], replaced)) return replaced;
    }
    throw new StoreUnavailableError(
      `archive index: ${MAX_COMMIT_ATTEMPTS} attempts in a row to ${what} lost to other writers; try again`,
    );
  }

  /** The counts of every entry `root` holds, from a scan of its files. */
  private async recount(root: IndexRoot): Promise<Required<IndexCounts>> {
    const sizes: CountedEntry[] = [];
    for await (const { created_at, size } of this.entries(root, {})) sizes.push({ created_at, size });
    return countsOf(sizes);
  }

  /**
   * Index files no root names, nor ever will: written for a generation the newest root (read after
   * the listing) has reached, and not named by it. Files of later generations may be a commit in
   * flight, and are left alone.
   */
  private async orphanFiles(): Promise<BlobInfo[]> {
    const listed: BlobInfo[] = [];
    for await (const blob of this.store.list(INDEX_FILES_PREFIX)) listed.push(blob);
    const root = await this.latest();
    return listed.filter((blob) => isOrphan(root, blob.name));
  }

  private async removeOrphan(name: string): Promise<void> {
    if (!isOrphan(await this.latest(), name))
      throw new ValidationError(`${name} is not an index file no root names`);
    await this.store.delete(name);
  }

  private async tryReadRoot(generation: number): Promise<IndexRoot | undefined> {
    const name = indexRootName(generation);
    const bytes = await this.tryGet(name);
    return bytes && parseIndexRoot(bytes, name);
  }

  private async tryGet(name: string): Promise<Buffer | undefined> {
    try {
      return await this.store.get(name);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  private async readRoot(generation: number): Promise<IndexRoot> {
    const name = indexRootName(generation);
    return parseIndexRoot(await this.store.get(name), name);
  }

  /**
   * Runs `work` on the newest root, and again on a newer one when a file it read was gone: replaced
   * and deleted by a commit meanwhile. A file gone while its root is still the newest is damage.
   */
  private async reading<T>(work: (root: IndexRoot) => Promise<T>): Promise<T> {
    for (;;) {
      const root = await this.latest();
      try {
        return await work(root);
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
        if ((await this.latest()).generation === root.generation)
          throw new IntegrityError(`archive index: a file root ${root.generation} names is missing`, {
            cause: error,
          });
      }
    }
  }

  /** The entry `root` holds for `id`: the journal, then the shard's files, newest first; the first word wins. */
  private async lookUp(root: IndexRoot, id: string): Promise<StoredEntry | undefined> {
    for (const file of journalNewestFirst(root)) {
      const item = await this.reader.find(file, null, id);
      if (item) return storedOf(root, item);
    }
    const shard = shardOf(id, root.shards.length);
    const files = root.shards[shard];
    if (!files) return undefined;
    for (const file of newestFirst(files)) {
      const item = await this.reader.find(file, shard, id);
      if (item) return storedOf(root, item);
    }
    return undefined;
  }

  /**
   * Plans the change on the newest root, writes its words (merged with the journal's newest files)
   * as one journal file and commits the next root; planned again on the newer root whenever another
   * writer committed first. Then folds the journal once it holds `foldAt` times the fold size.
   */
  private commit<T>(
    { foldAt }: { foldAt: number },
    plan: (root: IndexRoot, generation: number) => Promise<CommitPlan<T>>,
  ): Promise<T> {
    const turn = this.commits.then(
      () => this.commitNow(plan, foldAt),
      () => this.commitNow(plan, foldAt),
    );
    this.commits = turn.catch(() => undefined);
    return turn;
  }

  private async commitNow<T>(
    plan: (root: IndexRoot, generation: number) => Promise<CommitPlan<T>>,
    foldAt: number,
  ): Promise<T> {
    for (let attempt = 1; attempt <= MAX_COMMIT_ATTEMPTS; attempt++) {
      if (attempt > 1) await backOff(attempt);
      const root = await this.latest();
      const generation = root.generation + 1;
      let file: NewIndexFile;
      let replaced: IndexRootFile[];
      let answer: () => T;
      let counts: CountsChange;
      try {
        const planned = await plan(root, generation);
        answer = planned.answer;
        counts = planned.counts;
        if (planned.words.length === 0) return answer();
        replaced = root.journal.slice(root.journal.length - filesToMerge(root.journal, planned.words.length));
        file = await this.write(
          [sorted(planned.words), ...[...replaced].reverse().map((f) => this.reader.itemsAfter(f, null))],
          { generation, shard: null, keepWithdrawals: true },
        );
      } catch (error) {
        // A file the plan read was replaced meanwhile: plan again on the newer root.
        await this.unlessReplaced(error, root);
        continue;
      }
      const change = { journal: { file, replaces: replaced.map((f) => f.name) }, counts };
      if (countsFallShort(root, change))
        this.options.onMaintenanceError?.(
          new IntegrityError(
            `archive index: root ${root.generation} counts fewer entries than a change withdraws`,
          ),
          'keeping the entry counts (they stop at zero)',
        );
      if (await this.commitRoot(root, nextIndexRoot(root, change, this.now()), [file], replaced)) {
        await this.foldIfDue(foldAt);
        return answer();
      }
    }
    throw new StoreUnavailableError(
      `archive index: ${MAX_COMMIT_ATTEMPTS} commits in a row lost to other writers; try again`,
    );
  }

  /**
   * Moves the journal's words into the shards once it holds enough: per shard one file, merged
   * with the shard's newest files as the logarithmic method says (a base when it takes them all).
   * A failure is the next commit's to retry: the change before it is committed already.
   */
  private async foldIfDue(foldAt: number): Promise<void> {
    try {
      for (let attempt = 1; attempt <= MAX_FOLD_ATTEMPTS; attempt++) {
        const root = await this.latest();
        const items = root.journal.reduce((sum, f) => sum + f.entries + f.withdrawn, 0);
        if (root.journal.length === 0 || items < foldAt * this.foldItemsPerShard * root.shards.length) return;
        if (await this.fold(root)) return;
      }
    } catch (error) {
      this.options.onMaintenanceError?.(error, 'folding the journal into the shards');
    }
  }

  /** One attempt at folding `root`'s journal; false when another writer committed first. */
  private async fold(root: IndexRoot): Promise<boolean> {
    const generation = root.generation + 1;
    let words: IndexFileItem[];
    try {
      // The journal is small by design (folded at a few times the fold size at most): held whole.
      words = [];
      for await (const word of mergeNewestFirst(
        journalNewestFirst(root).map((f) => this.reader.itemsAfter(f, null)),
      ))
        words.push(word);
    } catch (error) {
      await this.unlessReplaced(error, root);
      return false;
    }
    const byShard = new Map<number, IndexFileItem[]>();
    for (const word of words) {
      const shard = shardOf(word.id, root.shards.length);
      const items = byShard.get(shard) ?? [];
      items.push(word);
      byShard.set(shard, items);
    }
    const uploaded: NewIndexFile[] = [];
    let written;
    try {
      written = await pMap(
        byShard,
        async ([shard, items]) => {
          const held = root.shards[shard];
          const files = held ? [...(held.base ? [held.base] : []), ...held.deltas] : [];
          const replaced = files.slice(files.length - filesToMerge(files, items.length));
          // A file with nothing below it needs no withdrawals: they would hide nothing.
          const base = replaced.length === files.length;
          const file = await this.write(
            [sorted(items), ...[...replaced].reverse().map((f) => this.reader.itemsAfter(f, shard))],
            { generation, shard, keepWithdrawals: !base },
          );
          uploaded.push(file);
          return { shard, file, replaced, base };
        },
        { concurrency: WRITE_CONCURRENCY, stopOnError: false },
      );
    } catch (error) {
      // No root will name what this attempt uploaded.
      await this.deleteQuietly(uploaded, 'removing the files of a fold that did not commit');
      await this.unlessReplaced(error instanceof AggregateError ? firstOf(error) : error, root);
      return false;
    }
    const change = {
      journal: { file: null, replaces: root.journal.map((f) => f.name) },
      shards: written.map(({ shard, file, replaced, base }) => ({
        shard,
        file,
        base,
        replaces: replaced.map((f) => f.name),
      })),
    };
    return this.commitRoot(
      root,
      nextIndexRoot(root, change, this.now()),
      written.map((w) => w.file),
      [...root.journal, ...written.flatMap((w) => w.replaced)],
    );
  }

  /**
   * Creates `next` (planned on `base`), create-only. When it is stored and follows `base` in the
   * chain, deletes the files it replaced (readers still on an older root go to the newer one when
   * they miss them). When another writer took the generation, or `next` took one pruned long ago,
   * deletes `written`, which no root of the chain names, now or ever.
   */
  private async commitRoot(
    base: IndexRoot,
    next: IndexRoot,
    written: NewIndexFile[],
    replaced: IndexRootFile[],
  ): Promise<boolean> {
    if (await this.createRoot(next)) {
      if (await this.follows(base, next)) {
        if (next.generation > this.root.generation) this.root = next;
        // The change is in: a file left behind here is an orphan, never a reason to report failure.
        await this.deleteQuietly(replaced, 'deleting files a commit replaced');
        return true;
      }
      // No reader looks there (they are on later roots, or list them), and the pruner must not stop at it.
      await this.deleteQuietly(
        [{ name: indexRootName(next.generation) }],
        'removing a root made off the chain',
      );
      this.confirmed = NEVER;
    }
    await this.deleteQuietly(written, 'removing the files of a commit that lost its generation');
    return false;
  }

  /**
   * Whether `next`, just created, follows `base` in the chain readers see. A free generation is
   * also one pruned long ago, when the writer planned on a root superseded for longer than the
   * retention (it stalled that long). Roots are pruned oldest first, so while `base` is still
   * stored as it was read, `next`'s generation was never taken. The first root has no base: the
   * roots of one chain share its index id.
   */
  private async follows(base: IndexRoot, next: IndexRoot): Promise<boolean> {
    if (base.generation > 0) {
      const name = indexRootName(base.generation);
      const stored = await this.tryGet(name);
      return stored !== undefined && isDeepStrictEqual(parseIndexRoot(stored, name), base);
    }
    const newest = await this.newestListed(next);
    return newest.index_id === next.index_id;
  }

  private async deleteQuietly(files: readonly { name: string }[], what: string): Promise<void> {
    const results = await Promise.allSettled(files.map((file) => this.store.delete(file.name)));
    for (const result of results)
      if (result.status === 'rejected') this.options.onMaintenanceError?.(result.reason, what);
  }

  /**
   * Returns when `error` is a file missing because a root newer than `root` replaced it (the
   * caller plans again); otherwise throws: a file the newest root names is gone, or another error.
   */
  private async unlessReplaced(error: unknown, root: IndexRoot): Promise<void> {
    if (!(error instanceof NotFoundError)) throw error;
    if ((await this.latest()).generation === root.generation)
      throw new IntegrityError(`archive index: a file root ${root.generation} names is missing`, {
        cause: error,
      });
  }

  /** Creates the root, create-only; true when this one is stored, also when an answer was lost and a retry found it. */
  private async createRoot(root: IndexRoot): Promise<boolean> {
    const name = indexRootName(root.generation);
    const bytes = encodeIndexRoot(root);
    try {
      const { created } = await this.store.putIfAbsent(name, bytes, {
        sha256: sha256Hex(bytes),
        tier: INDEX_TIER,
      });
      if (created) return true;
    } catch (error) {
      // The put may have landed though its answer was lost: the root says which.
      const stored = await this.tryGet(name);
      if (!stored) throw error;
      return stored.equals(bytes);
    }
    // A root names files with random names, so the same bytes can only be this writer's own.
    return (await this.store.get(name)).equals(bytes);
  }

  /**
   * Stores a new file of the journal (shard null) or of a shard: the words of sorted streams given
   * newest first, one per id (the first stream's), streamed block by block into the file, so a
   * merge that takes a shard's whole base never holds its decoded entries.
   */
  private async write(
    streams: Stream<IndexFileItem>[],
    {
      generation,
      shard,
      keepWithdrawals,
    }: { generation: number; shard: number | null; keepWithdrawals: boolean },
  ): Promise<NewIndexFile> {
    const writer = new IndexFileWriter({ generation, shard });
    for await (const word of mergeNewestFirst(streams))
      if (keepWithdrawals || 'entry' in word) writer.add(word);
    const encoded = writer.finish();
    const name = indexFileName(shard, generation);
    await this.store.putIfAbsent(name, encoded.bytes, { sha256: sha256Hex(encoded.bytes), tier: INDEX_TIER });
    return {
      name,
      bytes: encoded.bytes.length,
      footer_offset: encoded.footerOffset,
      footer_sha256: encoded.footerSha256,
      entries: encoded.footer.entries,
      withdrawn: encoded.footer.withdrawn,
    };
  }

  /**
   * Every entry of `root` with an id after `afterId`, in id order: the journal and every shard's
   * files merged, the newest word on an id winning. An id is only ever in the journal and its own
   * shard, so the order among different shards' files does not matter.
   */
  private async *entries(
    root: IndexRoot,
    query: Omit<ArchiveListQuery, 'limit'>,
  ): AsyncIterable<StoredEntry> {
    const shardFiles = await pMap(
      root.shards.entries(),
      async ([shard, files]) => {
        const newest = newestFirst(files);
        return (await this.mayHold(newest, shard, query))
          ? newest.map((file) => this.reader.itemsAfter(file, shard, query.afterId))
          : [];
      },
      { concurrency: READ_CONCURRENCY },
    );
    const journal = journalNewestFirst(root).map((file) => this.reader.itemsAfter(file, null, query.afterId));
    for await (const word of mergeNewestFirst([...journal, ...shardFiles.flat()])) {
      const stored = storedOf(root, word);
      if (stored) yield stored;
    }
  }

  /**
   * Whether any of a shard's files may hold an entry of the customer or blob asked for: footers
   * list each once. An entry that stands in a shard is in one of its files (or in the journal,
   * which is asked above the shards anyway), so a shard none of whose files names them holds none.
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

type NewIndexFile = Omit<IndexRootFile, 'generation'>;

/**
 * Merges sorted word streams given newest first into one sorted stream of the word that stands
 * for each id: the first stream's.
 */
async function* mergeNewestFirst(streams: Stream<IndexFileItem>[]): AsyncIterable<IndexFileItem> {
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
    if (word) yield word;
  }
}

function sorted(items: readonly IndexFileItem[]): IndexFileItem[] {
  return [...items].sort((a, b) => compareIds(a.id, b.id));
}

type Stream<T> = AsyncIterable<T> | Iterable<T>;

/** A sorted stream and its current item. */
class Cursor<T> {
  private constructor(
    private readonly iterator: AsyncIterator<T> | Iterator<T>,
    public head: T | undefined,
  ) {}

  static async open<T>(stream: Stream<T>): Promise<Cursor<T>> {
    const iterator =
      Symbol.asyncIterator in stream ? stream[Symbol.asyncIterator]() : stream[Symbol.iterator]();
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
    (query.createdFrom === undefined || compareText(entry.created_at, query.createdFrom) >= 0) &&
    (query.createdBefore === undefined || compareText(entry.created_at, query.createdBefore) < 0)
  );
}

/** Another writer won the generation: wait a little, more each time, so racing writers spread out. */
function backOff(attempt: number): Promise<void> {
  const ms = randomInt(0, Math.min(200, 5 * 2 ** Math.min(attempt, 6)));
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function firstOf(error: AggregateError): unknown {
  return (error.errors as unknown[])[0] ?? error;
}

function isOrphan(root: IndexRoot, name: string): boolean {
  const generation = generationOfFileName(name);
  return (
    generation !== undefined &&
    generation <= root.generation &&
    !filesOf(root).some((file) => file.name === name)
  );
}

function storedOf(root: IndexRoot, item: IndexFileItem): StoredEntry | undefined {
  return 'entry' in item ? { ...item.entry, etag: etagOf(root, item.version) } : undefined;
}

/**
 * A version is told by the generation that stored it (a file says one word on an id), and by the
 * index, so an index made again from scratch never repeats an etag a client holds.
 */
function etagOf(root: IndexRoot, generation: number): string {
  return `g${generation}-${root.index_id}`;
}

/**
 * A root marked as rebuilding lacks entries of archived records: a look-up there that finds
 * nothing, or a listing, would say "not archived" of a record that is. Only the rebuild reads it so.
 */
function refuseWhileRebuilding(root: IndexRoot, options: IndexReadOptions): void {
  if (root.rebuild && !options.evenIfRebuilding)
    throw new IndexRebuildingError(
      `the archive index is being rebuilt (verify --repair --rebuild-index, begun at ${root.rebuild.started_at}) and cannot yet tell whether a record is archived: try again once the rebuild has finished`,
    );
}

function keyOf(entry: StoredEntry): CreationKey {
  return { createdAt: entry.created_at, id: entry.id };
}
