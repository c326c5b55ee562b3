import pMap from 'p-map';
import type { Logger } from 'pino';
import type { RecordDocument, RecordStatus } from '../domain/billing-record.js';
import { compareCreation, compareText, creationKeyOf, type CreationKey } from '../domain/creation-order.js';
import { ArchivedGoneError, ArchivedOfflineError, IntegrityError, NotFoundError } from '../domain/errors.js';
import type { ArchiveIndex, StoredEntry } from '../ports/archive-index.js';
import type { AccessTier, ArchiveTiers } from '../ports/archive-store.js';
import { liveRecordsAmong, type LiveStore, type StoredRecord } from '../ports/live-store.js';
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
  /** Where the previous page ended. */
  after?: CreationKey | undefined;
  /** Whether to start rehydrating the Archive-tier records the page holds (one per blob). */
  rehydrate?: boolean | undefined;
}

export type ListedRecord = LiveListed | ArchivedListed;

export interface LiveListed {
  source: 'live';
  key: CreationKey;
  doc: RecordDocument;
  etag: string;
}

/** Why an archived record is listed without its body. */
export type Unread =
  /** Its blob is in the Archive tier; whether a rehydration is under way. */
  | { rehydrating: boolean }
  /** Its blob is gone while its entry stands, or its bytes fail their SHA-256 (logged). */
  | { unreadable: 'archived_gone' | 'integrity_error' };

export interface ArchivedListed {
  source: 'archive';
  key: CreationKey;
  entry: StoredEntry;
  etag: string;
  /** The blob's access tier; null where the store has none (a local directory). */
  tier: AccessTier | null;
  read: VerifiedRecord | Unread;
}

export interface ListedPage {
  items: ListedRecord[];
  /** Where the next page starts (after the last item, or past entries scanned and left out); undefined at the end. */
  next: CreationKey | undefined;
}

/** Entries asked of the index at once while a status filter, which only the bodies tell, drops some. */
const FILTERED_BATCH = 200;
/**
 * Index batches one page reads at most under a status filter: a rare status then ends a page early
 * (with a cursor past what was scanned) instead of reading the whole archive in one request.
 */
const FILTERED_BATCHES = 5;
const LOOKS_AT_ONCE = 8;

