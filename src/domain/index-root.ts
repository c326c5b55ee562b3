import { createHash, randomBytes } from 'node:crypto';
import { Type } from 'typebox';
import { IntegrityError } from './errors.js';
import { compileAssert } from './schema-validator.js';
import { creationMonth } from './creation-month.js';

/**
 * The root of the blob-native archive index: which files make up each shard at one generation.
 * Roots are immutable and numbered; writing generation N+1 create-only is the commit, so two
 * writers cannot both commit the same generation (the loser reads the winner's and tries again).
 * Readers take the highest generation and never see a half-made one.
 */
export const INDEX_ROOT_FORMAT = 'billing-archive.index-root/3';
/** The format before roots kept counts by creation month: still read, never written. */
const INDEX_ROOT_FORMAT_2 = 'billing-archive.index-root/2';
/** Where roots are listed from. */
export const INDEX_ROOT_PREFIX = 'index/roots/';
const GENERATION_DIGITS = 12;
const ROOT_NAME = new RegExp(`^${INDEX_ROOT_PREFIX}(\\d{${GENERATION_DIGITS}})\\.json$`);
/** Where index files are listed from: `<journal or 4-digit shard>/<generation>-<random>.baix`. */
export const INDEX_FILES_PREFIX = 'index/files/';
const FILE_NAME = new RegExp(
  `^${INDEX_FILES_PREFIX}(?:journal|\\d{4})/(\\d{${GENERATION_DIGITS}})-[0-9a-f]{12}\\.baix$`,
);
/** Shards an index may be made with: a shard is a file set rewritten whole by its compaction. */
export const MAX_INDEX_SHARDS = 4096;

/** One index file as the root knows it: enough to read its footer in one ranged read. */
export interface IndexRootFile {
  name: string;
  /** The generation that committed it. */
  generation: number;
  bytes: number;
  footer_offset: number;
  /** Of the gzipped footer: where a reader's integrity checks start. */
  footer_sha256: string;
  entries: number;
  withdrawn: number;
}

/**
 * A shard's files. Deltas are newer than the base and each newer than the one before it, so a
 * look-up asks the deltas from last to first, then the base: the first that says anything of an id
 * is right.
 */
export interface IndexShard {
  /** The file below every delta, or null before the shard's first: it holds no withdrawals. */
  base: IndexRootFile | null;
  /** Files above the base, oldest first. */
  deltas: IndexRootFile[];
}

/**
 * The index at one generation. The journal spans every shard and takes each change as it comes: it
 * is asked before any shard's files, newest first, until a fold moves its words into the shards.
 */
export interface IndexRoot {
  format: typeof INDEX_ROOT_FORMAT;
  /**
   * Random, fixed by the index's first commit and kept by every later one: versions are told
   * apart by generation within one index, and by this across an index made again from scratch.
   */
  index_id: string;
  generation: number;
  committed_at: string;
  journal: IndexRootFile[];
  shards: IndexShard[];
  /** The entries standing at this generation and their records' bytes: `summary` without a scan. */
  counts: IndexCounts;
  /**
   * Present from the root that emptied the index for a rebuild (`verify --repair --rebuild-index`)
   * to the root that ends it: until then the index lacks entries of records that are archived, so
   * a look-up that finds nothing cannot say "not archived".
   */
  rebuild?: IndexRebuild;
  /**
   * The generation of the last root that emptied the index for a rebuild, carried on by every
   * commit after it: an entry read before it and absent now went with the emptying, not with a
   * delete.
   */
  emptied_generation?: number;
}

/** A rebuild of the index under way: when and by which repair it began. */
export interface IndexRebuild {
  started_at: string;
  by: string;
}

export interface IndexCounts {
  entries: number;
  bytes: number;
  /**
   * The same by records' creation month (YYYY-MM, UTC; months with none left out). Absent on a
   * root of format 2, which did not keep them, and on every root after it until a recount.
   */
  months?: Record<string, MonthCounts>;
}

