import { gunzipSync, gzipSync } from 'node:zlib';
import { Type, type Static } from 'typebox';
import { IntegrityError } from './errors.js';
import { compileAssert } from './schema-validator.js';

/**
 * Format 1: plain JSON, one object per record with its SHA-256 in hex (~230 bytes a record, up to
 * four times the compressed data of small records). Still read; no longer written.
 */
const FORMAT_1 = 'billing-archive.segment-manifest/1';
/**
 * Format 2: gzipped JSON in columns (one array per field), a SHA-256 per member instead of per
 * record, and the offsets that follow from lengths left out (~31 bytes a record).
 */
const FORMAT_2 = 'billing-archive.segment-manifest/2';

export interface SegmentMember {
  /** Where the gzip member starts in the segment, and its compressed length. */
  offset: number;
  length: number;
  uncompressed_length: number;
  records: number;
  /** SHA-256 of the compressed member (format 2; format 1 hashes each record instead). */
  sha256?: string;
}

export interface ManifestRecord {
  id: string;
  customer_id: string;
  created_at: string;
  /** Index of the member in `members`. */
  member: number;
  /** Where the record's bytes (without the newline) start in the decompressed member. */
  offset: number;
  length: number;
  /** SHA-256 of the record's bytes: format 1 only, and what the writer knows. */
  sha256?: string;
}

/** A segment's manifest in memory, whichever format it was read from. */
export interface SegmentManifest {
  format: typeof FORMAT_1 | typeof FORMAT_2;
  segment: string;
  run_id: string;
  archived_at: string;
  record_count: number;
  /** Size and SHA-256 of the whole segment blob. */
  bytes: number;
  sha256: string;
  members: SegmentMember[];
  records: ManifestRecord[];
}

const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Count = Type.Integer({ minimum: 0 });
const Header = {
  segment: Type.String({ minLength: 1 }),
  run_id: Type.String(),
  archived_at: Type.String(),
  record_count: Count,
  bytes: Count,
  sha256: Sha256,
};

const ManifestV1Schema = Type.Object(
  {
    format: Type.Literal(FORMAT_1),
    ...Header,
    members: Type.Array(
      Type.Object(
        { offset: Count, length: Count, uncompressed_length: Count, records: Count },
        { additionalProperties: false },
      ),
    ),
    records: Type.Array(
      Type.Object(
        {
          id: Type.String({ minLength: 1 }),
          customer_id: Type.String(),
          created_at: Type.String(),
          member: Count,
          offset: Count,
          length: Count,
          sha256: Sha256,
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const ManifestV2Schema = Type.Object(
  {
    format: Type.Literal(FORMAT_2),
    ...Header,
    members: Type.Object(
      {
        length: Type.Array(Count),
        uncompressed_length: Type.Array(Count),
        records: Type.Array(Count),
        sha256: Type.Array(Sha256),
      },
      { additionalProperties: false },
    ),
    records: Type.Object(
      {
        id: Type.Array(Type.String({ minLength: 1 })),
        customer_id: Type.Array(Type.String()),
        created_at: Type.Array(Type.String()),
        length: Type.Array(Count),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

type ManifestV1 = Static<typeof ManifestV1Schema>;
type ManifestV2 = Static<typeof ManifestV2Schema>;

const assertV1: (value: unknown) => asserts value is ManifestV1 = compileAssert(ManifestV1Schema, 'manifest');
const assertV2: (value: unknown) => asserts value is ManifestV2 = compileAssert(ManifestV2Schema, 'manifest');

/** A member as the writer sealed it: always hashed. */
export type SealedMember = SegmentMember & { sha256: string };

/** The bytes of a format 2 manifest for a segment the writer just sealed. */
export function encodeManifest(
  header: Omit<SegmentManifest, 'format' | 'members' | 'records'>,
  members: readonly SealedMember[],
  records: readonly ManifestRecord[],
): Buffer {
  const manifest: ManifestV2 = {
    format: FORMAT_2,
    ...header,
    members: {
      length: members.map((m) => m.length),
      uncompressed_length: members.map((m) => m.uncompressed_length),
      records: members.map((m) => m.records),
      sha256: members.map((m) => m.sha256),
    },
    records: {
      id: records.map((r) => r.id),
      customer_id: records.map((r) => r.customer_id),
      created_at: records.map((r) => r.created_at),
      length: records.map((r) => r.length),
    },
  };
  return gzipSync(JSON.stringify(manifest));
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

/** Parses either format and checks its shape and internal consistency; IntegrityError otherwise. */
export function parseManifest(bytes: Buffer, name: string): SegmentManifest {
  let manifest: SegmentManifest;
  try {
    const gzipped = bytes.subarray(0, 2).equals(GZIP_MAGIC);
    const value: unknown = JSON.parse((gzipped ? gunzipSync(bytes) : bytes).toString('utf8'));
    if (gzipped) {
      assertV2(value);
      manifest = fromColumns(value, name);
    } else {
      assertV1(value);
      manifest = value;
    }
  } catch (error) {
    if (error instanceof IntegrityError) throw error;
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

/**
 * Format 2's columns as records, with the offsets their lengths imply: members lie end to end from
 * the segment's start, and a member's lines end to end, each followed by a newline.
 */
function fromColumns(value: ManifestV2, name: string): SegmentManifest {
  const fail = (problem: string): never => {
    throw new IntegrityError(`manifest ${name} ${problem}`);
  };
  const { members: m, records: r } = value;
  if (new Set([m.length.length, m.uncompressed_length.length, m.records.length, m.sha256.length]).size !== 1)
    fail('has member columns of different lengths');
  if (new Set([r.id.length, r.customer_id.length, r.created_at.length, r.length.length]).size !== 1)
    fail('has record columns of different lengths');
  const members: SegmentMember[] = [];
  const records: ManifestRecord[] = [];
  let memberOffset = 0;
  m.length.forEach((memberLength, index) => {
    const count = m.records[index] ?? 0;
    let lineOffset = 0;
    for (let i = 0; i < count; i += 1) {
      const at = records.length;
      const length = r.length[at] ?? fail('lists fewer records than its members hold');
      // The columns are of one length, checked above.
      records.push({
        id: r.id[at] ?? '',
        customer_id: r.customer_id[at] ?? '',
        created_at: r.created_at[at] ?? '',
        member: index,
        offset: lineOffset,
        length,
      });
      lineOffset += length + 1;
    }
    const uncompressed = m.uncompressed_length[index] ?? 0;
    if (lineOffset !== uncompressed)
      fail(`says member ${index} holds ${uncompressed} bytes but its records' lines take ${lineOffset}`);
    members.push({
      offset: memberOffset,
      length: memberLength,
      uncompressed_length: uncompressed,
      records: count,
      sha256: m.sha256[index] ?? '',
    });
    memberOffset += memberLength;
  });
  if (records.length !== r.id.length)
    fail(`lists ${r.id.length} records but its members hold ${records.length}`);
  if (memberOffset !== value.bytes)
    fail(`says the segment is ${value.bytes} bytes but its members take ${memberOffset}`);
  return {
    format: value.format,
    segment: value.segment,
    run_id: value.run_id,
    archived_at: value.archived_at,
    record_count: value.record_count,
    bytes: value.bytes,
    sha256: value.sha256,
    members,
    records,
  };
}
