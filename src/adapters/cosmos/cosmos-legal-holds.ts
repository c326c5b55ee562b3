import { randomUUID } from 'node:crypto';
import type { CosmosClient, OperationInput } from '@azure/cosmos';
import type { HoldChange, HoldEvent, LegalHold, LegalHolds } from '../../ports/legal-holds.js';
import { cosmosStatus, unavailable } from './cosmos-client.js';
import { CosmosAdapter } from './cosmos-container.js';
import { withCosmosRetries } from './cosmos-retry.js';

interface HoldDocument extends LegalHold {
  id: typeof HOLD_ID;
  type: 'hold';
}

interface EventDocument extends HoldEvent {
  id: string;
  type: 'event';
}

/** Each record's hold and its events share the record's logical partition, so one batch commits both. */
const HOLD_ID = 'hold';

/**
 * Legal holds on a Cosmos DB container (partition key /record_id). A change and its audit event
 * are one transactional batch; the first operation is the conditional one, so when it fails the
 * event is not written.
 */
export class CosmosLegalHolds extends CosmosAdapter implements LegalHolds {
  constructor(client: CosmosClient, options: { database: string; container: string }) {
    super(client, options, '/record_id', 'CosmosLegalHolds');
  }

  async get(recordId: string): Promise<LegalHold | undefined> {
    try {
      const { resource } = await withCosmosRetries(() =>
        this.container.items.item(HOLD_ID, recordId).read<HoldDocument>(),
      );
      return resource && toHold(resource);
    } catch (error) {
      if (cosmosStatus(error) === 404) return undefined;
      throw unavailable(`reading the legal hold of record '${recordId}'`, error);
    }
  }

  async set(recordId: string, change: HoldChange): Promise<{ hold: LegalHold; changed: boolean }> {
    const hold: LegalHold = { record_id: recordId, since: change.at, by: change.by, reason: change.reason };
    const body: HoldDocument = { id: HOLD_ID, type: 'hold', ...hold };
    const status = await this.commit(recordId, `placing a legal hold on record '${recordId}'`, [
      { operationType: 'Create', partitionKey: recordId, resourceBody: { ...body } },
      {
        operationType: 'Create',
        partitionKey: recordId,
        resourceBody: { ...eventDocument(recordId, 'set', change) },
      },
    ]);
    if (status === 'done') return { hold, changed: true };
    const existing = await this.get(recordId);
    // Lifted between the failed create and this read: place it again.
    return existing ? { hold: existing, changed: false } : this.set(recordId, change);
  }

  async clear(recordId: string, change: HoldChange): Promise<{ changed: boolean }> {
    const status = await this.commit(recordId, `lifting the legal hold on record '${recordId}'`, [
      { operationType: 'Delete', partitionKey: recordId, id: HOLD_ID },
      {
        operationType: 'Create',
        partitionKey: recordId,
        resourceBody: { ...eventDocument(recordId, 'cleared', change) },
      },
    ]);
    return { changed: status === 'done' };
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

/** Create of an existing hold (409) or delete of a missing one (404). */
function isRefusal(status: number | undefined): boolean {
  return status === 409 || status === 404;
}

function eventDocument(recordId: string, action: HoldEvent['action'], change: HoldChange): EventDocument {
  // The time first keeps id order the order of events; the UUID keeps two at one instant apart.
  return { id: `event~${change.at}~${randomUUID()}`, type: 'event', record_id: recordId, action, ...change };
}

function toHold(doc: HoldDocument): LegalHold {
  return { record_id: doc.record_id, since: doc.since, by: doc.by, reason: doc.reason };
}
