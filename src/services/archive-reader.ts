import { sha256Hex, type RecordDocument } from '../domain/billing-record.js';
import { ArchivedGoneError, IntegrityError, NotFoundError } from '../domain/errors.js';
import { recordFromMember } from '../domain/segment-format.js';
import type { ArchiveEntry } from '../ports/archive-index.js';
import type { ArchiveStore } from '../ports/archive-store.js';

/**
 * Reads an archived record through its index entry with one ranged read (of the record's blob, or of
 * the gzip member holding it) and refuses bytes that fail their SHA-256.
 */
export class ArchiveReader {
  constructor(private readonly store: ArchiveStore) {}

  /** ArchivedGoneError when the blob is missing, IntegrityError when the bytes do not verify. */
  async read(entry: ArchiveEntry): Promise<RecordDocument> {
    const { location } = entry;
    const { layout, blob, offset, length } = location;
    let bytes: Buffer;
    try {
      const range = await this.store.get(blob, { offset, length });
      bytes = location.layout === 'segment' ? recordFromMember(range, location.line, blob) : range;
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
    const doc = JSON.parse(bytes.toString('utf8')) as RecordDocument;
    if (doc.id !== entry.id)
      throw new IntegrityError(`blob ${blob} holds record '${doc.id}', not '${entry.id}'`);
    return doc;
  }
}

/** The version tag of an archived record: its content hash, stable until it changes. */
export function archivedEtag(entry: ArchiveEntry): string {
  return `sha256-${entry.sha256}`;
}
