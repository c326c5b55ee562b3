import { canonicalBytes, sha256Hex } from '../domain/billing-record.js';
import { IntegrityError } from '../domain/errors.js';
import {
  creationMonth,
  manifestNameOf,
  SegmentBuilder,
  segmentName,
  type SegmentLimits,
  type SegmentManifest,
} from '../domain/segment-format.js';
import type { ArchiveEntry } from '../ports/archive-index.js';
import type { ArchiveStore } from '../ports/archive-store.js';
import type { StoredRecord } from '../ports/live-store.js';
import type { ArchiveLayout, DurableBatch, LayoutContext, LayoutWriter } from './archive-layout.js';

/**
 * The `segment` layout: the records of one creation month gathered across read batches into one
 * gzip NDJSON blob, with a manifest beside it. A run names its segments after itself, so no two runs
 * ever write the same name.
 */
export class SegmentLayout implements ArchiveLayout {
  readonly name = 'segment';

  constructor(
    private readonly store: ArchiveStore,
    private readonly limits: SegmentLimits,
  ) {}

  open(context: LayoutContext): LayoutWriter {
    return new SegmentWriter(this.store, this.limits, context);
  }
}

class SegmentWriter implements LayoutWriter {
  private builder = new SegmentBuilder();
  private month: string | undefined;
  private etags: string[] = [];
  private sealed = 0;

  constructor(
    private readonly store: ArchiveStore,
    private readonly limits: SegmentLimits,
    private readonly context: LayoutContext,
  ) {}

  async add(records: readonly StoredRecord[]): Promise<DurableBatch[]> {
    const batches: DurableBatch[] = [];
    for (const record of records) {
      const { doc } = record;
      const month = creationMonth(doc.created_at);
      if (this.builder.recordCount > 0 && (month !== this.month || this.builder.isFull(this.limits)))
        batches.push(await this.seal());
      this.month = month;
      const bytes = canonicalBytes(doc);
      this.builder.add(bytes, {
        id: doc.id,
        customer_id: typeof doc.customer_id === 'string' ? doc.customer_id : '',
        created_at: doc.created_at,
        sha256: sha256Hex(bytes),
      });
      this.etags.push(record.etag);
    }
    return batches;
  }

  async finish(): Promise<DurableBatch[]> {
    return this.builder.recordCount > 0 ? [await this.seal()] : [];
  }

  private async seal(): Promise<DurableBatch> {
    this.sealed += 1;
    const name = segmentName(this.month ?? 'undated', this.context.runId, this.sealed);
    const { builder, etags } = this;
    this.builder = new SegmentBuilder();
    this.etags = [];
    const { entries } = await writeSegment(this.store, builder, name, this.context);
    return { written: entries.map((entry, i) => ({ entry, etag: etags[i] ?? '' })), failed: [] };
  }
}

/**
 * Seals the builder into `name`: the segment first, then its manifest, so a manifest never
 * describes a segment that is not there. Returns the entries to index, in the order records were
 * added, and the segment's size.
 */
export async function writeSegment(
  store: ArchiveStore,
  builder: SegmentBuilder,
  name: string,
  context: LayoutContext,
): Promise<{ entries: ArchiveEntry[]; bytes: number }> {
  const { bytes, manifest } = builder.seal(name, context);
  await putVerified(store, name, bytes, manifest.record_count);
  await putVerified(
    store,
    manifestNameOf(name),
    Buffer.from(JSON.stringify(manifest)),
    manifest.record_count,
  );
  return { entries: entriesOf(manifest, context), bytes: bytes.length };
}

async function putVerified(
  store: ArchiveStore,
  name: string,
  bytes: Buffer,
  recordCount: number,
): Promise<void> {
  const sha256 = sha256Hex(bytes);
  const { created } = await store.putIfAbsent(name, bytes, { sha256, recordCount });
  // Run ids are unique, so the name can only exist if an earlier attempt of this very write landed.
  if (!created && sha256Hex(await store.get(name)) !== sha256)
    throw new IntegrityError(`blob '${name}' exists with other content; refusing to index into it`);
}

/** The index entries a manifest describes, one per record. */
export function entriesOf(manifest: SegmentManifest, context: LayoutContext): ArchiveEntry[] {
  return manifest.records.map((record) => {
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
      sha256: record.sha256,
      size: record.length,
      archived_at: context.archivedAt,
      run_id: context.runId,
    };
  });
}
