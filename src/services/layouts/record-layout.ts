import pMap from 'p-map';
import { canonicalBytes, sha256Hex, type RecordDocument } from '../../domain/billing-record.js';
import { creationMonth } from '../../domain/creation-month.js';
import { utcCreatedAt } from '../../domain/record-times.js';
import { IntegrityError } from '../../domain/errors.js';
import {
  sameLocation,
  type ArchiveEntry,
  type ArchiveIndex,
  type ArchiveLocation,
} from '../../ports/archive-index.js';
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

/** How many blob writes one batch keeps in flight. */
const WRITE_CONCURRENCY = 16;
const RECORDS_PREFIX = 'records/';
/**
 * Held records' copies: the lifecycle policy tiers this prefix but never deletes under it. Azure's
 * lifecycle filters can only include blobs, never exclude them, so a held record has to leave the
 * blobs the delete rule covers.
 */
export const HELD_PREFIX = 'held/';
/** `records/{yyyy}/{mm}/{id}.{16 hex}.json` or `held/{id}.{16 hex}.json`: the id, the hash prefix. */
const RECORD_BLOB_NAME = /^(?:records\/\d{4}\/\d{2}\/|held\/)([^/]+)\.([0-9a-f]{16})\.json$/;

/**
 * The `record` layout: one blob per archived record version. The name carries a prefix of the
 * record's SHA-256, so a re-run after a crash rewrites the same name with the same bytes, and a
 * changed record never overwrites a blob an index entry still points to.
 */
export class RecordLayout implements ArchiveLayout {
  readonly name = 'record';
  readonly prefixes = [RECORDS_PREFIX, HELD_PREFIX];

  constructor(private readonly store: ArchiveStore) {}

  open(context: LayoutContext): LayoutWriter {
    return {
      add: async (records) => [await this.write(records, context)],
      finish: () => Promise.resolve([]),
    };
  }

  read(location: ArchiveLocation, options?: ReadOptions): Promise<Buffer> {
    return this.store.get(location.blob, { offset: location.offset, length: location.length }, options);
  }

  /** One read each: every record is a blob of its own. */
  readMany(locations: readonly ArchiveLocation[], options?: ReadOptions): Promise<(Buffer | Error)[]> {
    return pMap(locations, (location) => this.read(location, options).catch(asError), {
      concurrency: READS_AT_ONCE,
    });
  }

  /** A record blob is needed while its record's entry points to it. */
  async stillReferenced(
    index: ArchiveIndex,
    garbage: { id: string; location: ArchiveLocation },
  ): Promise<boolean> {
    const current = await index.get(garbage.id);
    return current !== undefined && sameLocation(current.location, garbage.location);
  }

  remove(blob: string): Promise<void> {
    return this.store.delete(blob);
  }

  blobs(): AsyncIterable<ListedBlob> {
    return listedBlobs(this.store, this.prefixes);
  }

  /** The record id a record or held blob's name carries; undefined for any other name. */
  idOf(blob: string): string | undefined {
    return RECORD_BLOB_NAME.exec(blob)?.[1];
  }

  /**
   * The entry a record blob's own bytes make, for a repair whose index lost it, with the record's
   * last update: undefined unless the bytes are the canonical JSON of the record the name says,
   * with the hash the name carries. When and by which run it was archived are lost with the entry:
   * the blob's time and the repair stand in.
   */
  entryOfBlob(
    blob: string,
    bytes: Buffer,
    archivedAt: string,
    runId: string,
  ): { entry: ArchiveEntry; updatedAt: string } | undefined {
    const sha256 = sha256Hex(bytes);
    const [, id, hashPrefix] = RECORD_BLOB_NAME.exec(blob) ?? [];
    if (!id || !hashPrefix || !sha256.startsWith(hashPrefix)) return undefined;
    let doc: RecordDocument;
    try {
      doc = JSON.parse(bytes.toString('utf8')) as RecordDocument;
    } catch {
      return undefined;
    }
    if (doc.id !== id || typeof doc.updated_at !== 'string' || !canonicalBytes(doc).equals(bytes))
      return undefined;
    const entry: ArchiveEntry = {
      id,
      customer_id: typeof doc.customer_id === 'string' ? doc.customer_id : '',
      created_at: utcCreatedAt(doc.created_at),
      location: { layout: 'record', blob, offset: 0, length: bytes.length },
      sha256,
      size: bytes.length,
      archived_at: archivedAt,
      run_id: runId,
    };
    return { entry, updatedAt: doc.updated_at };
  }

  /** Whether the entry already points to a held copy. */
  isHeld(location: ArchiveLocation): boolean {
    return location.layout === 'record' && location.blob.startsWith(HELD_PREFIX);
  }

  /**
   * Writes a held record's bytes to a blob of its own under `held/`; returns the entry pointing
   * there, archived when and by whom it was before.
   */
  async writeHeld(entry: ArchiveEntry, bytes: Buffer): Promise<ArchiveEntry> {
    if (sha256Hex(bytes) !== entry.sha256)
      throw new IntegrityError(`the bytes given for held record '${entry.id}' are not its archived bytes`);
    const blob = `${HELD_PREFIX}${entry.id}.${entry.sha256.slice(0, 16)}.json`;
    await this.putRecord(blob, bytes, entry.id);
    return { ...entry, location: { layout: 'record', blob, offset: 0, length: bytes.length } };
  }

  /** Writes every record durably; one failure does not stop the others. */
  private async write(records: readonly StoredRecord[], context: LayoutContext): Promise<DurableBatch> {
    const batch: DurableBatch = { written: [], failed: [] };
    const settled = await pMap(
      records,
      (record) =>
        this.writeOne(record.doc, context).then(
          (entry) => ({ entry }),
          (error: unknown) => ({ error: error instanceof Error ? error : new Error(String(error)) }),
        ),
      { concurrency: WRITE_CONCURRENCY },
    );
    settled.forEach((result, i) => {
      const record = records[i];
      if (!record) return;
      if ('entry' in result) batch.written.push({ entry: result.entry, etag: record.etag });
      else batch.failed.push({ id: record.doc.id, error: result.error });
    });
    return batch;
  }

  private async writeOne(doc: RecordDocument, context: LayoutContext): Promise<ArchiveEntry> {
    const bytes = canonicalBytes(doc);
    const blob = recordBlobName(doc, sha256Hex(bytes));
    const { sha256 } = await this.putRecord(blob, bytes, doc.id);
    return {
      id: doc.id,
      customer_id: typeof doc.customer_id === 'string' ? doc.customer_id : '',
      // UTC, so the retention sweep's comparison as text is one of instants.
      created_at: utcCreatedAt(doc.created_at),
      location: { layout: 'record', blob, offset: 0, length: bytes.length },
      sha256,
      size: bytes.length,
      archived_at: context.archivedAt,
      run_id: context.runId,
    };
  }

  private putRecord(blob: string, bytes: Buffer, id: string): Promise<{ sha256: string }> {
    return putVerified(this.store, blob, bytes, `existing blob '${blob}' does not hold record '${id}'`);
  }
}

/** records/{yyyy}/{mm}/{id}.{sha256 prefix}.json, by creation month (UTC). */
export function recordBlobName(doc: RecordDocument, sha256: string): string {
  return `${RECORDS_PREFIX}${creationMonth(doc.created_at).replace(/-(\d\d)$/, '/$1')}/${doc.id}.${sha256.slice(0, 16)}.json`;
}