/**
 * One listing of live and archived records together, in creation order (creation-order.ts), paged
 * by the key where the previous page ended. A page reads the live store, then the archive, then the
 * live store again, each for one record more than the page holds, and merges the three:
 *
 * - A run moves a record by indexing it before deleting it live: missed by the first live read, it
 *   was indexed before that read, so the archive read finds it.
 * - A restore makes the record live before withdrawing its entry: missed by the archive read, it
 *   was live before the second live read began.
 *
 * Then the archived records of the page are looked for in the live store: an entry standing beside
 * its live record (a run's copy of a record changed meanwhile, until the run withdraws it, or one a
 * crash left) gives way to the live record, shown where it matches the filters. Where one page
 * finds a record in both places, the live copy is the one shown.
 *
 * A record's key never changes as it moves (the archive keeps `created_at` in UTC, as this API
 * writes it), so paging by key lists each record once, moved or not.
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
      logger: Logger;
    },
  ) {}

  async page(query: RecordQuery, request: PageRequest): Promise<ListedPage> {
    const want = request.limit + 1;
    const firstLive = await this.live(query, request.after, want);
    const archived = await this.archived(query, request.after, want);
    const secondLive = await this.live(query, request.after, want);
    const byId = new Map<string, ListedRecord>();
    for (const item of archived.items) byId.set(item.key.id, item);
    for (const item of [...firstLive, ...secondLive]) byId.set(item.key.id, item);
    await this.preferLive(byId, query, request.after);
    let merged = [...byId.values()].sort((a, b) => compareCreation(a.key, b.key));
    // Each read that came back full says nothing past its last key: the page ends there at the
    // latest, even when the merge dropped items before it (a stale entry given way to a live record
    // the filters leave out), and the next page starts there.
    const boundary = earliest([
      fullUpTo(firstLive, want),
      archived.scannedTo ?? fullUpTo(archived.items, want),
      fullUpTo(secondLive, want),
    ]);
    if (boundary) merged = merged.filter((item) => compareCreation(item.key, boundary) <= 0);
    const items = merged.slice(0, request.limit);
    const next = merged.length > request.limit ? items.at(-1)?.key : boundary;
    if (request.rehydrate) await this.startRehydrations(items);
    return { items, next };
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
    return records.flatMap((record) => liveItem(record) ?? []);
  }

  /**
   * The first `want` archived records after the key that match: entries in creation order, read a
   * batch at a time. A status filter is told by the bodies (entries keep no status), so it may take
   * several batches, at most FILTERED_BATCHES (`scannedTo` then says how far they reached); a
   * record listed without its body is kept, its status unknown.
   */
  private async archived(
    query: RecordQuery,
    from: CreationKey | undefined,
    want: number,
  ): Promise<{ items: ArchivedListed[]; scannedTo?: CreationKey }> {
    const filtered = query.status !== undefined;
    const batch = filtered ? Math.max(want, FILTERED_BATCH) : want;
    const found: ArchivedListed[] = [];
    let after = from;
    for (let batches = 1; ; batches++) {
      const entries = await this.deps.index.list({
        limit: batch,
        byCreation: { after },
        customerId: query.customerId,
        createdFrom: query.createdFrom,
        createdBefore: query.createdBefore,
      });
      const hidden = await this.deps.deletedDuringRuns(entries);
      const listed = await this.readAll(entries.filter((entry) => !hidden.has(entry.id)));
      for (const item of listed) if (matchesStatus(item, query.status)) found.push(item);
      const last = entries.at(-1);
      if (found.length >= want || entries.length < batch || !last) return { items: found.slice(0, want) };
      after = { createdAt: last.created_at, id: last.id };
      if (filtered && batches >= FILTERED_BATCHES) return { items: found, scannedTo: after };
    }
  }

  /** The records of these entries, each member read once, with their blobs' tiers; no rehydration starts. */
  private async readAll(entries: readonly StoredEntry[]): Promise<ArchivedListed[]> {
    const tiers = await this.tiersOf(entries.map((entry) => entry.location.blob));
    const reads = await this.deps.reader.readMany(entries, { rehydrate: false });
    const listed = await pMap(
      entries,
      async (entry, i): Promise<ArchivedListed[]> => {
        let now = entry;
        let read = reads[i] as VerifiedRecord | Error;
        if (read instanceof Error && !(read instanceof ArchivedOfflineError)) {
          // Moved meanwhile (compaction, a restore, a delete): read where the entry points now.
          const current = await this.deps.index.get(entry.id);
          if (!current) return [];
          if (current.etag !== entry.etag) {
            now = current;
            read = (await this.deps.reader.readMany([current], { rehydrate: false }))[0] as
              VerifiedRecord | Error;
          }
        }
        const tier = tiers.has(now.location.blob)
          ? (tiers.get(now.location.blob) ?? null)
          : ((await this.tiersOf([now.location.blob])).get(now.location.blob) ?? null);
        return [
          {
            source: 'archive',
            key: keyOf(now),
            entry: now,
            etag: archivedEtag(now),
            tier,
            read: this.unread(now, read),
          },
        ];
      },
      { concurrency: LOOKS_AT_ONCE },
    );
    return listed.flat();
  }

  /** What the listing says of a read: the record, or why it comes without its body. Other errors stand. */
  private unread(entry: StoredEntry, read: VerifiedRecord | Error): VerifiedRecord | Unread {
    if (!(read instanceof Error)) return read;
    if (read instanceof ArchivedOfflineError) return { rehydrating: read.rehydrating };
    const log = { record_id: entry.id, blob: entry.location.blob, err: read };
    if (read instanceof ArchivedGoneError) {
      this.deps.logger.warn(log, 'an archived record listed is gone from the archive while its entry stands');
      return { unreadable: 'archived_gone' };
    }
    if (read instanceof IntegrityError) {
      this.deps.logger.error(log, 'an archived record listed fails its integrity check; it is not served');
      return { unreadable: 'integrity_error' };
    }
    throw read;
  }

  /**
   * Archived records of the page that are live now give way to the live record: shown when it still
   * matches the listing, left out when it does not (its status changed since the copy was made).
   */
  private async preferLive(
    byId: Map<string, ListedRecord>,
    query: RecordQuery,
    after: CreationKey | undefined,
  ): Promise<void> {
    const archivedIds = [...byId.values()].flatMap((item) =>
      item.source === 'archive' ? [item.key.id] : [],
    );
    for (const record of await liveRecordsAmong(this.deps.live, archivedIds)) {
      const item = liveItem(record);
      if (item && matchesLive(item, query, after)) byId.set(record.doc.id, item);
      else byId.delete(record.doc.id);
    }
  }

  /**
   * Starts one rehydration per blob of the page's Archive-tier records (reading one of its records
   * with `rehydrate`): only records the page shows, never those a page read and left out.
   */
  private async startRehydrations(items: readonly ListedRecord[]): Promise<void> {
    const waiting = new Map<string, ArchivedListed[]>();
    for (const item of items)
      if (item.source === 'archive' && 'rehydrating' in item.read && !item.read.rehydrating)
        waiting.set(item.entry.location.blob, [...(waiting.get(item.entry.location.blob) ?? []), item]);
    await pMap(
      waiting.values(),
      async (same) => {
        const first = same[0] as ArchivedListed;
        try {
          await this.deps.reader.readBytes(first.entry, { rehydrate: true });
        } catch (error) {
          if (!(error instanceof ArchivedOfflineError)) throw error;
          for (const item of same) item.read = { rehydrating: error.rehydrating };
          return;
        }
        // Readable already (the copy finished meanwhile): read them.
        const reads = await this.deps.reader.readMany(
          same.map((item) => item.entry),
          { rehydrate: false },
        );
        same.forEach((item, i) => {
          item.read = this.unread(item.entry, reads[i] as VerifiedRecord | Error);
        });
      },
      { concurrency: LOOKS_AT_ONCE },
    );
  }

  private async tiersOf(blobs: readonly string[]): Promise<Map<string, AccessTier | null>> {
    const distinct = [...new Set(blobs)];
    const tiers = await pMap(distinct, async (blob) => [blob, await this.tierOf(blob)] as const, {
      concurrency: LOOKS_AT_ONCE,
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

function liveItem(record: StoredRecord): LiveListed | undefined {
  const key = creationKeyOf(record.doc);
  return key && { source: 'live', key, doc: record.doc, etag: record.etag };
}

function keyOf(entry: StoredEntry): CreationKey {
  return { createdAt: entry.created_at, id: entry.id };
}

function matchesStatus(item: ArchivedListed, status: RecordStatus | undefined): boolean {
  return status === undefined || !('doc' in item.read) || item.read.doc.status === status;
}

/** The listing's filters, as the stores apply them (text comparisons), on a live record. */
function matchesLive(item: LiveListed, query: RecordQuery, after: CreationKey | undefined): boolean {
  const { doc, key } = item;
  return (
    (after === undefined || compareCreation(key, after) > 0) &&
    (query.customerId === undefined || doc.customer_id === query.customerId) &&
    (query.status === undefined || doc.status === query.status) &&
    (query.createdFrom === undefined || compareText(key.createdAt, query.createdFrom) >= 0) &&
    (query.createdBefore === undefined || compareText(key.createdAt, query.createdBefore) < 0)
  );
}

/** The last key of a read that returned all it was asked for (more may follow it), else undefined. */
function fullUpTo(items: readonly ListedRecord[], asked: number): CreationKey | undefined {
  return items.length >= asked ? items.at(-1)?.key : undefined;
}

function earliest(keys: readonly (CreationKey | undefined)[]): CreationKey | undefined {
  let first: CreationKey | undefined;
  for (const key of keys) if (key && (!first || compareCreation(key, first) < 0)) first = key;
  return first;
}
