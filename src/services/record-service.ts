import {
  assertRecordId,
  newRecordDocument,
  replacedRecordDocument,
  type RecordDocument,
} from '../domain/billing-record.js';
import {
  ConflictError,
  DeletionUnderWayError,
  NotFoundError,
  PreconditionFailedError,
} from '../domain/errors.js';
import {
  withdrawUnlessChanged,
  type ArchiveIndex,
  type ArchiveListQuery,
  type StoredEntry,
} from '../ports/archive-index.js';
import type { DeletionNotes } from '../ports/deletion-notes.js';
import type { HoldEvent, LegalHold, LegalHolds } from '../ports/legal-holds.js';
import type { LiveStore } from '../ports/live-store.js';
import { archivedEtag, type ArchiveReader } from './archive-reader.js';
import type { Clock } from './clock.js';
import type { DeletedDuringRun } from './deleted-during-run.js';
import {
  assertClaimFresh,
  claimForDeletion,
  placeHoldBesideDeletes,
  type HeldClaim,
} from './deletion-claims.js';
import { actWhereFound, lookUp, LOOK_AGAIN, type RecordStores } from './record-races.js';
import type { Restorer } from './restorer.js';

export type RecordSource = 'live' | 'archive';

export interface RecordView {
  doc: RecordDocument;
  etag: string;
  source: RecordSource;
  /** The document's canonical bytes, when they were read as such (an archived copy, verified). */
  bytes?: Buffer;
}

/** A record's legal hold as the API shows it: whether it is held, since when, and every change. */
export interface HoldView {
  record_id: string;
  legal_hold: boolean;
  hold: LegalHold | null;
  history: HoldEvent[];
}

