import { sha256Hex, type RecordDocument } from '../domain/billing-record.js';
import { ArchivedGoneError, IntegrityError, NotFoundError } from '../domain/errors.js';
import type { ArchiveEntry, ArchiveLocation } from '../ports/archive-index.js';
import type { ReadOptions } from '../ports/archive-store.js';
import type { Layouts } from './layouts/layouts.js';

/** An archived record read and verified: its bytes exactly as written, and the document they hold. */
export interface VerifiedRecord {
  bytes: Buffer;
  doc: RecordDocument;
}

/**
 * Reads an archived record through its index entry, with the one ranged read its layout makes, and
 * refuses bytes that fail their SHA-256.
 */
export class ArchiveReader {
  constructor(private readonly layouts: Layouts) {}

  /** ArchivedGoneError when the blob is missing, IntegrityError when the bytes do not verify. */
  async read(entry: ArchiveEntry, options?: ReadOptions): Promise<RecordDocument> {
    return documentOf(entry, await this.readBytes(entry, options));
  }

  /** The same, with the verified bytes the document was parsed from. */
  async readRecord(entry: ArchiveEntry, options?: ReadOptions): Promise<VerifiedRecord> {
    const bytes = await this.readBytes(entry, options);
    return { bytes, doc: documentOf(entry, bytes) };
  }

  /** The record's archived bytes, exactly as written, once they verify against the entry. */
  async readBytes(entry: ArchiveEntry, options?: ReadOptions): Promise<Buffer> {
    const { location } = entry;
    let bytes: Buffer;
    try {
      bytes = await this.layouts.of(location).read(location, options);
    } catch (error) {
      throw gone(entry, error);
    }
    return verified(entry, bytes);
  }

  /**
   * Many records at once, in input order, each verified or with the error reading it met (as
   * `read` throws it): records that share a blob range (a segment's member) share one read.
   */
  async readMany(
    entries: readonly ArchiveEntry[],
    options?: ReadOptions,
  ): Promise<(VerifiedRecord | Error)[]> {
    const results: (VerifiedRecord | Error)[] = new Array<VerifiedRecord | Error>(entries.length);
    const byLayout = new Map<ArchiveLocation['layout'], number[]>();
    entries.forEach((entry, i) => {
      const places = byLayout.get(entry.location.layout) ?? [];
      places.push(i);
      byLayout.set(entry.location.layout, places);
    });
    for (const places of byLayout.values()) {
      const located = places.map((i) => (entries[i] as ArchiveEntry).location);
      const read = await this.layouts.of(located[0] as ArchiveLocation).readMany(located, options);
      places.forEach((i, k) => {
        const entry = entries[i] as ArchiveEntry;
        const bytes = read[k] as Buffer | Error;
        try {
          if (bytes instanceof Error) throw gone(entry, bytes);
          const checked = verified(entry, bytes);
          results[i] = { bytes: checked, doc: documentOf(entry, checked) };
        } catch (error) {
          results[i] = error instanceof Error ? error : new Error(String(error));
        }
      });
    }
    return results;
  }
}

/** A missing blob said as the archived copy being gone; any other error as it is. */
function gone(entry: ArchiveEntry, error: unknown): unknown {
  if (!(error instanceof NotFoundError)) return error;
  return new ArchivedGoneError(
    `the archived copy of record '${entry.id}' is gone (blob ${entry.location.blob})`,
    {
      cause: error,
    },
  );
}

function verified(entry: ArchiveEntry, bytes: Buffer): Buffer {
  const { layout, blob } = entry.location;
  const actual = sha256Hex(bytes);
  if (actual !== entry.sha256) {
    throw new IntegrityError(
      `archived record '${entry.id}' in ${layout} blob ${blob} hashes to ${actual}, index says ${entry.sha256}`,
      { details: { id: entry.id, blob, expected: entry.sha256, actual } },
    );
  }
  return bytes;
}

function documentOf(entry: ArchiveEntry, bytes: Buffer): RecordDocument {
  const doc = JSON.parse(bytes.toString('utf8')) as RecordDocument;
  if (doc.id !== entry.id)
    throw new IntegrityError(`blob ${entry.location.blob} holds record '${doc.id}', not '${entry.id}'`);
  return doc;
}

/** The version tag of an archived record: its content hash, stable until it changes. */
export function archivedEtag(entry: ArchiveEntry): string {
  return `sha256-${entry.sha256}`;
}
