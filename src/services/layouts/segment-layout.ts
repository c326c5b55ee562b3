import { canonicalBytes, sha256Hex } from '../../domain/billing-record.js';
import { creationMonth } from '../../domain/creation-month.js';
import { IntegrityError, NotFoundError } from '../../domain/errors.js';
import { LRUCache } from 'lru-cache';
import pMap from 'p-map';
import {
  decompressMember,
  factsOf,
  lineOfMember,
  placeOf,
  recordFromMember,
  SegmentBuilder,
  verifiedRecordHashes,
  type RecordFacts,
  type SegmentLimits,
} from '../../domain/segment-format.js';
import { parseManifest, type ManifestRecord, type SegmentManifest } from '../../domain/segment-manifest.js';
import type { ArchiveEntry, ArchiveIndex, ArchiveLocation, StoredEntry } from '../../ports/archive-index.js';
import type { ArchiveStore, ReadOptions } from '../../ports/archive-store.js';
import type { StoredRecord } from '../../ports/live-store.js';
import {
  asError,
  listedBlobs,
  READS_AT_ONCE,
  type ArchiveLayout,
  type DurableBatch,
  type LayoutContext,
  type LayoutWriter,
  type ListedBlob,
} from './archive-layout.js';
import { putVerified } from './verified-put.js';

const SEGMENTS_PREFIX = 'segments/';
/** How long a member read stays in the read cache, however often it is read. */
export const MEMBER_CACHE_TTL_MS = 60_000;
/** Outside `segments/`, so the lifecycle policy leaves manifests online while segments go to Archive. */
const MANIFESTS_PREFIX = 'manifests/';
const SEGMENT_SUFFIX = '.ndjson.gz';
const MANIFEST_SUFFIX = '.manifest.json.gz';
/** Where format 1 manifests were written: beside their segments, tiered with them. */
const LEGACY_MANIFEST_SUFFIX = '.manifest.json';

/**
 * The `segment` layout: the records of one creation month gathered across read batches into one
 * gzip NDJSON blob, with a manifest under the same name in `manifests/`. A run names its segments
 * after itself, so no two runs ever write the same name.
 */
export class SegmentLayout implements ArchiveLayout {
  readonly name = 'segment';
  readonly prefixes = [SEGMENTS_PREFIX, MANIFESTS_PREFIX];

  /**
   * Members read lately, decompressed, by blob and range, up to a budget of bytes, each for at most
   * MEMBER_CACHE_TTL_MS. A segment is never rewritten under its name, so a member cached is the
   * member stored; each read still checks the record's SHA-256 against its entry. The time limit
   * bounds how long a segment deleted under a standing entry (the retention backstop, a mistake)
   * still reads, instead of answering 410.
   */
  private readonly members: LRUCache<string, Buffer> | undefined;

  constructor(
    private readonly store: ArchiveStore,
    private readonly limits: SegmentLimits,
    readCache: {
      /** Bytes of decompressed members kept for reads; 0 or absent: none. */
      bytes?: number;
      /** Milliseconds the time limit is counted in; the monotonic clock by default. */
      now?: () => number;
    } = {},
  ) {
    const { bytes = 0, now } = readCache;
    this.members =
      bytes > 0
        ? new LRUCache<string, Buffer>({
            maxSize: bytes,
            ttl: MEMBER_CACHE_TTL_MS,
            // The clock is read at each look, not cached for a millisecond (which a test clock outpaces).
            ttlResolution: 0,
            ...(now && { perf: { now } }),
            // What the buffer keeps alive: a small output of zlib may be a view of a larger one.
            sizeCalculation: (text) => Math.max(text.buffer.byteLength, 1),
          })
        : undefined;
  }

  open(context: LayoutContext): LayoutWriter {
    return new SegmentWriter(this.gather<string>(context));
  }

  async read(location: ArchiveLocation, options?: ReadOptions): Promise<Buffer> {
    return lineOf(location, await this.member(location, options), this.members);
  }

