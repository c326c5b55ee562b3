import { randomUUID } from 'node:crypto';
import type { CosmosClient, DeleteOperationInput, OperationBase, OperationInput } from '@azure/cosmos';
import { DeletionUnderWayError, StoreUnavailableError } from '../../domain/errors.js';
import type { DeletionClaim, HoldChange, HoldEvent, LegalHold, LegalHolds } from '../../ports/legal-holds.js';
import { cosmosStatus, etagOf, ifMatch, unavailable } from './cosmos-client.js';
import { CosmosAdapter } from './cosmos-container.js';
import { withCosmosRetries } from './cosmos-retry.js';

interface HoldDocument extends LegalHold {
  id: typeof HOLD_ID;
  type: 'hold';
}

/** A delete's claim takes the hold's own id, so a claim and a hold cannot both exist. */
interface ClaimDocument {
  id: typeof HOLD_ID;
  type: 'deletion-claim';
  record_id: string;
  token: string;
  expires_at: string;
}

type SlotDocument = HoldDocument | ClaimDocument;

interface EventDocument extends HoldEvent {
  id: string;
  type: 'event';
}

/** Each record's hold and its events share the record's logical partition, so one batch commits both. */
const HOLD_ID = 'hold';

/** Rounds of a change to a record's hold slot while others keep changing it, before giving up. */
const SLOT_ROUNDS = 10;

/**
 * Legal holds on a Cosmos DB container (partition key /record_id). A change and its audit event
 * are one transactional batch; the first operation is the conditional one, so when it fails the
 * event is not written. A record's hold and a delete's claim on it are one document id, so
 * Cosmos DB lets only one of them exist.
 */
export class CosmosLegalHolds extends CosmosAdapter implements LegalHolds {
  constructor(client: CosmosClient, options: { database: string; container: string }) {
    super(client, options, '/record_id', 'CosmosLegalHolds');
  }

  async get(recordId: string): Promise<LegalHold | undefined> {
    const slot = await this.readSlot(recordId);
    return slot?.doc.type === 'hold' ? toHold(slot.doc) : undefined;
  }

  async set(recordId: string, change: HoldChange): Promise<{ hold: LegalHold; changed: boolean }> {
    const hold: LegalHold = { record_id: recordId, since: change.at, by: change.by, reason: change.reason };
    const body: HoldDocument = { id: HOLD_ID, type: 'hold', ...hold };
    for (let round = 0; round < SLOT_ROUNDS; round++) {
      const status = await this.commit(recordId, `placing a legal hold on record '${recordId}'`, [
        { operationType: 'Create', partitionKey: recordId, resourceBody: { ...body } },
        {
          operationType: 'Create',
          partitionKey: recordId,
          resourceBody: { ...eventDocument(recordId, 'set', change) },
        },
      ]);
      if (status === 'done') return { hold, changed: true };
      const slot = await this.readSlot(recordId);
      // Lifted or released between the failed create and this read: try again.
      if (!slot) continue;
      if (slot.doc.type === 'hold') return { hold: toHold(slot.doc), changed: false };
      if (slot.doc.expires_at > change.at) {
        throw new DeletionUnderWayError(`record '${recordId}' is being deleted`);
      }
      await this.removeExpiredClaim(recordId, slot.etag);
    }
    throw kept(`placing a legal hold on record '${recordId}'`);
  }

  async clear(recordId: string, change: HoldChange): Promise<{ changed: boolean }> {
    // One event for every round: after a lost answer, finding it says this lift landed, and the
    // hold now in the slot is somebody else's, placed since.
    const event = eventDocument(recordId, 'cleared', change);
    for (let round = 0; round < SLOT_ROUNDS; round++) {
      const slot = await this.readSlot(recordId);
      if (slot?.doc.type !== 'hold')
        return { changed: round > 0 && (await this.hasEvent(recordId, event.id)) };
      // The SDK's type leaves ifMatch off a delete, but sends it, and the service honours it.
      const deleteHold: DeleteOperationInput & OperationBase = {
        operationType: 'Delete',
        partitionKey: recordId,
        id: HOLD_ID,
        ifMatch: slot.etag,
      };
      const status = await this.commit(recordId, `lifting the legal hold on record '${recordId}'`, [
        deleteHold,
        {
          operationType: 'Create',
          partitionKey: recordId,
          resourceBody: { ...event },
        },
      ]);
      if (status === 'done' || (await this.hasEvent(recordId, event.id))) return { changed: true };
    }
    throw kept(`lifting the legal hold on record '${recordId}'`);
  }

  async claimDeletion(
    recordId: string,
    claim: DeletionClaim,
  ): Promise<{ claimed: boolean; hold?: LegalHold }> {
    const body: ClaimDocument = {
      id: HOLD_ID,
      type: 'deletion-claim',
      record_id: recordId,
      token: claim.token,
      expires_at: claim.expiresAt,
    };
    for (let round = 0; round < SLOT_ROUNDS; round++) {
      try {
        await withCosmosRetries(() => this.container.items.items.create({ ...body }));
        return { claimed: true };
      } catch (error) {
        if (cosmosStatus(error) !== 409)
          throw unavailable(`claiming record '${recordId}' for a delete`, error);
      }
      const slot = await this.readSlot(recordId);
      if (!slot) continue;
      if (slot.doc.type === 'hold') return { claimed: false, hold: toHold(slot.doc) };
      // Our own claim, when the answer to the create was lost and the retry met it.
      if (slot.doc.token === claim.token) return { claimed: true };
      if (slot.doc.expires_at > claim.at) return { claimed: false };
      await this.removeExpiredClaim(recordId, slot.etag);
    }
    throw kept(`claiming record '${recordId}' for a delete`);
  }

