import {
  assertRecordId,
  newRecordDocument,
  replacedRecordDocument,
  type RecordDocument,
} from '../domain/billing-record.js';
import { ConflictError, NotFoundError, PreconditionFailedError } from '../domain/errors.js';
import {
  withdrawUnlessChanged,
  type ArchiveIndex,
  type ArchiveListQuery,
  type StoredEntry,
} from '../ports/archive-index.js';
import type { LiveListQuery, LiveStore } from '../ports/live-store.js';
import { archivedEtag, type ArchiveReader } from './archive-reader.js';
import type { Clock } from './clock.js';
import { RACE_ATTEMPTS, type Restorer } from './restorer.js';

export type RecordSource = 'live' | 'archive';

export interface RecordView {
  doc: RecordDocument;
  etag: string;
  source: RecordSource;
}

/** '*' or an etag the caller last saw; undefined means unconditional. */
export type IfMatch = string | undefined;

/** CRUD over billing records wherever they live: reads prefer the LiveStore, then the archive. */
export class RecordService {
  constructor(
    private readonly live: LiveStore,
    private readonly index: ArchiveIndex,
    private readonly reader: ArchiveReader,
    private readonly restorer: Restorer,
    private readonly clock: Clock,
  ) {}

  async create(input: unknown): Promise<RecordView> {
    const doc = newRecordDocument(input, this.clock());
    if (await this.index.get(doc.id)) {
      throw new ConflictError(`a record with id '${doc.id}' exists (archived)`, 'duplicate_id');
    }
    const stored = await this.live.create(doc);
    return { ...stored, source: 'live' };
  }

  async get(id: string): Promise<RecordView> {
    assertRecordId(id);
    for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt++) {
      const live = await this.live.get(id);
      if (live) return { ...live, source: 'live' };
      const entry = await this.index.get(id);
      if (!entry) {
        // A restore may have moved it back between the two reads.
        const restored = await this.live.get(id);
        if (restored) return { ...restored, source: 'live' };
        throw new NotFoundError(`record '${id}' not found`);
      }
      try {
        return { doc: await this.reader.read(entry), etag: archivedEtag(entry), source: 'archive' };
      } catch (error) {
        if (!(await this.entryChanged(entry))) throw error;
      }
    }
    throw new ConflictError(
      `record '${id}' kept moving while it was read; try again`,
      'concurrent_modification',
    );
  }

  async replace(id: string, input: unknown, ifMatch: IfMatch): Promise<RecordView> {
    assertRecordId(id);
    for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt++) {
      const live = await this.live.get(id);
      if (live) {
        checkIfMatch(id, ifMatch, live.etag);
        const staleEntry = await this.index.get(id);
        const doc = replacedRecordDocument(live.doc, input, this.clock());
        try {
          const stored = await this.live.replace(doc, live.etag);
          if (staleEntry) await withdrawUnlessChanged(this.index, staleEntry);
          return { ...stored, source: 'live' };
        } catch (error) {
          if (error instanceof PreconditionFailedError && ifMatch !== undefined) throw error;
          if (error instanceof PreconditionFailedError || error instanceof NotFoundError) continue;
          throw error;
        }
      }
      const entry = await this.index.get(id);
      if (!entry) {
        if (await this.live.get(id)) continue;
        throw new NotFoundError(`record '${id}' not found`);
      }
      checkIfMatch(id, ifMatch, archivedEtag(entry));
      const archived = await this.reader.read(entry);
      const outcome = await this.restorer.bringBack(
        entry,
        replacedRecordDocument(archived, input, this.clock()),
      );
      switch (outcome.kind) {
        case 'live':
          return { ...outcome.record, source: 'live' };
        case 'already-live':
          continue;
        case 'deleted':
          throw new NotFoundError(`record '${id}' was deleted while it was being updated`);
      }
    }
    throw new ConflictError(
      `record '${id}' kept changing while it was updated; try again`,
      'concurrent_modification',
    );
  }

  async delete(id: string, ifMatch: IfMatch): Promise<void> {
    assertRecordId(id);
    for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt++) {
      const live = await this.live.get(id);
      if (live) {
        checkIfMatch(id, ifMatch, live.etag);
        await this.noteDeletion(id);
        try {
          if (!(await this.live.delete(id, live.etag))) continue;
        } catch (error) {
          if (error instanceof PreconditionFailedError && ifMatch === undefined) continue;
          throw error;
        }
        // Any archived copy of the same id goes too, or it would resurface on the next read.
        await this.index.withdraw(id);
        return;
      }
      const entry = await this.index.get(id);
      if (!entry) {
        if (await this.live.get(id)) continue;
        throw new NotFoundError(`record '${id}' not found`);
      }
      checkIfMatch(id, ifMatch, archivedEtag(entry));
      await this.noteDeletion(id);
      try {
        if (await this.index.withdraw(id, entry.etag)) return;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError)) throw error;
      }
    }
    throw new ConflictError(
      `record '${id}' kept changing while it was deleted; try again`,
      'concurrent_modification',
    );
  }

  /**
   * Noted before the delete, so a crash between the two cannot let `verify --repair` rebuild an
   * entry for the deleted record from a segment that still holds an older copy of it.
   */
  private async noteDeletion(id: string): Promise<void> {
    await this.index.noteDeleted(id, this.clock().toISOString());
  }

  async restore(id: string): Promise<RecordView> {
    assertRecordId(id);
    return { ...(await this.restorer.restore(id)), source: 'live' };
  }

  async listLive(query: LiveListQuery): Promise<RecordView[]> {
    return (await this.live.list(query)).map((record) => ({ ...record, source: 'live' }));
  }

  async listArchived(query: ArchiveListQuery): Promise<StoredEntry[]> {
    return this.index.list(query);
  }

  private async entryChanged(entry: StoredEntry): Promise<boolean> {
    if (await this.live.get(entry.id)) return true;
    const now = await this.index.get(entry.id);
    return now?.etag !== entry.etag;
  }

  /** Removes an index entry left for a record that is live again; a newer entry is left alone. */
}

function checkIfMatch(id: string, ifMatch: IfMatch, current: string): void {
  if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== current) {
    throw new PreconditionFailedError(`record '${id}' is at version ${current}, not ${ifMatch}`);
  }
}
