import { isDeepStrictEqual } from 'node:util';
import pMap from 'p-map';
import type { CosmosClient, ItemDefinition, SqlParameter } from '@azure/cosmos';
import type { RecordDocument } from '../../domain/billing-record.js';
import type { StoredBytes } from '../../domain/cost-model.js';
import { instantMs } from '../../domain/record-times.js';
import { ConflictError, NotFoundError, PreconditionFailedError } from '../../domain/errors.js';
import {
  judgeEligible,
  type EligiblePage,
  type LiveListQuery,
  type LiveStore,
  type LiveSummary,
  type StatusFilter,
  type StoredRecord,
} from '../../ports/live-store.js';
import { cosmosStatus, etagOf, ifMatch, unavailable, withoutSystemFields } from './cosmos-client.js';
import { listingFilter } from './cosmos-listing.js';
import { runBulk, type BulkOutcome } from './cosmos-bulk.js';
import { CosmosAdapter, recordsIndexingPolicy } from './cosmos-container.js';
import { withCosmosRetries } from './cosmos-retry.js';

/** Partition look-ups in flight at once, for records whose key this store has not seen. */
const LOCATE_CONCURRENCY = 16;
/** Partition keys remembered from eligible pages, for the deletes that follow them. */
const REMEMBERED_KEYS = 100_000;

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
 */
export class CosmosLiveStore extends CosmosAdapter implements LiveStore {
  /** Record id → partition key value, insertion order oldest first (only under a key other than /id). */
  private readonly partitionKeys = new Map<string, string>();

  constructor(
    client: CosmosClient,
    private readonly options: CosmosLiveStoreOptions,
  ) {
    super(client, options, options.partitionKeyPath, 'CosmosLiveStore', recordsIndexingPolicy);
  }

  async get(id: string): Promise<StoredRecord | undefined> {
    const resource = await this.locate(id);
    return resource && toStored(resource);
  }

  async create(doc: RecordDocument): Promise<StoredRecord> {
    if (this.options.partitionKeyPath === '/id') return this.createDocument(doc);
    // Cosmos keeps ids unique per partition only: under another partition key, look first, and
    // after landing look again, for a create of the same id that raced this one.
    if (await this.locate(doc.id)) {
      throw new ConflictError(`a record with id '${doc.id}' exists`, 'duplicate_id');
    }
    const stored = await this.createDocument(doc);
    await this.yieldToRacingCreate(stored);
    return stored;
  }

  /**
   * Each of two racing creates that lands beside another copy of its id deletes its own: at most
   * one copy stays (none when both see each other, and both callers are told to try again). The
   * look is a query, which a lagging replica can answer late under session consistency.
   */
  private async yieldToRacingCreate(stored: StoredRecord): Promise<void> {
    const { id } = stored.doc;
    let copies: number;
    try {
      const { resources } = await withCosmosRetries(() =>
        this.container.items.items
          .query<number>({
            query: 'SELECT VALUE COUNT(1) FROM c WHERE c.id = @id',
            parameters: [{ name: '@id', value: id }],
          })
          .fetchAll(),
      );
      copies = resources[0] ?? 0;
    } catch (error) {
      throw unavailable(`checking record '${id}' for a racing create`, error);
    }
    if (copies <= 1) return;
    try {
      await withCosmosRetries(() =>
        this.container.items.item(id, this.partitionKeyOf(stored.doc)).delete(ifMatch(stored.etag)),
      );
    } catch (error) {
      if (cosmosStatus(error) !== 404) throw unavailable(`withdrawing the racing create of '${id}'`, error);
    }
    throw new ConflictError(
      `another create of id '${id}' raced this one; try again`,
      'concurrent_modification',
    );
  }

