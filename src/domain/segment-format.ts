import { gunzipSync, gzipSync } from 'node:zlib';
import { Type, type Static } from 'typebox';
import { sha256Hex } from './billing-record.js';
import { IntegrityError } from './errors.js';
import { compileAssert } from './schema-validator.js';

/**
 * A segment is NDJSON (one record's canonical bytes and '\n' per line) compressed as independent
 * gzip members, so `zcat` reads it as one stream while one record needs one member. A member holds
 * whole lines of at most this many bytes; a single record longer than that gets a member of its own.
 */
export const MEMBER_MAX_BYTES = 64 * 1024;

const MANIFEST_FORMAT = 'billing-archive.segment-manifest/1';

const Sha256Schema = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Count = Type.Integer({ minimum: 0 });

const MemberSchema = Type.Object(
  { offset: Count, length: Count, uncompressed_length: Count, records: Count },
  { additionalProperties: false },
);

const ManifestRecordSchema = Type.Object(
  {
    id: Type.String({ minLength: 1 }),
    customer_id: Type.String(),
    created_at: Type.String(),
    /** Index of the member in `members`. */
    member: Count,
    /** Where the record's bytes (without the newline) start in the decompressed member. */
    offset: Count,
    length: Count,
    sha256: Sha256Schema,
  },
  { additionalProperties: false },
);

export const SegmentManifestSchema = Type.Object(
  {
    format: Type.Literal(MANIFEST_FORMAT),
    segment: Type.String({ minLength: 1 }),
    run_id: Type.String(),
    archived_at: Type.String(),
    record_count: Count,
    /** Size and SHA-256 of the whole segment blob. */
    bytes: Count,
    sha256: Sha256Schema,
    members: Type.Array(MemberSchema),
    records: Type.Array(ManifestRecordSchema),
  },
  { additionalProperties: false },
);

export type SegmentMember = Static<typeof MemberSchema>;
export type ManifestRecord = Static<typeof ManifestRecordSchema>;
export type SegmentManifest = Static<typeof SegmentManifestSchema>;

/** What the writer knows of a record besides its bytes. */
export interface RecordFacts {
  id: string;
  customer_id: string;
  created_at: string;
  sha256: string;
}

/** When a segment is sealed. */
export interface SegmentLimits {
  /** When it holds this many records... */
  maxRecords: number;
  /** ...or when its compressed size reaches about this many bytes. */
  maxBytes: number;
}

const NEWLINE = Buffer.from('\n');

/** Gathers records into gzip members in memory; `seal` yields the blob and its manifest. */
export class SegmentBuilder {
  private readonly closed: Buffer[] = [];
  private readonly members: SegmentMember[] = [];
  private readonly records: ManifestRecord[] = [];
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private pendingRecords = 0;
  private closedBytes = 0;

  add(bytes: Buffer, facts: RecordFacts): void {
    if (this.pendingRecords > 0 && this.pendingBytes + bytes.length + 1 > MEMBER_MAX_BYTES)
      this.closeMember();
    this.records.push({
      ...facts,
      member: this.members.length,
      offset: this.pendingBytes,
      length: bytes.length,
    });
    this.pending.push(bytes, NEWLINE);
    this.pendingBytes += bytes.length + 1;
    this.pendingRecords += 1;
  }

  get recordCount(): number {
    return this.records.length;
  }

  isFull(limits: SegmentLimits): boolean {
    return this.recordCount >= limits.maxRecords || this.approximateBytes >= limits.maxBytes;
  }

  /** Bytes the segment would take if sealed now (the open member counted uncompressed: an upper bound). */
  get approximateBytes(): number {
    return this.closedBytes + this.pendingBytes;
  }

  seal(
    segment: string,
    context: { runId: string; archivedAt: string },
  ): { bytes: Buffer; manifest: SegmentManifest } {
    if (this.pendingRecords > 0) this.closeMember();
    const bytes = Buffer.concat(this.closed);
    return {
      bytes,
      manifest: {
        format: MANIFEST_FORMAT,
        segment,
        run_id: context.runId,
        archived_at: context.archivedAt,
        record_count: this.records.length,
        bytes: bytes.length,
        sha256: sha256Hex(bytes),
        members: this.members,
        records: this.records,
      },
    };
  }

  private closeMember(): void {
    const compressed = gzipSync(Buffer.concat(this.pending));
    this.members.push({
      offset: this.closedBytes,
      length: compressed.length,
      uncompressed_length: this.pendingBytes,
      records: this.pendingRecords,
    });
    this.closed.push(compressed);
    this.closedBytes += compressed.length;
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingRecords = 0;
  }
}

/** One record's bytes out of its compressed member; IntegrityError when the member is damaged. */
export function recordFromMember(
  member: Buffer,
  line: { offset: number; length: number },
  blob: string,
): Buffer {
  let text: Buffer;
  try {
    text = gunzipSync(member);
  } catch (error) {
    throw new IntegrityError(`a gzip member of segment ${blob} does not decompress`, { cause: error });
  }
  if (line.offset + line.length + 1 > text.length || text[line.offset + line.length] !== NEWLINE[0]) {
    throw new IntegrityError(`segment ${blob} has no record line at offset ${line.offset} of its member`);
  }
  return text.subarray(line.offset, line.offset + line.length);
}

const assertManifest: (value: unknown) => asserts value is SegmentManifest = compileAssert(
  SegmentManifestSchema,
  'manifest',
);

/** Parses and checks a manifest's shape and internal consistency; IntegrityError otherwise. */
export function parseManifest(bytes: Buffer, name: string): SegmentManifest {
  let manifest: SegmentManifest;
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    assertManifest(value);
    manifest = value;
  } catch (error) {
    throw new IntegrityError(
      `manifest ${name} is not a valid segment manifest: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  if (manifest.record_count !== manifest.records.length)
    throw new IntegrityError(
      `manifest ${name} counts ${manifest.record_count} records but lists ${manifest.records.length}`,
    );
  for (const record of manifest.records) {
    if (manifest.members[record.member] === undefined)
      throw new IntegrityError(
        `manifest ${name} puts record '${record.id}' in member ${record.member}, which it does not list`,
      );
  }
  return manifest;
}