  /** Each member once, however many of its records are asked for. */
  async readMany(locations: readonly ArchiveLocation[], options?: ReadOptions): Promise<(Buffer | Error)[]> {
    const members = new Map<string, Promise<Buffer>>();
    return pMap(
      locations,
      async (location) => {
        try {
          const key = memberKey(location);
          let member = members.get(key);
          if (!member) {
            member = this.member(location, options);
            members.set(key, member);
          }
          return lineOf(location, await member, this.members);
        } catch (error) {
          return asError(error);
        }
      },
      { concurrency: READS_AT_ONCE },
    );
  }

  /** The decompressed member holding the record at `location`: from the cache, else one ranged read. */
  private async member(location: ArchiveLocation, options: ReadOptions | undefined): Promise<Buffer> {
    if (location.layout !== 'segment') throw new IntegrityError(`${location.blob} is not a segment location`);
    const key = memberKey(location);
    const cached = this.members?.get(key);
    if (cached) return cached;
    const member = await this.store.get(
      location.blob,
      { offset: location.offset, length: location.length },
      options,
    );
    const text = decompressMember(member, location.blob);
    this.members?.set(key, text);
    return text;
  }

  /** A segment is needed while any entry points into it (its other records' dead bytes wait for compaction). */
  async stillReferenced(index: ArchiveIndex, garbage: { location: ArchiveLocation }): Promise<boolean> {
    return (await index.list({ blob: garbage.location.blob, limit: 1 })).length > 0;
  }

  /**
   * Deletes a segment with its manifest, the manifest first: a crash in between leaves a segment
   * without one, which `verify` reports, never a manifest describing a segment that is not there.
   */
  async remove(blob: string): Promise<void> {
    if (isSegmentName(blob)) for (const manifest of manifestNamesOf(blob)) await this.store.delete(manifest);
    await this.store.delete(blob);
  }

  blobs(): AsyncIterable<ListedBlob> {
    return listedBlobs(this.store, this.prefixes);
  }

  /** A writer that gathers records given with a tag each into segments by the seal rule. */
  gather<Tag>(context: LayoutContext): SegmentGatherer<Tag> {
    return new SegmentGatherer<Tag>(this.store, this.limits, context);
  }

  /** Every segment, in name order, with its tier where the store has tiers. */
  async *segments(): AsyncIterable<ListedBlob> {
    for await (const blob of listedBlobs(this.store, [SEGMENTS_PREFIX]))
      if (isSegmentName(blob.name)) yield blob;
  }

  isSegment(name: string): boolean {
    return isSegmentName(name);
  }

  isManifest(name: string): boolean {
    return (
      (name.startsWith(MANIFESTS_PREFIX) && name.endsWith(MANIFEST_SUFFIX)) ||
      (name.startsWith(SEGMENTS_PREFIX) && name.endsWith(LEGACY_MANIFEST_SUFFIX))
    );
  }

  /** Where the segment's manifest may be: where it is written now, then where format 1 put it. */
  manifestNames(segment: string): string[] {
    return manifestNamesOf(segment);
  }

  /** The segment a manifest describes. */
  segmentOf(manifest: string): string {
    return manifest.startsWith(MANIFESTS_PREFIX)
      ? `${SEGMENTS_PREFIX}${manifest.slice(MANIFESTS_PREFIX.length, -MANIFEST_SUFFIX.length)}${SEGMENT_SUFFIX}`
      : `${manifest.slice(0, -LEGACY_MANIFEST_SUFFIX.length)}${SEGMENT_SUFFIX}`;
  }

  /** The segment's manifest, checked; IntegrityError when it is not one, NotFoundError when gone. */
  async manifestOf(segment: string): Promise<SegmentManifest> {
    const [current, legacy] = manifestNamesOf(segment);
    let name = current;
    let bytes: Buffer;
    try {
      bytes = await this.store.get(current);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      name = legacy;
      bytes = await this.store.get(legacy);
    }
    const manifest = parseManifest(bytes, name);
    if (manifest.segment !== segment)
      throw new IntegrityError(`manifest ${name} describes ${manifest.segment}, not ${segment}`);
    return manifest;
  }

  /** The whole segment. */
  bytesOf(segment: string): Promise<Buffer> {
    return this.store.get(segment);
  }