  async releaseDeletion(recordId: string, token: string): Promise<void> {
    const slot = await this.readSlot(recordId);
    if (slot?.doc.type !== 'deletion-claim' || slot.doc.token !== token) return;
    await this.deleteSlot(recordId, slot.etag, `releasing the delete's claim on record '${recordId}'`);
  }

  async history(recordId: string): Promise<HoldEvent[]> {
    try {
      const { resources } = await withCosmosRetries(() =>
        this.container.items.items
          .query<EventDocument>(
            {
              query: "SELECT * FROM c WHERE c.record_id = @id AND c.type = 'event' ORDER BY c.id",
              parameters: [{ name: '@id', value: recordId }],
            },
            { partitionKey: recordId },
          )
          .fetchAll(),
      );
      return resources.map(({ record_id, action, at, by, reason }) => ({
        record_id,
        action,
        at,
        by,
        reason,
      }));
    } catch (error) {
      throw unavailable(`reading the legal hold history of record '${recordId}'`, error);
    }
  }

  async list(query: { limit: number; afterId?: string | undefined }): Promise<LegalHold[]> {
    try {
      const { resources } = await withCosmosRetries(() =>
        this.container.items.items
          .query<HoldDocument>({
            query:
              "SELECT TOP @limit * FROM c WHERE c.type = 'hold' AND c.record_id > @after ORDER BY c.record_id",
            parameters: [
              { name: '@limit', value: query.limit },
              { name: '@after', value: query.afterId ?? '' },
            ],
          })
          .fetchAll(),
      );
      return resources.map(toHold);
    } catch (error) {
      throw unavailable('listing legal holds', error);
    }
  }

  /** The record's hold or claim document with its etag, or undefined. */
  private async readSlot(recordId: string): Promise<{ doc: SlotDocument; etag: string } | undefined> {
    try {
      const { resource } = await withCosmosRetries(() =>
        this.container.items.item(HOLD_ID, recordId).read<SlotDocument>(),
      );
      return resource && { doc: resource, etag: etagOf(resource) };
    } catch (error) {
      if (cosmosStatus(error) === 404) return undefined;
      throw unavailable(`reading the legal hold of record '${recordId}'`, error);
    }
  }

  private async hasEvent(recordId: string, eventId: string): Promise<boolean> {
    try {
      const { resource } = await withCosmosRetries(() =>
        this.container.items.item(eventId, recordId).read<EventDocument>(),
      );
      return resource !== undefined;
    } catch (error) {
      if (cosmosStatus(error) === 404) return false;
      throw unavailable(`reading the legal hold history of record '${recordId}'`, error);
    }
  }

  private async removeExpiredClaim(recordId: string, etag: string): Promise<void> {
    await this.deleteSlot(recordId, etag, `removing an expired delete's claim on record '${recordId}'`);
  }

  /** Deletes the slot document if it is still the version read; gone or changed meanwhile is no error. */
  private async deleteSlot(recordId: string, etag: string, action: string): Promise<void> {
    try {
      await withCosmosRetries(() => this.container.items.item(HOLD_ID, recordId).delete(ifMatch(etag)));
    } catch (error) {
      const status = cosmosStatus(error);
      if (status !== 404 && status !== 412) throw unavailable(action, error);
    }
  }

  /**
   * Runs the batch: 'done' when every operation succeeded, 'refused' when the first was refused.
   * Each operation names its partition too, which the Cosmos test server needs.
   */
  private async commit(
    recordId: string,
    action: string,
    operations: OperationInput[],
  ): Promise<'done' | 'refused'> {
    try {
      // After a lost answer the retry meets the batch's own work as a refusal: the state is the one asked for.
      const { result = [] } = await withCosmosRetries(() =>
        this.container.items.items.batch(operations, recordId),
      );
      const failed = result.find((outcome) => outcome.statusCode >= 400);
      if (!failed) return 'done';
      if (result[0] === failed && isRefusal(failed.statusCode)) return 'refused';
      throw new Error(`the batch answered ${failed.statusCode}`);
    } catch (error) {
      if (isRefusal(cosmosStatus(error))) return 'refused';
      throw unavailable(action, error);
    }
  }
}

/** The slot changed under every round: another writer keeps changing it, or the container is gone. */
function kept(action: string): StoreUnavailableError {
  return new StoreUnavailableError(`Cosmos DB: ${action} failed: the record's hold kept changing under it`);
}

/** Create of an existing hold or claim (409), delete of a missing (404) or changed (412) one. */
function isRefusal(status: number | undefined): boolean {
  return status === 409 || status === 404 || status === 412;
}

function eventDocument(recordId: string, action: HoldEvent['action'], change: HoldChange): EventDocument {
  // The time first keeps id order the order of events; the UUID keeps two at one instant apart.
  return { id: `event~${change.at}~${randomUUID()}`, type: 'event', record_id: recordId, action, ...change };
}

function toHold(doc: HoldDocument): LegalHold {
  return { record_id: doc.record_id, since: doc.since, by: doc.by, reason: doc.reason };
}