export interface MonthCounts {
  entries: number;
  bytes: number;
}

const Count = Type.Integer({ minimum: 0 });
const FileSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    generation: Type.Integer({ minimum: 1 }),
    bytes: Count,
    footer_offset: Count,
    footer_sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    entries: Count,
    withdrawn: Count,
  },
  { additionalProperties: false },
);
const RootSchema = Type.Object(
  {
    format: Type.Union([Type.Literal(INDEX_ROOT_FORMAT), Type.Literal(INDEX_ROOT_FORMAT_2)]),
    index_id: Type.String({ pattern: '^[0-9a-f]{16}$' }),
    generation: Count,
    committed_at: Type.String(),
    journal: Type.Array(FileSchema),
    shards: Type.Array(
      Type.Object(
        { base: Type.Union([FileSchema, Type.Null()]), deltas: Type.Array(FileSchema) },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_INDEX_SHARDS },
    ),
    counts: Type.Object(
      {
        entries: Count,
        bytes: Count,
        months: Type.Optional(
          Type.Record(
            Type.String({ minLength: 1 }),
            Type.Object({ entries: Count, bytes: Count }, { additionalProperties: false }),
          ),
        ),
      },
      { additionalProperties: false },
    ),
    emptied_generation: Type.Optional(Type.Integer({ minimum: 1 })),
    rebuild: Type.Optional(
      Type.Object(
        { started_at: Type.String({ minLength: 1 }), by: Type.String({ minLength: 1 }) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
/** A root as read: of either format. */
type StoredIndexRoot = Omit<IndexRoot, 'format'> & { format: string };
const assertRoot: (value: unknown) => asserts value is StoredIndexRoot = compileAssert(RootSchema, 'root');

/** The root of an index with no files yet (generation 0 is never written). */
export function emptyIndexRoot(shards: number): IndexRoot {
  if (!(Number.isInteger(shards) && shards >= 1 && shards <= MAX_INDEX_SHARDS))
    throw new RangeError(`an index has 1 to ${MAX_INDEX_SHARDS} shards`);
  return {
    format: INDEX_ROOT_FORMAT,
    index_id: randomBytes(8).toString('hex'),
    generation: 0,
    committed_at: new Date(0).toISOString(),
    journal: [],
    shards: Array.from({ length: shards }, () => ({ base: null, deltas: [] })),
    counts: { entries: 0, bytes: 0, months: {} },
  };
}

/** The blob name of generation `generation`'s root; names sort as generations do. */
export function indexRootName(generation: number): string {
  if (!(Number.isInteger(generation) && generation >= 1 && generation < 10 ** GENERATION_DIGITS))
    throw new RangeError(`a root's generation is a whole number from 1 to ${10 ** GENERATION_DIGITS - 1}`);
  return `${INDEX_ROOT_PREFIX}${String(generation).padStart(GENERATION_DIGITS, '0')}.json`;
}

/** The generation a root blob name stands for, or undefined when the name is not a root's. */
export function generationOfRootName(name: string): number | undefined {
  const match = ROOT_NAME.exec(name);
  const generation = match ? Number(match[1]) : undefined;
  return generation !== undefined && generation >= 1 ? generation : undefined;
}

/**
 * A new file's name: the journal or its shard, the generation of the root that will name it, and
 * random bytes, so a commit retried after losing its generation (or a writer's lost answer) never
 * names another's file.
 */
export function indexFileName(shard: number | null, generation: number): string {
  const place = shard === null ? 'journal' : String(shard).padStart(4, '0');
  return `${INDEX_FILES_PREFIX}${place}/${String(generation).padStart(GENERATION_DIGITS, '0')}-${randomBytes(6).toString('hex')}.baix`;
}

/**
 * The generation of the root an index file was written for, or undefined when the name is not an
 * index file's. Only that root can name it first: a file older than the newest root and not named
 * by it is named by no root, now or later.
 */
export function generationOfFileName(name: string): number | undefined {
  const match = FILE_NAME.exec(name);
  const generation = match ? Number(match[1]) : undefined;
  return generation !== undefined && generation >= 1 ? generation : undefined;
}

/** The shard an id belongs to: the first four bytes of its SHA-256, modulo the shard count. */
export function shardOf(id: string, shards: number): number {
  return createHash('sha256').update(id).digest().readUInt32BE(0) % shards;
}

type NewFile = Omit<IndexRootFile, 'generation'>;

/**
 * What one commit changes. A file merged from others replaces them: the newest of a list (journal
 * or deltas) and nothing older is kept beside it, so lists stay ordered by generation and a merged
 * file is as new as the newest word it took. A root is planned on the root it replaces, whole.
 */
export interface IndexRootChange {
  /**
   * The journal's new file, replacing the journal's newest files named (none, or a merge of them);
   * or, with `file` null, the whole journal folded into the shards.
   */
  journal?: { file: NewFile | null; replaces: readonly string[] };
  /**
   * Shards' new files: a delta replacing the shard's newest deltas named, or a base replacing the
   * shard's base and every delta (what a base merged has nothing below it, so it drops withdrawals).
   */
  shards?: readonly { shard: number; file: NewFile; replaces: readonly string[]; base: boolean }[];
  /**
   * What the change adds to the counts (negative for withdrawals), as its writer found the
   * entries it replaces at the root it planned on (see `countsChange`); none for a fold, which
   * moves words only.
   */
  counts?: CountsChange;
  /** Counts that replace the root's whole: a recount of the same files. */
  recount?: Required<IndexCounts>;
  /** Ends the rebuild the root carries; otherwise every commit carries it on. */
  endRebuild?: true;
}

/** What a change adds to each count, total and by creation month. */
export interface CountsChange {
  entries: number;
  bytes: number;
  months: Record<string, MonthCounts>;
}

/** What an entry adds to the counts: its record's size, in its record's creation month. */
export interface CountedEntry {
  created_at: string;
  size: number;
}

/** What storing `added` adds to the counts, where it replaces the entries in `replaced` (or none). */
export function countsChange(
  added: readonly CountedEntry[],
  replaced: readonly (CountedEntry | undefined)[],
): CountsChange {
  const change: CountsChange = { entries: 0, bytes: 0, months: {} };
  const count = (entry: CountedEntry, sign: 1 | -1) => {
    change.entries += sign;
    change.bytes += sign * entry.size;
    const month = (change.months[creationMonth(entry.created_at)] ??= { entries: 0, bytes: 0 });
    month.entries += sign;
    month.bytes += sign * entry.size;
  };
  for (const entry of added) count(entry, 1);
  for (const entry of replaced) if (entry) count(entry, -1);
  return change;
}

/** The counts of every entry in `entries`: a recount. */
export function countsOf(entries: Iterable<CountedEntry>): Required<IndexCounts> {
  const { entries: total, bytes, months } = countsChange([...entries], []);
  return { entries: total, bytes, months: sortedMonths(months) };
}

/**
 * The next generation's root: `root` with `change` applied, committed at `committedAt`. Throws when
 * a file is added under a name the root holds, when a change names files that are not the ones it
 * may replace, or when one commit gives a shard two files (a version is told by its generation, so
 * a shard gets one word on an id per commit).
 */
export function nextIndexRoot(root: IndexRoot, change: IndexRootChange, committedAt: Date): IndexRoot {
  const generation = root.generation + 1;
  const held = new Set(filesOf(root).map((file) => file.name));
  const added = [
    ...(change.journal?.file ? [change.journal.file] : []),
    ...(change.shards ?? []).map((s) => s.file),
  ];
  for (const file of added) {
    if (held.has(file.name)) throw new RangeError(`the index already holds a file named ${file.name}`);
    held.add(file.name);
  }
  let journal = [...root.journal];
  if (change.journal) {
    const { file, replaces } = change.journal;
    if (file === null && replaces.length !== journal.length)
      throw new RangeError('a fold empties the whole journal');
    journal = replaceNewest(journal, replaces, 'the journal');
    if (file) journal.push({ ...file, generation });
  }
  const shards = root.shards.map((shard) => ({ base: shard.base, deltas: [...shard.deltas] }));
  const touched = new Set<number>();
  for (const { shard, file, replaces, base } of change.shards ?? []) {
    const target = shards[shard];
    if (!target) throw new RangeError(`shard ${shard} is not one of the index's ${shards.length}`);
    if (touched.has(shard)) throw new RangeError(`one commit may add one file to shard ${shard}`);
    touched.add(shard);
    if (base) {
      const all = [...(target.base ? [target.base.name] : []), ...target.deltas.map((d) => d.name)];
      if (all.length !== replaces.length || all.some((name, i) => replaces[i] !== name))
        throw new RangeError(`shard ${shard}'s new base must replace its base and every delta, in order`);
      target.base = { ...file, generation };
      target.deltas = [];
    } else {
      target.deltas = replaceNewest(target.deltas, replaces, `shard ${shard}'s deltas`);
      target.deltas.push({ ...file, generation });
    }
  }
  const counts = change.recount ?? withChange(root.counts, change.counts);
  return {
    format: INDEX_ROOT_FORMAT,
    index_id: root.index_id,
    generation,
    committed_at: committedAt.toISOString(),
    journal,
    shards,
    counts,
    ...(root.rebuild && !change.endRebuild && { rebuild: root.rebuild }),
    ...(root.emptied_generation !== undefined && { emptied_generation: root.emptied_generation }),
  };
}

/**
 * The next generation's root for a rebuild: the same index (readers follow it as any commit),
 * naming no file and counting nothing, and marked as rebuilding until the rebuild ends.
 */
export function emptiedIndexRoot(root: IndexRoot, rebuild: IndexRebuild, committedAt: Date): IndexRoot {
  return {
    ...emptyIndexRoot(root.shards.length),
    index_id: root.index_id,
    generation: root.generation + 1,
    committed_at: committedAt.toISOString(),
    rebuild,
    emptied_generation: root.generation + 1,
  };
}

/**
 * `counts` with `change` added. A statistic never blocks a change: a count that would go below zero
 * (it can only if it was wrong already) stops at zero, and the writer says so (see countsFallShort).
 * Months kept are kept up to date; months not kept (a format 2 root's) stay unknown until a recount.
 */
function withChange(counts: IndexCounts, change: CountsChange | undefined): IndexCounts {
  if (!change) return counts;
  const total = {
    entries: atLeastZero(counts.entries + change.entries),
    bytes: atLeastZero(counts.bytes + change.bytes),
  };
  if (counts.months === undefined) return total;
  const months = new Map(Object.entries(counts.months));
  for (const [month, delta] of Object.entries(change.months)) {
    const was = months.get(month) ?? { entries: 0, bytes: 0 };
    const now = {
      entries: atLeastZero(was.entries + delta.entries),
      bytes: atLeastZero(was.bytes + delta.bytes),
    };
    if (now.entries === 0 && now.bytes === 0) months.delete(month);
    else months.set(month, now);
  }
  return { ...total, months: sortedMonths(Object.fromEntries(months)) };
}

function atLeastZero(count: number): number {
  return Math.max(0, count);
}

/** The same months, oldest first, so a root reads in order. */
function sortedMonths(months: Record<string, MonthCounts>): Record<string, MonthCounts> {
  return Object.fromEntries(Object.entries(months).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Whether `change` would take any of `root`'s counts below zero: they were wrong before it. */
export function countsFallShort(root: IndexRoot, change: IndexRootChange): boolean {
  const delta = change.counts;
  if (!delta) return false;
  if (root.counts.entries + delta.entries < 0 || root.counts.bytes + delta.bytes < 0) return true;
  const { months } = root.counts;
  if (months === undefined) return false;
  return Object.entries(delta.months).some(([month, { entries, bytes }]) => {
    const was = months[month] ?? { entries: 0, bytes: 0 };
    return was.entries + entries < 0 || was.bytes + bytes < 0;
  });
}

/** `files` without its newest files named in `replaces` (in order); throws unless they are exactly those. */
function replaceNewest(files: IndexRootFile[], replaces: readonly string[], where: string): IndexRootFile[] {
  const kept = files.slice(0, files.length - replaces.length);
  const newest = files.slice(kept.length).map((file) => file.name);
  if (newest.length !== replaces.length || newest.some((name, i) => replaces[i] !== name))
    throw new RangeError(
      `${where}: a merge replaces its newest files, in order, and ${replaces.join(', ')} are not`,
    );
  return kept;
}

/**
 * How many of a list's newest files a new file of `incoming` items should take in (the
 * logarithmic method): an older file joins while it holds no more items than the newer ones
 * together. Files then at least double in size from newest to oldest, so a look-up asks few of
 * them, and an item is rewritten a logarithmic number of times.
 */
export function filesToMerge(files: readonly IndexRootFile[], incoming: number): number {
  let items = incoming;
  let taken = 0;
  for (let i = files.length - 1; i >= 0; i--) {
    const file = files[i];
    if (!file || file.entries + file.withdrawn > items) break;
    items += file.entries + file.withdrawn;
    taken += 1;
  }
  return taken;
}

/** The journal's files, newest first: the order a look-up asks them in, before any shard's. */
export function journalNewestFirst(root: IndexRoot): IndexRootFile[] {
  return [...root.journal].reverse();
}

/** A shard's files, newest first: the order a look-up asks them in. */
export function newestFirst(shard: IndexShard): IndexRootFile[] {
  return [...shard.deltas].reverse().concat(shard.base ? [shard.base] : []);
}

/** Every file the root names: the journal's, then each shard's. */
export function filesOf(root: IndexRoot): IndexRootFile[] {
  return [
    ...root.journal,
    ...root.shards.flatMap((shard) => (shard.base ? [shard.base, ...shard.deltas] : shard.deltas)),
  ];
}

export function encodeIndexRoot(root: IndexRoot): Buffer {
  return Buffer.from(JSON.stringify(root));
}

/** Parses and checks a root read from `name`; IntegrityError when it is not one. */
export function parseIndexRoot(bytes: Buffer, name: string): IndexRoot {
  let stored: StoredIndexRoot;
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as unknown;
    assertRoot(parsed);
    stored = parsed;
  } catch (error) {
    throw new IntegrityError(
      `index root ${name} is not one: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  // A format 2 root reads as a root that keeps no months, and the next commit writes format 3.
  const root: IndexRoot = { ...stored, format: INDEX_ROOT_FORMAT };
  if (generationOfRootName(name) !== root.generation)
    throw new IntegrityError(`index root ${name} says it is generation ${root.generation}`);
  const names = new Set<string>();
  for (const file of filesOf(root)) {
    if (file.generation > root.generation)
      throw new IntegrityError(`index root ${name} names ${file.name} of a later generation`);
    if (names.has(file.name)) throw new IntegrityError(`index root ${name} names ${file.name} twice`);
    names.add(file.name);
  }
  const lists = [
    { what: 'the journal', files: root.journal },
    ...root.shards.map((shard, index) => ({
      what: `shard ${index}'s files`,
      files: shard.base ? [shard.base, ...shard.deltas] : shard.deltas,
    })),
  ];
  for (const { what, files } of lists) {
    const order = files.map((file) => file.generation);
    if (order.some((generation, i) => i > 0 && generation <= (order[i - 1] ?? 0)))
      throw new IntegrityError(`index root ${name} lists ${what} out of order`);
  }
  return root;
}
