import { sha256Hex, type RecordDocument } from '../domain/billing-record.js';
import { ArchivedGoneError, IntegrityError, NotFoundError } from '../domain/errors.js';
import type { ArchiveEntry } from '../ports/archive-index.js';
import type { ReadOptions } from '../ports/archive-store.js';
import type { Layouts } from './layouts/layouts.js';

/**
 * Reads an archived record through its index entry, with the one ranged read its layout makes, and
 * refuses bytes that fail their SHA-256.
 */
export class ArchiveReader {
  constructor(private readonly layouts: Layouts) {}

  /** ArchivedGoneError when the blob is missing, IntegrityError when the bytes do not verify. */
  async read(entry: ArchiveEntry, options?: ReadOptions): Promise<RecordDocument> {
    const bytes = await this.readBytes(entry, options);
    const doc = JSON.parse(bytes.toString('utf8')) as RecordDocument;
    if (doc.id !== entry.id)
      throw new IntegrityError(`blob ${entry.location.blob} holds record '${doc.id}', not '${entry.id}'`);
    return doc;
  }

  /** The record's archived bytes, exactly as written, once they verify against the entry. */
  async readBytes(entry: ArchiveEntry, options?: ReadOptions): Promise<Buffer> {
    const { location } = entry;
    const { layout, blob } = location;
    let bytes: Buffer;
    try {
      bytes = await this.layouts.of(location).read(location, options);
    } catch (error) {
      if (error instanceof NotFoundError) {
        throw new ArchivedGoneError(`the archived copy of record '${entry.id}' is gone (blob ${blob})`, {
          cause: error,
        });
      }
      throw error;
    }
    const actual = sha256Hex(bytes);
    if (actual !== entry.sha256) {
      throw new IntegrityError(
        `archived record '${entry.id}' in ${layout} blob ${blob} hashes to ${actual}, index says ${entry.sha256}`,
        { details: { id: entry.id, blob, expected: entry.sha256, actual } },
      );
    }
    return bytes;
  }
}

/** The version tag of an archived record: its content hash, stable until it changes. */
export function archivedEtag(entry: ArchiveEntry): string {
  return `sha256-${entry.sha256}`;
}