/** A request to place (`held` true) or lift a legal hold, with who asks and why. */
export interface HoldRequest {
  held: boolean;
  by: string;
  reason: string;
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
    private readonly holds: LegalHolds,
    private readonly deletions: DeletionNotes,
    private readonly clock: Clock,
    private readonly deletedDuringRun: DeletedDuringRun,
  ) {}

  private get stores(): RecordStores {
    return { live: this.live, index: this.index, deletedDuringRun: this.deletedDuringRun };
  }

  async create(input: unknown): Promise<RecordView> {
    const doc = newRecordDocument(input, this.clock());
    if (await this.isArchived(doc.id)) {
      throw new ConflictError(`a record with id '${doc.id}' exists (archived)`, 'duplicate_id');
    }
    const stored = await this.live.create(doc);
    // An archival run may have moved a record of this id between the look and the create: the
    // create succeeded only because the run deleted the live copy, after indexing it. Left beside
    // the archived record, the new one would shadow it and a later change would withdraw it.
    // A look that fails (the index being rebuilt, a store down) takes the create back as well:
    // the client is told it failed.
    const archived = await this.isArchived(doc.id).catch(async (error: unknown) => {
      await this.live.delete(doc.id, stored.etag);
      throw error;
    });
    if (archived) {
      await this.live.delete(doc.id, stored.etag);
      throw new ConflictError(`a record with id '${doc.id}' exists (archived)`, 'duplicate_id');
    }
    return { ...stored, source: 'live' };
  }

  /**
   * Whether the id has an archived record, as reads see it: a running run's copy of a record a
   * client deleted after the run read it is no record (the run withdraws it), so its id is free.
   */
  private async isArchived(id: string): Promise<boolean> {
    const entry = await this.index.get(id);
    return entry !== undefined && !(await this.deletedDuringRun(entry));
  }

  async get(id: string): Promise<RecordView> {
    assertRecordId(id);
    return actWhereFound(
      this.stores,
      id,
      async (found): Promise<RecordView | typeof LOOK_AGAIN> => {
        if (found.where === 'live') return { ...found.record, source: 'live' };
        const { entry } = found;
        try {
          const { doc, bytes } = await this.reader.readRecord(entry);
          return { doc, bytes, etag: archivedEtag(entry), source: 'archive' };
        } catch (error) {
          if (!(await this.entryChanged(entry))) throw error;
          return LOOK_AGAIN;
        }
      },
      {
        notFound: `record '${id}' not found`,
        raced: `record '${id}' kept moving while it was read; try again`,
      },
    );
  }

  async replace(id: string, input: unknown, ifMatch: IfMatch): Promise<RecordView> {
    assertRecordId(id);
    return actWhereFound(
      this.stores,
      id,
      async (found): Promise<RecordView | typeof LOOK_AGAIN> => {
        if (found.where === 'live') {
          const live = found.record;
          checkIfMatch(id, ifMatch, live.etag);
          // A record live stays live: an index being rebuilt lacking its stale entry changes nothing.
          const staleEntry = await this.index.get(id, { evenIfRebuilding: true });
          const doc = replacedRecordDocument(live.doc, input, this.clock());
          try {
            const stored = await this.live.replace(doc, live.etag);
            if (staleEntry) await withdrawUnlessChanged(this.index, staleEntry);
            return { ...stored, source: 'live' };
          } catch (error) {
            if (error instanceof PreconditionFailedError && namesVersion(ifMatch)) throw error;
            if (error instanceof PreconditionFailedError || error instanceof NotFoundError) return LOOK_AGAIN;
            throw error;
          }
        }
        const { entry } = found;
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
          case 'changed':
            return LOOK_AGAIN;
          case 'deleted':
            throw new NotFoundError(`record '${id}' was deleted while it was being updated`);
        }
      },
      {
        notFound: `record '${id}' not found`,
        raced: `record '${id}' kept changing while it was updated; try again`,
      },
    );
  }

  /**
   * Deletes under a claim that excludes a legal hold: a hold is either in place before the claim
   * (409 `legal_hold`) or placed after the delete has ended, when the record is gone.
   */
  async delete(id: string, ifMatch: IfMatch): Promise<void> {
    assertRecordId(id);
    const claim = await claimForDeletion(this.holds, id, this.clock);
    try {
      await this.deleteClaimed(claim, ifMatch);
    } finally {
      await this.holds.releaseDeletion(id, claim.token).catch(() => {
        // Unreleased, the claim still expires (CLAIM_LIFETIME_MS): the delete's answer stands.
      });
    }
  }

  private async deleteClaimed(claim: HeldClaim, ifMatch: IfMatch): Promise<void> {
    const { id } = claim;
    await actWhereFound(
      this.stores,
      id,
      async (found): Promise<true | typeof LOOK_AGAIN> => {
        if (found.where === 'live') {
          const live = found.record;
          checkIfMatch(id, ifMatch, live.etag);
          await this.noteDeletion(claim);
          try {
            if (!(await this.live.delete(id, live.etag))) return LOOK_AGAIN;
          } catch (error) {
            if (error instanceof PreconditionFailedError && !namesVersion(ifMatch)) return LOOK_AGAIN;
            throw error;
          }
          // Any archived copy of the same id goes too, or it would resurface on the next read.
          await this.index.withdraw(id);
          return true;
        }
        const { entry } = found;
        checkIfMatch(id, ifMatch, archivedEtag(entry));
        await this.noteDeletion(claim);
        try {
          if (await this.index.withdraw(id, entry.etag)) return true;
        } catch (error) {
          if (!(error instanceof PreconditionFailedError)) throw error;
        }
        return LOOK_AGAIN;
      },
      {
        notFound: `record '${id}' not found`,
        raced: `record '${id}' kept changing while it was deleted; try again`,
      },
    );
    // Taken after the delete, so it is later than the start of any run that read the record before.
    await this.deletions.confirm(id, this.clock().toISOString()).catch(() => {
      // The delete stands; unconfirmed, a run's copy of the record reads until the run withdraws it.
    });
  }

  /**
   * Noted before the delete, so a crash between the two cannot let `verify --repair` rebuild an
   * entry for the deleted record from a segment that still holds an older copy of it.
   */
  private async noteDeletion(claim: HeldClaim): Promise<void> {
    // Checked before the note too: a delete given up must not leave a note saying it happened.
    assertClaimFresh(claim);
    await this.deletions.note(claim.id, this.clock().toISOString());
    assertClaimFresh(claim);
  }

  async legalHold(id: string): Promise<HoldView> {
    assertRecordId(id);
    const [hold, history] = await Promise.all([this.holds.get(id), this.holds.history(id)]);
    if (!hold && history.length === 0 && !(await this.exists(id))) {
      throw new NotFoundError(`record '${id}' not found`);
    }
    return { record_id: id, legal_hold: hold !== undefined, hold: hold ?? null, history };
  }

  /**
   * Places or lifts a legal hold; either is audited with who asked and why. A hold needs a record
   * to protect, live or archived; lifting needs none, so a hold outliving its record can go.
   */
  async setLegalHold(id: string, request: HoldRequest): Promise<HoldView> {
    assertRecordId(id);
    const change = { by: request.by, reason: request.reason, at: this.clock().toISOString() };
    if (!request.held) {
      await this.holds.clear(id, change);
      return this.legalHold(id);
    }
    if (!(await this.exists(id))) throw new NotFoundError(`record '${id}' not found`);
    const { hold, changed } = await placeHoldBesideDeletes(this.holds, id, change).catch(
      async (error: unknown) => {
        if (!(error instanceof DeletionUnderWayError)) throw error;
        // Nothing was placed, so nothing is audited: unlike a hold placed and then lifted below.
        if (!(await this.exists(id)))
          throw new NotFoundError(`record '${id}' was deleted before the hold could be placed`);
        throw new DeletionUnderWayError(
          `record '${id}' is being deleted by another request; place the hold again once that delete has ended`,
        );
      },
    );
    if (!(await this.exists(id))) {
      // Deleted between the check and the hold: say so rather than hold nothing. A hold that looks
      // already placed may be this request's own, when the answer to placing it was lost.
      const ours = changed || (hold.since === change.at && hold.by === change.by);
      if (ours)
        await this.holds.clear(id, {
          ...change,
          // After the placement, even within its millisecond, so the history keeps their order.
          at: new Date(Math.max(this.clock().getTime(), Date.parse(change.at) + 1)).toISOString(),
          reason: 'the record was deleted while the hold was placed',
        });
      throw new NotFoundError(`record '${id}' was deleted while the hold was being placed`);
    }
    return this.legalHold(id);
  }

  private async exists(id: string): Promise<boolean> {
    return (await lookUp(this.stores, id)) !== undefined;
  }

  async restore(id: string): Promise<RecordView> {
    assertRecordId(id);
    return { ...(await this.restorer.restore(id)), source: 'live' };
  }

  async listArchived(query: ArchiveListQuery): Promise<StoredEntry[]> {
    return this.index.list(query);
  }

  private async entryChanged(entry: StoredEntry): Promise<boolean> {
    if (await this.live.get(entry.id)) return true;
    const now = await this.index.get(entry.id);
    return now?.etag !== entry.etag;
  }
}

/**
 * Whether the caller named the version it changes: a change landing meanwhile then fails the
 * request (412). Without If-Match, or with `*` (any version), the request looks again instead.
 */
function namesVersion(ifMatch: IfMatch): boolean {
  return ifMatch !== undefined && ifMatch !== '*';
}

function checkIfMatch(id: string, ifMatch: IfMatch, current: string): void {
  if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== current) {
    throw new PreconditionFailedError(`record '${id}' is at version ${current}, not ${ifMatch}`);
  }
}