  /** Whether the segment's bytes are the ones its manifest describes, as a whole. */
  matchesManifest(segment: string, bytes: Buffer, manifest: SegmentManifest): boolean {
    return (
      manifest.segment === segment && manifest.bytes === bytes.length && manifest.sha256 === sha256Hex(bytes)
    );
  }

  /** The SHA-256 of each manifest record whose bytes in the segment verify, by `placeOf`. */
  verifiedHashes(bytes: Buffer, manifest: SegmentManifest): Map<string, string> {
    return verifiedRecordHashes(bytes, manifest);
  }

  /** Where a manifest record lies, in the terms of an index entry's location. */
  placeOf(manifest: SegmentManifest, record: ManifestRecord): string {
    return placeOf(manifest, record);
  }

  /** Whether an entry at a manifest record's place gives the member's and the record's lengths. */
  sameRange(entry: StoredEntry, manifest: SegmentManifest, record: ManifestRecord): boolean {
    const member = manifest.members[record.member];
    return (
      entry.location.layout === 'segment' &&
      member !== undefined &&
      entry.location.length === member.length &&
      entry.location.line.length === record.length
    );
  }

  /** Where an index entry points into its segment, comparable with `placeOf`. */
  placeOfEntry(entry: StoredEntry): string {
    return entry.location.layout === 'segment'
      ? `${entry.location.offset}:${entry.location.line.offset}`
      : '';
  }

  /**
   * The bytes of the records `entries` point to, read with the segment in one go; IntegrityError
   * when the segment does not match its manifest or a record does not verify (the message leaves
   * the segment for the caller to name).
   */
  async recordsFor(
    segment: string,
    manifest: SegmentManifest,
    entries: readonly StoredEntry[],
  ): Promise<{ entry: StoredEntry; bytes: Buffer }[]> {
    const bytes = await this.store.get(segment);
    if (sha256Hex(bytes) !== manifest.sha256) throw new IntegrityError('does not match its manifest');
    return entries.flatMap((entry) => {
      if (entry.location.layout !== 'segment') return [];
      const { offset, length, line } = entry.location;
      const found = recordFromMember(bytes.subarray(offset, offset + length), line, segment);
      if (sha256Hex(found) !== entry.sha256) throw new IntegrityError(`record '${entry.id}' does not verify`);
      return [{ entry, bytes: found }];
    });
  }

  /** The index entry of a manifest record whose bytes hash to `sha256`, as the run that wrote it made it. */
  entryOf(manifest: SegmentManifest, record: ManifestRecord, sha256: string): ArchiveEntry {
    return entryOf(manifest, record, sha256, { runId: manifest.run_id, archivedAt: manifest.archived_at });
  }

  /** The creation month a segment's name carries ('undated' for names without one). */
  monthOf(segment: string): string {
    return /^segments\/created=([^/]+)\//.exec(segment)?.[1] ?? 'undated';
  }
}

/** A segment made durable: its name and size, and the entries to index with their tags, in the order given. */
export interface SealedSegment<Tag> {
  segment: string;
  bytes: number;
  entries: ArchiveEntry[];
  tags: Tag[];
}

/**
 * Gathers records into segments, one creation month each. The seal rule: the open segment is sealed
 * before records of another month, or once it is full; records given together stay together.
 */
export class SegmentGatherer<Tag> {
  private builder = new SegmentBuilder();
  private month: string | undefined;
  private tags: Tag[] = [];
  private sealed = 0;

  constructor(
    private readonly store: ArchiveStore,
    private readonly limits: SegmentLimits,
    private readonly context: LayoutContext,
  ) {}

  async add(
    month: string,
    records: readonly { bytes: Buffer; facts: RecordFacts; tag: Tag }[],
  ): Promise<SealedSegment<Tag>[]> {
    const sealed: SealedSegment<Tag>[] = [];
    if (this.builder.recordCount > 0 && (month !== this.month || this.builder.isFull(this.limits)))
      sealed.push(await this.seal());
    this.month = month;
    for (const { bytes, facts, tag } of records) {
      this.builder.add(bytes, facts);
      this.tags.push(tag);
    }
    return sealed;
  }

  async finish(): Promise<SealedSegment<Tag>[]> {
    return this.builder.recordCount > 0 ? [await this.seal()] : [];
  }

