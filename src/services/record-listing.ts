import pMap from 'p-map';
import type { RecordDocument, RecordStatus } from '../domain/billing-record.js';
import { compareCreation, creationKeyOf, type CreationKey } from '../domain/creation-order.js';
import { ArchivedOfflineError, NotFoundError } from '../domain/errors.js';
import type { ArchiveIndex, StoredEntry } from '../ports/archive-index.js';
import type { AccessTier, ArchiveTiers } from '../ports/archive-store.js';
import type { LiveStore, StoredRecord } from '../ports/live-store.js';
import { archivedEtag, type ArchiveReader, type VerifiedRecord } from './archive-reader.js';
import type { DeletedDuringRuns } from './deleted-during-run.js';

/** Which records a listing across the live store and the archive holds; every filter given applies. */
export interface RecordQuery {
  customerId?: string | undefined;
  status?: RecordStatus | undefined;
  /** `created_at` at or after this UTC text (`2025-01-01T00:00:00.000Z`). */
  createdFrom?: string | undefined;
  /** `created_at` before this UTC text. */
  createdBefore?: string | undefined;
}

export interface PageRequest {
  limit: number;
  /** The key of the last record of the previous page. */
  after?: CreationKey | undefined;
  /** Whether reading a record whose blob is in the Archive tier may start its rehydration. */
  rehydrate?: boolean | undefined;
}

export type ListedRecord = LiveListed | ArchivedListed;

export interface LiveListed {
  source: 'live';
  key: CreationKey;
  doc: RecordDocument;
  etag: string;
}

export interface ArchivedListed {
  source: 'archive';
  key: CreationKey;
  entry: StoredEntry;
  etag: string;
  /** The blob's access tier; null where the store has none (a local directory). */
  tier: AccessTier | null;
  /** The record, or why it cannot be read yet: its blob is in the Archive tier. */
  read: VerifiedRecord | { rehydrating: boolean };
}

export interface ListedPage {
  items: ListedRecord[];
  /** Whether records follow the last one of `items`. */
  more: boolean;
}

/** Entries asked of the index at once while a status filter, which only the bodies tell, drops some. */
const FILTERED_BATCH = 200;
const TIER_LOOKS_AT_ONCE = 8;

/**
 * One listing of live and archived records together, in creation order (creation-order.ts), paged
 * by the key of the last record given. A page reads the live store, then the archive, then the
 * live store again, each for one record more than the page holds, and merges the three:
 *
 * - A run moves a record by indexing it before deleting it live: missed by the first live read, it
 *   was indexed before that read, so the archive read finds it.
 * - A restore makes the record live before withdrawing its entry: missed by the archive read, it
 *   was live before the second live read began.
 *
 * A record is where it is at the instant of some read, and its key never changes as it moves (the
 * archive keeps `created_at` in UTC, as this API writes it), so paging by key lists each record
 * once, moved or not. Where one page finds a record in both places, the live copy is the one shown.
 */
export class RecordListing {
  constructor(
    private readonly deps: {
      live: LiveStore;
      index: ArchiveIndex;
      reader: ArchiveReader;
      /** Present where the archive store has access tiers. */
      tiers: ArchiveTiers | undefined;
      deletedDuringRuns: DeletedDuringRuns;
    },
  ) {}

  async page(query: RecordQuery, request: PageRequest): Promise<ListedPage> {
    const want = request.limit + 1;
    const firstLive = await this.live(query, request.after, want);
    const archived = await this.archived(query, request, want);
    const secondLive = await this.live(query, request.after, want);
    const byId = new Map<string, ListedRecord>();
    for (const item of archived) byId.set(item.key.id, item);
    for (const item of [...firstLive, ...secondLive]) byId.set(item.key.id, item);
    const merged = [...byId.values()].sort((a, b) => compareCreation(a.key, b.key));
    return { items: merged.slice(0, request.limit), more: merged.length > request.limit };
  }

