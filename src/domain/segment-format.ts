import { gunzipSync, gzipSync } from 'node:zlib';
import { sha256Hex, type RecordDocument } from './billing-record.js';
import { IntegrityError } from './errors.js';
import { utcCreatedAt } from './record-times.js';
import {
  encodeManifest,
  type ManifestRecord,
  type SealedMember,
  type SegmentManifest,
  type SegmentMember,
} from './segment-manifest.js';

/**
 * A segment is NDJSON (one record's canonical bytes and '\n' per line) compressed as independent
 * gzip members, so `zcat` reads it as one stream while one record needs one member. A member holds
 * whole lines of at most this many bytes; a single record longer than that gets a member of its own.
 */
export const MEMBER_MAX_BYTES = 64 * 1024;

/** A manifest as its writer holds it: every record with the SHA-256 it was given, every member hashed. */
export type SealedManifest = Omit<SegmentManifest, 'members' | 'records'> & {
  members: SealedMember[];
  records: (ManifestRecord & { sha256: string })[];
};

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
  private readonly members: SealedMember[] = [];
  private readonly records: (ManifestRecord & { sha256: string })[] = [];
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

  /**
   * The segment's bytes; its manifest in memory, each record with the SHA-256 the writer was given;
   * and the manifest's bytes to store, which hash members rather than records.
   */
  seal(
    segment: string,
    context: { runId: string; archivedAt: string },
  ): { bytes: Buffer; manifest: SealedManifest; manifestBytes: Buffer } {
    if (this.pendingRecords > 0) this.closeMember();
    const bytes = Buffer.concat(this.closed);
    const header = {
      segment,
      run_id: context.runId,
      archived_at: context.archivedAt,
      record_count: this.records.length,
      bytes: bytes.length,
      sha256: sha256Hex(bytes),
    };
    return {
      bytes,
      manifest: {
        format: 'billing-archive.segment-manifest/2',
        ...header,
        members: this.members,
        records: this.records,
      },
      manifestBytes: encodeManifest(header, this.members, this.records),
    };
  }

  private closeMember(): void {
    const compressed = gzipSync(Buffer.concat(this.pending));
    this.members.push({
      offset: this.closedBytes,
      length: compressed.length,
      uncompressed_length: this.pendingBytes,
      records: this.pendingRecords,
      sha256: sha256Hex(compressed),
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
  return lineOfMember(decompressMember(member, blob), line, blob);
}

/** A member's lines, decompressed; IntegrityError when it does not decompress. */
export function decompressMember(member: Buffer, blob: string): Buffer {
  try {
    return gunzipSync(member);
  } catch (error) {
    throw new IntegrityError(`a gzip member of segment ${blob} does not decompress`, { cause: error });
  }
}

/** One record's line of a decompressed member (a view of it); IntegrityError when there is none. */
export function lineOfMember(text: Buffer, line: { offset: number; length: number }, blob: string): Buffer {
  if (line.offset + line.length + 1 > text.length || text[line.offset + line.length] !== NEWLINE[0]) {
    throw new IntegrityError(`segment ${blob} has no record line at offset ${line.offset} of its member`);
  }
  return text.subarray(line.offset, line.offset + line.length);
}

/**
 * The SHA-256 of every record of the segment whose bytes verify against the manifest, keyed by
 * `placeOf`; the others are left out. A record verifies when its member does (its SHA-256 in format
 * 2; in format 1 the record's own), the member holds exactly the bytes the manifest says, the record
 * is one whole line, and its document names the id, customer and creation time the manifest gives
 * it: so a manifest that was changed cannot point an id at another record's bytes, hide a record, or
 * date one wrongly. Each member is decompressed once.
 */
export function verifiedRecordHashes(bytes: Buffer, manifest: SegmentManifest): Map<string, string> {
  const hashes = new Map<string, string>();
  let current = -1;
  let text: Buffer | undefined;
  for (const record of manifest.records) {
    if (record.member !== current) {
      current = record.member;
      text = verifiedMemberText(bytes, manifest.members[current]);
    }
    const end = record.offset + record.length;
    if (text === undefined || text.indexOf(NEWLINE, record.offset) !== end) continue;
    const line = text.subarray(record.offset, end);
    const hash = sha256Hex(line);
    if (record.sha256 !== undefined && record.sha256 !== hash) continue;
    if (namesItsFacts(line, record)) hashes.set(placeOf(manifest, record), hash);
  }
  return hashes;
}

/** The facts a manifest keeps of a record, as its document gives them. */
export function factsOf(doc: RecordDocument): Omit<RecordFacts, 'sha256'> {
  return {
    id: doc.id,
    customer_id: typeof doc.customer_id === 'string' ? doc.customer_id : '',
    // UTC, so the retention sweep's comparison as text is one of instants.
    created_at: utcCreatedAt(doc.created_at),
  };
}

function namesItsFacts(line: Buffer, record: ManifestRecord): boolean {
  let doc: unknown;
  try {
    doc = JSON.parse(line.toString('utf8'));
  } catch {
    return false;
  }
  if (typeof doc !== 'object' || doc === null || typeof (doc as { id?: unknown }).id !== 'string')
    return false;
  const facts = factsOf(doc as RecordDocument);
  return (
    facts.id === record.id &&
    facts.customer_id === record.customer_id &&
    facts.created_at === record.created_at
  );
}

/**
 * A member's decompressed lines, or undefined when it fails its hash, does not decompress, or does
 * not hold the bytes the manifest says.
 */
function verifiedMemberText(bytes: Buffer, member: SegmentMember | undefined): Buffer | undefined {
  if (!member) return undefined;
  const compressed = bytes.subarray(member.offset, member.offset + member.length);
  if (member.sha256 !== undefined && sha256Hex(compressed) !== member.sha256) return undefined;
  let text: Buffer;
  try {
    text = gunzipSync(compressed);
  } catch {
    return undefined;
  }
  return text.length === member.uncompressed_length ? text : undefined;
}

/** Where a manifest record lies, as `<member offset>:<line offset>`: what an index entry points to. */
export function placeOf(manifest: SegmentManifest, record: ManifestRecord): string {
  return `${manifest.members[record.member]?.offset ?? -1}:${record.offset}`;
}