  /** The segment first, then its manifest, so a manifest never describes a segment that is not there. */
  private async seal(): Promise<SealedSegment<Tag>> {
    this.sealed += 1;
    const segment = `${SEGMENTS_PREFIX}created=${this.month ?? 'undated'}/${this.context.runId}-${this.sealed.toString().padStart(4, '0')}.ndjson.gz`;
    const { builder, tags } = this;
    this.builder = new SegmentBuilder();
    this.tags = [];
    const { bytes, manifest, manifestBytes } = builder.seal(segment, this.context);
    // Run ids are unique, so a name can only exist if an earlier attempt of this very write landed.
    for (const [name, body] of [
      [segment, bytes],
      [manifestNamesOf(segment)[0], manifestBytes],
    ] as const)
      await putVerified(
        this.store,
        name,
        body,
        `blob '${name}' exists with other content; refusing to index into it`,
      );
    const entries = manifest.records.map((record) => entryOf(manifest, record, record.sha256, this.context));
    return { segment, bytes: bytes.length, entries, tags };
  }
}

/** The archiver's writer: each eligible record goes to the segment of its creation month. */
class SegmentWriter implements LayoutWriter {
  constructor(private readonly gatherer: SegmentGatherer<string>) {}

  async add(records: readonly StoredRecord[]): Promise<DurableBatch[]> {
    const batches: DurableBatch[] = [];
    for (const { doc, etag } of records) {
      const bytes = canonicalBytes(doc);
      const facts = { ...factsOf(doc), sha256: sha256Hex(bytes) };
      const sealed = await this.gatherer.add(creationMonth(doc.created_at), [{ bytes, facts, tag: etag }]);
      batches.push(...sealed.map(durable));
    }
    return batches;
  }

  async finish(): Promise<DurableBatch[]> {
    return (await this.gatherer.finish()).map(durable);
  }
}

function durable(sealed: SealedSegment<string>): DurableBatch {
  return { written: sealed.entries.map((entry, i) => ({ entry, etag: sealed.tags[i] ?? '' })), failed: [] };
}

function isSegmentName(name: string): boolean {
  return name.startsWith(SEGMENTS_PREFIX) && name.endsWith(SEGMENT_SUFFIX);
}

/** `segments/created=M/X.ndjson.gz` → `manifests/created=M/X.manifest.json.gz`, then its format 1 name. */
function manifestNamesOf(segment: string): [string, string] {
  const stem = segment.slice(0, -SEGMENT_SUFFIX.length);
  return [
    `${MANIFESTS_PREFIX}${stem.slice(SEGMENTS_PREFIX.length)}${MANIFEST_SUFFIX}`,
    `${stem}${LEGACY_MANIFEST_SUFFIX}`,
  ];
}

function entryOf(
  manifest: SegmentManifest,
  record: ManifestRecord,
  sha256: string,
  context: LayoutContext,
): ArchiveEntry {
  const member = manifest.members[record.member];
  if (!member) throw new IntegrityError(`manifest of ${manifest.segment} lists no member ${record.member}`);
  return {
    id: record.id,
    customer_id: record.customer_id,
    created_at: record.created_at,
    location: {
      layout: 'segment',
      blob: manifest.segment,
      offset: member.offset,
      length: member.length,
      line: { offset: record.offset, length: record.length },
    },
    sha256,
    size: record.length,
    archived_at: context.archivedAt,
    run_id: context.runId,
  };
}

function memberKey(location: ArchiveLocation): string {
  return `${location.blob}\n${location.offset}\n${location.length}`;
}

/**
 * The record's line, a copy: what the caller does with it never reaches the cache. A member a line
 * fails on is not kept for the next read to fail on: the store is asked again.
 */
function lineOf(
  location: ArchiveLocation,
  text: Buffer,
  cache: LRUCache<string, Buffer> | undefined,
): Buffer {
  if (location.layout !== 'segment') throw new IntegrityError(`${location.blob} is not a segment location`);
  try {
    return Buffer.from(lineOfMember(text, location.line, location.blob));
  } catch (error) {
    cache?.delete(memberKey(location));
    throw error;
  }
}
