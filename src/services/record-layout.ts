import { canonicalBytes, sha256Hex, type RecordDocument } from '../domain/billing-record.js';
import { IntegrityError } from '../domain/errors.js';
import type { ArchiveEntry } from '../ports/archive-index.js';
import type { ArchiveStore } from '../ports/archive-store.js';

/** How many blob writes one batch keeps in flight. */
const WRITE_CONCURRENCY = 16;

export type WriteOutcome = { ok: true; entry: ArchiveEntry } | { ok: false; id: string; error: Error };

/**
 * The `record` layout: one blob per archived record version. The name carries a prefix of the
 * record's SHA-256, so a re-run after a crash rewrites the same name with the same bytes, and a
 * changed record never overwrites a blob an index entry still points to.
 */
export class RecordLayout {
  constructor(private readonly store: ArchiveStore) {}

  /** Writes every record durably; one failure does not stop the others. Results are in input order. */
  async write(
    docs: readonly RecordDocument[],
    context: { runId: string; archivedAt: string },
  ): Promise<WriteOutcome[]> {
    const outcomes: WriteOutcome[] = [];
    for (let start = 0; start < docs.length; start += WRITE_CONCURRENCY) {
      const chunk = docs.slice(start, start + WRITE_CONCURRENCY);
      const settled = await Promise.allSettled(chunk.map((doc) => this.writeOne(doc, context)));
      settled.forEach((result, i) => {
        const id = chunk[i]?.id ?? '?';
        outcomes.push(
          result.status === 'fulfilled'
            ? { ok: true, entry: result.value }
            : {
                ok: false,
                id,
                error: result.reason instanceof Error ? result.reason : new Error(String(result.reason)),
              },
        );
      });
    }
    return outcomes;
  }

  private async writeOne(
    doc: RecordDocument,
    context: { runId: string; archivedAt: string },
  ): Promise<ArchiveEntry> {
    const bytes = canonicalBytes(doc);
    const sha256 = sha256Hex(bytes);
    const blob = recordBlobName(doc, sha256);
    const { created } = await this.store.putIfAbsent(blob, bytes, { sha256, recordCount: 1 });
    if (!created) {
      // A crashed run wrote this name already; its bytes must be exactly ours before an entry points at it.
      const existing = await this.store.get(blob);
      if (sha256Hex(existing) !== sha256)
        throw new IntegrityError(`existing blob '${blob}' does not hold record '${doc.id}'`);
    }
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

/** records/{yyyy}/{mm}/{id}.{sha256 prefix}.json, by creation month (UTC). */
export function recordBlobName(doc: RecordDocument, sha256: string): string {
  const created = new Date(doc.created_at);
  const month = Number.isNaN(created.getTime())
    ? 'undated'
    : `${created.getUTCFullYear().toString().padStart(4, '0')}/${(created.getUTCMonth() + 1).toString().padStart(2, '0')}`;
  return `records/${month}/${doc.id}.${sha256.slice(0, 16)}.json`;
}