  private async live(
    query: RecordQuery,
    after: CreationKey | undefined,
    want: number,
  ): Promise<LiveListed[]> {
    const records = await this.deps.live.list({
      limit: want,
      byCreation: { after },
      customerId: query.customerId,
      status: query.status,
      createdFrom: query.createdFrom,
      createdBefore: query.createdBefore,
    });
    return records.flatMap((record: StoredRecord) => {
      const key = creationKeyOf(record.doc);
      return key ? [{ source: 'live' as const, key, doc: record.doc, etag: record.etag }] : [];
    });
  }

  /**
   * The first `want` archived records after the key that match: entries in creation order, read
   * a batch at a time. A status filter is told by the bodies (entries keep no status), so it may
   * take several batches; a record that cannot be read yet is kept, its status unknown.
   */
  private async archived(query: RecordQuery, request: PageRequest, want: number): Promise<ArchivedListed[]> {
    const batch = query.status === undefined ? want : Math.max(want, FILTERED_BATCH);
    const found: ArchivedListed[] = [];
    let after = request.after;
    for (;;) {
      const entries = await this.deps.index.list({
        limit: batch,
        byCreation: { after },
        customerId: query.customerId,
        createdFrom: query.createdFrom,
        createdBefore: query.createdBefore,
      });
      const hidden = await this.deps.deletedDuringRuns(entries);
      const listed = await this.readAll(
        entries.filter((entry) => !hidden.has(entry.id)),
        request.rehydrate ?? false,
      );
      for (const item of listed) if (matchesStatus(item, query.status)) found.push(item);
      const last = entries.at(-1);
      if (found.length >= want || entries.length < batch || !last) return found.slice(0, want);
      after = { createdAt: last.created_at, id: last.id };
    }
  }

  /** The records of these entries, each member read once, with their blobs' tiers. */
  private async readAll(entries: readonly StoredEntry[], rehydrate: boolean): Promise<ArchivedListed[]> {
    const tiers = await this.tiersOf(entries);
    const reads = await this.deps.reader.readMany(entries, { rehydrate });
    const listed = await pMap(
      entries,
      async (entry, i): Promise<ArchivedListed[]> => {
        let read = reads[i] as VerifiedRecord | Error;
        let now = entry;
        if (read instanceof Error && !(read instanceof ArchivedOfflineError)) {
          // Moved meanwhile (compaction, a restore, a delete): read where the entry points now.
          const current = await this.deps.index.get(entry.id);
          if (!current) return [];
          if (current.etag === entry.etag) throw read;
          now = current;
          read = (await this.deps.reader.readMany([current], { rehydrate }))[0] as VerifiedRecord | Error;
          if (read instanceof Error && !(read instanceof ArchivedOfflineError)) throw read;
        }
        return [
          {
            source: 'archive',
            key: { createdAt: now.created_at, id: now.id },
            entry: now,
            etag: archivedEtag(now),
            tier: tiers.has(now.location.blob)
              ? (tiers.get(now.location.blob) ?? null)
              : await this.tierOf(now.location.blob),
            read: read instanceof ArchivedOfflineError ? { rehydrating: read.rehydrating } : read,
          },
        ];
      },
      { concurrency: TIER_LOOKS_AT_ONCE },
    );
    return listed.flat();
  }

  private async tiersOf(entries: readonly StoredEntry[]): Promise<Map<string, AccessTier | null>> {
    const blobs = [...new Set(entries.map((entry) => entry.location.blob))];
    const tiers = await pMap(blobs, async (blob) => [blob, await this.tierOf(blob)] as const, {
      concurrency: TIER_LOOKS_AT_ONCE,
    });
    return new Map(tiers);
  }

  /** Null where the store has no tiers, or the blob is gone (its read says so). */
  private async tierOf(blob: string): Promise<AccessTier | null> {
    if (!this.deps.tiers) return null;
    try {
      return await this.deps.tiers.tierOf(blob);
    } catch (error) {
      if (error instanceof NotFoundError) return null;
      throw error;
    }
  }
}

function matchesStatus(item: ArchivedListed, status: RecordStatus | undefined): boolean {
  return status === undefined || !('doc' in item.read) || item.read.doc.status === status;
}
