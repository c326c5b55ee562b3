import { isDeepStrictEqual } from 'node:util';
import pMap from 'p-map';
import type { CosmosClient, ItemDefinition, SqlParameter } from '@azure/cosmos';
import { lastTouchMs, type RecordDocument } from '../../domain/billing-record.js';
import { ConflictError, NotFoundError, PreconditionFailedError } from '../../domain/errors.js';
import type {
  EligiblePage,
  LiveListQuery,
  LiveStore,
  LiveSummary,
  StoredRecord,
} from '../../ports/live-store.js';
import { cosmosStatus, etagOf, ifMatch, unavailable, withoutSystemFields } from './cosmos-client.js';
import { CosmosAdapter } from './cosmos-container.js';
import { withCosmosRetries } from './cosmos-retry.js';

/** Conditional deletes in flight at once: each needs its own request. */
const DELETE_CONCURRENCY = 16;

export interface CosmosLiveStoreOptions {
  database: string;
  container: string;
  /** Partition key path, '/id' unless the platform's container says otherwise. */
  partitionKeyPath: string;
}

/**
 * LiveStore on the billing platform's Cosmos DB container. Point reads by id when the partition
 * key is /id (else a query finds the document's partition); replace and delete conditional on
 * _etag; eligible records found with a parameterised query paged by continuation token.
 * Timestamps compare as ISO 8601 text, which orders correctly for the UTC form the API writes.
 */
export class CosmosLiveStore extends CosmosAdapter implements LiveStore {
  constructor(
    client: CosmosClient,
    private readonly options: CosmosLiveStoreOptions,
  ) {
    super(client, options, options.partitionKeyPath, 'CosmosLiveStore');
  }

  async get(id: string): Promise<StoredRecord | undefined> {
    const resource = await this.locate(id);
    return resource && toStored(resource);
  }

  async create(doc: RecordDocument): Promise<StoredRecord> {
    // Cosmos keeps ids unique per partition only: under another partition key, look first.
    if (this.options.partitionKeyPath !== '/id' && (await this.locate(doc.id))) {
      throw new ConflictError(`a record with id '${doc.id}' exists`, 'duplicate_id');
    }
    try {
      return await withCosmosRetries(async ({ mayHaveLanded }) => {
        try {
          const { resource } = await this.container.items.items.create(doc);
          return { doc, etag: etagOf(resource) };
        } catch (error) {
          // The answer to an earlier attempt was lost: "exists" may be that attempt's own work.
          const landed = mayHaveLanded && cosmosStatus(error) === 409 && (await this.storedAs(doc));
          if (landed) return landed;
          throw error;
        }
      });
    } catch (error) {
      if (cosmosStatus(error) === 409) {
        throw new ConflictError(`a record with id '${doc.id}' exists`, 'duplicate_id', { cause: error });
      }
      throw unavailable(`creating record '${doc.id}'`, error);
    }
  }

  async replace(doc: RecordDocument, etag?: string): Promise<StoredRecord> {
    const current = await this.locate(doc.id);
    if (!current) throw new NotFoundError(`record '${doc.id}' not found`);
    try {
      return await withCosmosRetries(async ({ mayHaveLanded }) => {
        try {
          const { resource } = await this.container.items
            .item(doc.id, this.partitionKeyOf(current))
            .replace(doc, ifMatch(etag));
          return { doc, etag: etagOf(resource) };
        } catch (error) {
          // "Changed since" may be this very replace, landed by an attempt whose answer was lost.
          const landed = mayHaveLanded && cosmosStatus(error) === 412 && (await this.storedAs(doc));
          if (landed) return landed;
          throw error;
        }
      });
    } catch (error) {
      if (cosmosStatus(error) === 412) {
        throw new PreconditionFailedError(`record '${doc.id}' has changed since version ${etag ?? '?'}`, {
          cause: error,
        });
      }
      if (cosmosStatus(error) === 404)
        throw new NotFoundError(`record '${doc.id}' not found`, { cause: error });
      throw unavailable(`replacing record '${doc.id}'`, error);
    }
  }

  async delete(id: string, etag?: string): Promise<boolean> {
    const current = await this.locate(id);
    if (!current) return false;
    try {
      return await withCosmosRetries(async ({ mayHaveLanded }) => {
        try {
          await this.container.items.item(id, this.partitionKeyOf(current)).delete(ifMatch(etag));
          return true;
        } catch (error) {
          // Gone after an attempt whose answer was lost: that attempt deleted it.
          if (mayHaveLanded && cosmosStatus(error) === 404) return true;
          throw error;
        }
      });
    } catch (error) {
      if (cosmosStatus(error) === 404) return false;
      if (cosmosStatus(error) === 412) {
        throw new PreconditionFailedError(`record '${id}' has changed since version ${etag ?? '?'}`, {
          cause: error,
        });
      }
      throw unavailable(`deleting record '${id}'`, error);
    }
  }

