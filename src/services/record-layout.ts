import { canonicalBytes, sha256Hex, type RecordDocument } from '../domain/billing-record.js';
import { IntegrityError } from '../domain/errors.js';
import type { ArchiveEntry } from '../ports/archive-index.js';
import type { ArchiveStore } from '../ports/archive-store.js';
import type { StoredRecord } from '../ports/live-store.js';
import type { ArchiveLayout, DurableBatch, LayoutContext, LayoutWriter } from './archive-layout.js';

/** How many blob writes one batch keeps in flight. */
const WRITE_CONCURRENCY = 16;

/**
 * The `record` layout: one blob per archived record version. The name carries a prefix of the
 * record's SHA-256, so a re-run after a crash rewrites the same name with the same bytes, and a
 * changed record never overwrites a blob an index entry still points to.
 */
export class RecordLayout implements ArchiveLayout {
  readonly name = 'record';

  constructor(private readonly store: ArchiveStore) {}

  open(context: LayoutContext): LayoutWriter {
    return {
      add: async (records) => [await this.write(records, context)],
      finish: () => Promise.resolve([]),
    };
  }

  /** Writes every record durably; one failure does not stop the others. */
  private async write(records: readonly StoredRecord[], context: LayoutContext): Promise<DurableBatch> {
    const batch: DurableBatch = { written: [], failed: [] };
    for (let start = 0; start < records.length; start += WRITE_CONCURRENCY) {
      const chunk = records.slice(start, start + WRITE_CONCURRENCY);
      const settled = await Promise.allSettled(chunk.map((record) => this.writeOne(record.doc, context)));
      settled.forEach((result, i) => {
        const record = chunk[i];
        if (!record) return;
        if (result.status === 'fulfilled') batch.written.push({ entry: result.value, etag: record.etag });
        else
          batch.failed.push({
            id: record.doc.id,
            error: result.reason instanceof Error ? result.reason : new Error(String(result.reason)),
          });
      });
    }
    return batch;
  }

  private async writeOne(doc: RecordDocument, context: LayoutContext): Promise<ArchiveEntry> {
    const bytes = canonicalBytes(doc);
    const sha256 = sha256Hex(bytes);
    const blob = recordBlobName(doc, sha256);
    await putRecordBlob(this.store, blob, bytes, { id: doc.id, sha256 });
    return {
      id: doc.id,
      customer_id: typeof doc.customer_id === 'string' ? doc.customer_id : '',
      created_at: doc.created_at,
      location: { layout: 'record', blob, offset: 0, length: bytes.length },
      sha256,
      size: bytes.length,
      archived_at: context.archivedAt,
      run_id: context.runId,
    };
  }
}

/**
 * Writes one record's bytes to `blob`, create-only. When the name exists (a crashed run wrote it),
 * its bytes must be exactly these before an entry may point at it.
 */
export async function putRecordBlob(
  store: ArchiveStore,
  blob: string,
  bytes: Uint8Array,
  record: { id: string; sha256: string },
): Promise<void> {
  const { created } = await store.putIfAbsent(blob, bytes, { sha256: record.sha256, recordCount: 1 });
  if (!created && sha256Hex(await store.get(blob)) !== record.sha256)
    throw new IntegrityError(`existing blob '${blob}' does not hold record '${record.id}'`);
}

/** records/{yyyy}/{mm}/{id}.{sha256 prefix}.json, by creation month (UTC). */
export function recordBlobName(doc: RecordDocument, sha256: string): string {
  const created = new Date(doc.created_at);
  const month = Number.isNaN(created.getTime())
    ? 'undated'
    : `${created.getUTCFullYear().toString().padStart(4, '0')}/${(created.getUTCMonth() + 1).toString().padStart(2, '0')}`;
  return `records/${month}/${doc.id}.${sha256.slice(0, 16)}.json`;
}
