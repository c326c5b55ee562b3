import { createHash } from 'node:crypto';
import { Type } from 'typebox';
import { IntegrityError } from './errors.js';
import { compileAssert } from './schema-validator.js';

/**
 * The root of the blob-native archive index: which files make up each shard at one generation.
 * Roots are immutable and numbered; writing generation N+1 create-only is the commit, so two
 * writers cannot both commit the same generation (the loser reads the winner's and tries again).
 * Readers take the highest generation and never see a half-made one.
 */
export const INDEX_ROOT_FORMAT = 'billing-archive.index-root/1';
/** Where roots are listed from. */
export const INDEX_ROOT_PREFIX = 'index/roots/';
const GENERATION_DIGITS = 12;
const ROOT_NAME = new RegExp(`^${INDEX_ROOT_PREFIX}(\\d{${GENERATION_DIGITS}})\\.json$`);
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
 * A shard's files. A look-up asks them in list order, newest word first: the deltas from last to
 * first, then the base, and the first that says anything of an id is right. Deltas kept through a
 * compaction have lower generations than the base, and are still newer than what it merged.
 */
export interface IndexShard {
  /** The compacted file, or null before the shard's first compaction. */
  base: IndexRootFile | null;
  /** Files not merged into the base, oldest first. */
  deltas: IndexRootFile[];
}

export interface IndexRoot {
  format: typeof INDEX_ROOT_FORMAT;
  generation: number;
  committed_at: string;
  shards: IndexShard[];
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
    format: Type.Literal(INDEX_ROOT_FORMAT),
    generation: Count,
    committed_at: Type.String(),
    shards: Type.Array(
      Type.Object(
        { base: Type.Union([FileSchema, Type.Null()]), deltas: Type.Array(FileSchema) },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_INDEX_SHARDS },
    ),
  },
  { additionalProperties: false },
);
const assertRoot: (value: unknown) => asserts value is IndexRoot = compileAssert(RootSchema, 'root');

/** The root of an index with no files yet (generation 0 is never written). */
export function emptyIndexRoot(shards: number): IndexRoot {
  if (!(Number.isInteger(shards) && shards >= 1 && shards <= MAX_INDEX_SHARDS))
    throw new RangeError(`an index has 1 to ${MAX_INDEX_SHARDS} shards`);
  return {
    format: INDEX_ROOT_FORMAT,
    generation: 0,
    committed_at: new Date(0).toISOString(),
    shards: Array.from({ length: shards }, () => ({ base: null, deltas: [] })),
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

/** The shard an id belongs to: the first four bytes of its SHA-256, modulo the shard count. */
export function shardOf(id: string, shards: number): number {
  return createHash('sha256').update(id).digest().readUInt32BE(0) % shards;
}

/** What one commit changes: files added to shards, and files (by name) it replaces. */
export interface IndexRootChange {
  /** New deltas, appended to their shards in the order given. */
  deltas?: readonly { shard: number; file: Omit<IndexRootFile, 'generation'> }[];
  /**
   * Compactions: the shard's new base, which replaces its base and the oldest deltas named (those
   * the compaction merged; deltas committed meanwhile stay, and are asked before it).
   */
  bases?: readonly { shard: number; file: Omit<IndexRootFile, 'generation'>; replaces: readonly string[] }[];
}

/**
 * The next generation's root: `root` with `change` applied, committed at `committedAt`. Throws when
 * a compaction names a file its shard no longer has (another commit replaced it first), when a file
 * is added under a name the root holds, or when one commit adds two files to a shard (a version is
 * told by its generation, so a shard gets one word on an id per commit).
 */
export function nextIndexRoot(root: IndexRoot, change: IndexRootChange, committedAt: Date): IndexRoot {
  const generation = root.generation + 1;
  const held = new Set(filesOf(root).map((file) => file.name));
  const touched = new Set<number>();
  for (const { shard, file } of [...(change.bases ?? []), ...(change.deltas ?? [])]) {
    if (held.has(file.name)) throw new RangeError(`the index already holds a file named ${file.name}`);
    if (touched.has(shard)) throw new RangeError(`one commit may add one file to shard ${shard}`);
    held.add(file.name);
    touched.add(shard);
  }
  const shards = root.shards.map((shard) => ({ base: shard.base, deltas: [...shard.deltas] }));
  const shardAt = (index: number) => {
    const shard = shards[index];
    if (!shard) throw new RangeError(`shard ${index} is not one of the index's ${shards.length}`);
    return shard;
  };
  for (const { shard, file, replaces } of change.bases ?? []) {
    const target = shardAt(shard);
    const holds = new Set([...(target.base ? [target.base.name] : []), ...target.deltas.map((d) => d.name)]);
    const gone = replaces.filter((name) => !holds.has(name));
    if (gone.length > 0)
      throw new RangeError(`shard ${shard} no longer holds ${gone.join(', ')}: another commit replaced it`);
    if (target.base && !replaces.includes(target.base.name))
      throw new RangeError(`shard ${shard}'s new base must replace its base ${target.base.name}`);
    // What the base merged must be older than every delta left, which are asked before it.
    const merged = target.deltas.filter((delta) => replaces.includes(delta.name)).length;
    if (target.deltas.slice(0, merged).some((delta) => !replaces.includes(delta.name)))
      throw new RangeError(`shard ${shard}'s new base must replace its oldest deltas, in order`);
    target.base = { ...file, generation };
    target.deltas = target.deltas.slice(merged);
  }
  for (const { shard, file } of change.deltas ?? []) shardAt(shard).deltas.push({ ...file, generation });
  return { format: INDEX_ROOT_FORMAT, generation, committed_at: committedAt.toISOString(), shards };
}

/** A shard's files, newest first: the order a look-up asks them in. */
export function newestFirst(shard: IndexShard): IndexRootFile[] {
  return [...shard.deltas].reverse().concat(shard.base ? [shard.base] : []);
}

/** Every file the root names. */
export function filesOf(root: IndexRoot): IndexRootFile[] {
  return root.shards.flatMap((shard) => (shard.base ? [shard.base, ...shard.deltas] : shard.deltas));
}

export function encodeIndexRoot(root: IndexRoot): Buffer {
  return Buffer.from(JSON.stringify(root));
}

/** Parses and checks a root read from `name`; IntegrityError when it is not one. */
export function parseIndexRoot(bytes: Buffer, name: string): IndexRoot {
  let root: unknown;
  try {
    root = JSON.parse(bytes.toString('utf8')) as unknown;
    assertRoot(root);
  } catch (error) {
    throw new IntegrityError(
      `index root ${name} is not one: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  if (generationOfRootName(name) !== root.generation)
    throw new IntegrityError(`index root ${name} says it is generation ${root.generation}`);
  const names = new Set<string>();
  for (const file of filesOf(root)) {
    if (file.generation > root.generation)
      throw new IntegrityError(`index root ${name} names ${file.name} of a later generation`);
    if (names.has(file.name)) throw new IntegrityError(`index root ${name} names ${file.name} twice`);
    names.add(file.name);
  }
  for (const [index, shard] of root.shards.entries()) {
    const order = shard.deltas.map((delta) => delta.generation);
    if (order.some((generation, i) => i > 0 && generation <= (order[i - 1] ?? 0)))
      throw new IntegrityError(`index root ${name} lists shard ${index}'s deltas out of order`);
  }
  return root;
}