  async deleteMany(items: readonly { id: string; etag: string }[]): Promise<boolean[]> {
    return pMap(
      items,
      async (item) => {
        try {
          return await this.delete(item.id, item.etag);
        } catch (error) {
          if (error instanceof PreconditionFailedError) return false;
          throw error;
        }
      },
      { concurrency: DELETE_CONCURRENCY },
    );
  }

  async findEligible(query: {
    touchedBefore: Date;
    limit: number;
    continuation?: string;
  }): Promise<EligiblePage> {
    const cutoff = query.touchedBefore.toISOString();
    try {
      const page = await withCosmosRetries(() =>
        this.container.items.items
          .query<ItemDefinition>(
            {
              query: `SELECT * FROM c WHERE IS_STRING(c.created_at) AND c.created_at < @cutoff
                      AND (NOT IS_DEFINED(c.updated_at) OR c.updated_at < @cutoff)
                      AND (NOT IS_DEFINED(c.restored_at) OR c.restored_at < @cutoff)
                    ORDER BY c.created_at`,
              parameters: [{ name: '@cutoff', value: cutoff }],
            },
            {
              maxItemCount: query.limit,
              ...(query.continuation && { continuationToken: query.continuation }),
            },
          )
          .fetchNext(),
      );
      // Defence in depth: the text comparison above must agree with the parsed timestamps.
      const records = page.resources
        .map(toStored)
        .filter(
          (record) => (lastTouchMs(record.doc) ?? Number.POSITIVE_INFINITY) < query.touchedBefore.getTime(),
        );
      return { records, continuation: page.continuationToken };
    } catch (error) {
      throw unavailable('querying eligible records', error);
    }
  }

  async list(query: LiveListQuery): Promise<StoredRecord[]> {
    const where = ['c.id > @afterId'];
    const parameters: SqlParameter[] = [{ name: '@afterId', value: query.afterId ?? '' }];
    if (query.customerId !== undefined) {
      where.push('c.customer_id = @customerId');
      parameters.push({ name: '@customerId', value: query.customerId });
    }
    if (query.status !== undefined) {
      where.push('c.status = @status');
      parameters.push({ name: '@status', value: query.status });
    }
    try {
      const { resources } = await withCosmosRetries(() =>
        this.container.items.items
          .query<ItemDefinition>({
            query: `SELECT TOP @limit * FROM c WHERE ${where.join(' AND ')} ORDER BY c.id`,
            parameters: [...parameters, { name: '@limit', value: query.limit }],
          })
          .fetchAll(),
      );
      return resources.map(toStored);
    } catch (error) {
      throw unavailable('listing records', error);
    }
  }

  async summary(): Promise<LiveSummary> {
    try {
      const [count, oldest] = await withCosmosRetries(() =>
        Promise.all([
          this.container.items.items.query<number>('SELECT VALUE COUNT(1) FROM c').fetchAll(),
          this.container.items.items
            .query<string>(
              `SELECT VALUE MIN(IS_DEFINED(c.restored_at) AND c.restored_at > c.updated_at ? c.restored_at : c.updated_at)
             FROM c WHERE IS_STRING(c.updated_at)`,
            )
            .fetchAll(),
        ]),
      );
      const oldestText = oldest.resources[0];
      return {
        count: count.resources[0] ?? 0,
        oldestTouchedAt: typeof oldestText === 'string' ? new Date(oldestText).toISOString() : undefined,
      };
    } catch (error) {
      throw unavailable('counting records', error);
    }
  }

  /** The stored document with this id, wherever its partition is. */
  private async locate(id: string): Promise<ItemDefinition | undefined> {
    try {
      return await withCosmosRetries(async () => {
        if (this.options.partitionKeyPath === '/id') {
          const { resource } = await this.container.items.item(id, id).read<ItemDefinition>();
          return resource;
        }
        const { resources } = await this.container.items.items
          .query<ItemDefinition>({
            query: 'SELECT * FROM c WHERE c.id = @id',
            parameters: [{ name: '@id', value: id }],
          })
          .fetchAll();
        return resources[0];
      });
    } catch (error) {
      if (cosmosStatus(error) === 404) return undefined;
      throw unavailable(`reading record '${id}'`, error);
    }
  }

  /** The stored record when it is exactly `doc`, which a write whose answer was lost may have left. */
  private async storedAs(doc: RecordDocument): Promise<StoredRecord | undefined> {
    const current = await this.locate(doc.id);
    if (!current) return undefined;
    const stored = toStored(current);
    return isDeepStrictEqual(stored.doc, doc) ? stored : undefined;
  }

  private partitionKeyOf(resource: ItemDefinition): string {
    const field = this.options.partitionKeyPath.replace(/^\//, '');
    const value: unknown = resource[field];
    if (typeof value !== 'string') {
      throw unavailable(
        `finding the partition key ${this.options.partitionKeyPath} of '${String(resource.id)}'`,
        value,
      );
    }
    return value;
  }
}

function toStored(resource: ItemDefinition): StoredRecord {
  return {
    doc: withoutSystemFields(resource) as RecordDocument,
    etag: etagOf(resource as { _etag?: unknown }),
  };
}