  private async createDocument(doc: RecordDocument): Promise<StoredRecord> {
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

  /**
   * Conditional deletes through the bulk API: a hundred a request. Each needs the document's
   * partition key: the id under /id, else the one this store saw when it read the record as
   * eligible, else a query finds it. A wrong or stale key finds nothing (false), never another record.
   * False for any record not deleted by this call as far as it knows, so the caller looks again.
   */
  async deleteMany(items: readonly { id: string; etag: string }[]): Promise<boolean[]> {
    const keys = await pMap(items, ({ id }) => this.partitionKeyFor(id), { concurrency: LOCATE_CONCURRENCY });
    const present = items.flatMap((item, i) => {
      const partitionKey = keys[i];
      return partitionKey === undefined ? [] : [{ ...item, partitionKey, at: i }];
    });
    let outcomes: BulkOutcome[];
    try {
      outcomes = await runBulk(
        this.container.items,
        present.map(({ id, etag, partitionKey }) => ({
          operationType: 'Delete' as const,
          id,
          partitionKey,
          ifMatch: etag,
        })),
      );
    } catch (error) {
      throw unavailable(`deleting ${present.length} records`, error);
    }
    // Only a 2xx is "deleted". A 404 may be this call's own earlier attempt or a client's delete:
    // the archiver tells them apart by the deletion notes. A 412 is a record changed since it was
    // read. Anything else (a refused request, a missing permission) is a fault to report.
    const deleted = items.map(() => false);
    present.forEach(({ id, at }, k) => {
      const status = outcomes[k]?.status;
      if (status !== undefined && status >= 200 && status < 300) deleted[at] = true;
      else if (status !== undefined && status !== 404 && status !== 412)
        throw unavailable(`deleting record '${id}'`, new Error(`status ${status}`));
    });
    return deleted;
  }

  /**
   * A pass reads first the documents whose created_at is text, in its order, then the others (which
   * an ORDER BY on created_at would leave out). The query only pre-selects, by text bounds loose
   * enough for any offset (`eligibleTextBound`); `judgeEligible` decides by the instants.
   */
  async findEligible(query: {
    touchedBefore: Date;
    limit: number;
    continuation?: string;
    statuses?: StatusFilter | undefined;
  }): Promise<EligiblePage> {
    const cursor = parseEligibleCursor(query.continuation);
    const statuses = statusClause(query.statuses);
    try {
      const page = await withCosmosRetries(() =>
        this.container.items.items
          .query<ItemDefinition>(
            {
              query:
                cursor.phase === 'text'
                  ? textCreatedQuery(statuses.where)
                  : otherCreatedQuery(statuses.where),
              parameters: [
                { name: '@bound', value: eligibleTextBound(query.touchedBefore) },
                { name: '@beyond', value: BEYOND_DATE_TIMES },
                ...statuses.parameters,
              ],
            },
            { maxItemCount: query.limit, ...(cursor.token && { continuationToken: cursor.token }) },
          )
          .fetchNext(),
      );
      const next: EligibleCursor | undefined = page.continuationToken
        ? { phase: cursor.phase, token: page.continuationToken }
        : cursor.phase === 'text'
          ? { phase: 'other' }
          : undefined;
      const judged = judgeEligible(page.resources.map(toStored), query.touchedBefore, query.statuses);
      for (const { doc } of judged.records) this.rememberPartition(doc);
      return { ...judged, continuation: next && JSON.stringify(next) };
    } catch (error) {
      throw unavailable('querying eligible records', error);
    }
  }

  async list(query: LiveListQuery): Promise<StoredRecord[]> {
    const { where, parameters, orderBy } = listingFilter(query);
    if (query.status !== undefined) {
      where.push('c.status = @status');
      parameters.push({ name: '@status', value: query.status });
    }
    if (query.ids !== undefined) {
      where.push('ARRAY_CONTAINS(@ids, c.id)');
      parameters.push({ name: '@ids', value: [...query.ids] });
    }
    try {
      const { resources } = await withCosmosRetries(() =>
        this.container.items.items
          .query<ItemDefinition>({
            query: `SELECT TOP @limit * FROM c WHERE ${where.join(' AND ')} ORDER BY ${orderBy}`,
            parameters: [...parameters, { name: '@limit', value: query.limit }],
          })
          .fetchAll(),
      );
      return resources.map(toStored);
    } catch (error) {
      throw unavailable('listing records', error);
    }
  }

  storage(): Promise<StoredBytes> {
    return this.container.storage(
      { query: 'SELECT TOP @sample * FROM c' },
      async () => (await this.summary()).count,
    );
  }

  async summary(): Promise<LiveSummary> {
    try {
      const [count, oldest] = await withCosmosRetries(() =>
        Promise.all([
          this.container.items.items.query<number>('SELECT VALUE COUNT(1) FROM c').fetchAll(),
          this.container.items.items
            .query<string>(
              `SELECT VALUE MIN(IS_DEFINED(c.restored_at) AND c.restored_at > c.updated_at ? c.restored_at : c.updated_at)
             FROM c WHERE IS_STRING(c.updated_at) AND c.updated_at >= '1000-'`,
            )
            .fetchAll(),
        ]),
      );
      // A text minimum (offsets may shift it by hours: a statistic, not a decision); text another
      // system wrote that is no timestamp at all leaves the figure out rather than failing /stats.
      const oldestMs = instantMs(oldest.resources[0]);
      return {
        count: count.resources[0] ?? 0,
        oldestTouchedAt: oldestMs === undefined ? undefined : new Date(oldestMs).toISOString(),
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

  /** The partition key of the record with this id, or undefined when no record has it. */
  private async partitionKeyFor(id: string): Promise<string | undefined> {
    if (this.options.partitionKeyPath === '/id') return id;
    const remembered = this.partitionKeys.get(id);
    if (remembered !== undefined) return remembered;
    const resource = await this.locate(id);
    return resource && this.partitionKeyOf(resource);
  }

  /** Remembers where an eligible record lives, forgetting the oldest beyond REMEMBERED_KEYS. */
  private rememberPartition(doc: RecordDocument): void {
    if (this.options.partitionKeyPath === '/id') return;
    const value = this.partitionValue(doc);
    if (typeof value !== 'string') return;
    this.partitionKeys.delete(doc.id);
    this.partitionKeys.set(doc.id, value);
    if (this.partitionKeys.size > REMEMBERED_KEYS) {
      const oldest = this.partitionKeys.keys().next();
      if (!oldest.done) this.partitionKeys.delete(oldest.value);
    }
  }

  private partitionKeyOf(resource: ItemDefinition | RecordDocument): string {
    const value = this.partitionValue(resource);
    if (typeof value !== 'string') {
      throw unavailable(
        `finding the partition key ${this.options.partitionKeyPath} of '${String(resource.id)}'`,
        value,
      );
    }
    return value;
  }

  /** The document's field the partition key path names (a top-level one). */
  private partitionValue(resource: ItemDefinition | RecordDocument): unknown {
    return resource[this.options.partitionKeyPath.replace(/^\//, '')];
  }
}

/**
 * Text at or past this is no date-time of a year before 2100, so it is garbage (or absurd): met by
 * every pass, so that a document whose timestamp is unreadable text is reported, not left unseen.
 * Unreadable text starting with 20 is met once it sorts below the bound, as a date-time would.
 */
const BEYOND_DATE_TIMES = '21';

/** A timestamp field is a candidate when it is absent or not text, below the bound, or garbage. */
const TOUCH_FIELDS_CANDIDATE = ['updated_at', 'restored_at']
  .map((field) => `(NOT IS_STRING(c.${field}) OR c.${field} < @bound OR c.${field} >= @beyond)`)
  .join(' AND ');

function textCreatedQuery(statuses: string): string {
  return `SELECT * FROM c
  WHERE IS_STRING(c.created_at) AND (c.created_at < @bound OR c.created_at >= @beyond)
    AND ${TOUCH_FIELDS_CANDIDATE}${statuses}
  ORDER BY c.created_at`;
}

/** Absent, a number, null…: never archivable, found to be reported. */
function otherCreatedQuery(statuses: string): string {
  return `SELECT * FROM c WHERE NOT IS_STRING(c.created_at) AND ${TOUCH_FIELDS_CANDIDATE}${statuses}`;
}

/** The condition a status filter adds to a pass's query, and its parameter. */
function statusClause(filter: StatusFilter | undefined): { where: string; parameters: SqlParameter[] } {
  if (!filter) return { where: '', parameters: [] };
  if ('only' in filter)
    return {
      where: ' AND IS_STRING(c.status) AND ARRAY_CONTAINS(@statuses, c.status)',
      parameters: [{ name: '@statuses', value: [...filter.only] }],
    };
  return {
    where: ' AND NOT (IS_STRING(c.status) AND ARRAY_CONTAINS(@statuses, c.status))',
    parameters: [{ name: '@statuses', value: [...filter.exclude] }],
  };
}

interface EligibleCursor {
  phase: 'text' | 'other';
  token?: string;
}

function parseEligibleCursor(continuation: string | undefined): EligibleCursor {
  if (continuation === undefined) return { phase: 'text' };
  const cursor = JSON.parse(continuation) as { phase?: unknown; token?: unknown };
  if (
    (cursor.phase !== 'text' && cursor.phase !== 'other') ||
    (cursor.token !== undefined && typeof cursor.token !== 'string')
  )
    throw new Error(`invalid continuation '${continuation}'`);
  return { phase: cursor.phase, ...(cursor.token !== undefined && { token: cursor.token }) };
}

const TWO_DAYS_MS = 2 * 24 * 60 * 60 * 1000;

/**
 * Every RFC 3339 date-time of an instant before `cutoff` sorts as text below the date this returns:
 * an offset is under 24 h, so its local date is at most the day after the cutoff's, and whatever
 * follows the date (T or t, a fraction, Z or z) cannot lift it past the next date.
 */
function eligibleTextBound(cutoff: Date): string {
  return new Date(cutoff.getTime() + TWO_DAYS_MS).toISOString().slice(0, 10);
}

function toStored(resource: ItemDefinition): StoredRecord {
  return {
    doc: withoutSystemFields(resource) as RecordDocument,
    etag: etagOf(resource as { _etag?: unknown }),
  };
}
