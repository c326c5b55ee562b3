import { isDeepStrictEqual } from 'node:util';
import type { CosmosClient } from '@azure/cosmos';
import type { StoredBytes } from '../../domain/cost-model.js';
import { PreconditionFailedError } from '../../domain/errors.js';
import type {
  ArchiveEntry,
  ArchiveIndex,
  ArchiveListQuery,
  MonthSummary,
  StoredEntry,
} from '../../ports/archive-index.js';
import { cosmosStatus, etagOf, ifMatch, unavailable } from './cosmos-client.js';
import { runBulk, type BulkOutcome } from './cosmos-bulk.js';
import { archiveIndexIndexingPolicy, CosmosAdapter } from './cosmos-container.js';
import { listingFilter } from './cosmos-listing.js';
import { withCosmosRetries } from './cosmos-retry.js';

interface EntryDocument extends ArchiveEntry {
  type: 'entry';
  _etag?: string;
}

/** Ids one look-up query asks for: its parameter stays a few KB. */
const IDS_PER_QUERY = 100;

/**
 * ArchiveIndex on a Cosmos DB container (partition key /id): one document per archived record. The
 * garbage queue and the deletion notes share the container; every query here filters on `type`.
 */
export class CosmosArchiveIndex extends CosmosAdapter implements ArchiveIndex {
  constructor(client: CosmosClient, options: { database: string; container: string }) {
    // The archive index's container: whichever adapter creates it gives it the index's policy.
    super(client, options, '/id', 'CosmosArchiveIndex', archiveIndexIndexingPolicy);
  }

  async get(id: string): Promise<StoredEntry | undefined> {
    try {
      const { resource } = await withCosmosRetries(() =>
        this.container.items.item(id, id).read<EntryDocument>(),
      );
      return resource?.type === 'entry' ? toEntry(resource) : undefined;
    } catch (error) {
      if (cosmosStatus(error) === 404) return undefined;
      throw unavailable(`reading archive entry '${id}'`, error);
    }
  }

  async getMany(ids: readonly string[]): Promise<(StoredEntry | undefined)[]> {
    const found = new Map<string, StoredEntry>();
    for (let start = 0; start < ids.length; start += IDS_PER_QUERY) {
      const chunk = ids.slice(start, start + IDS_PER_QUERY);
      try {
        const { resources } = await withCosmosRetries(() =>
          this.container.items.items
            .query<EntryDocument>({
              query: "SELECT * FROM c WHERE c.type = 'entry' AND ARRAY_CONTAINS(@ids, c.id)",
              parameters: [{ name: '@ids', value: chunk }],
            })
            .fetchAll(),
        );
        for (const doc of resources) found.set(doc.id, toEntry(doc));
      } catch (error) {
        throw unavailable(`reading ${chunk.length} archive entries`, error);
      }
    }
    return ids.map((id) => found.get(id));
  }

  /** Upserts through the bulk API: a hundred entries a request, however often an entry is sent. */
  async putMany(entries: readonly ArchiveEntry[]): Promise<StoredEntry[]> {
    let outcomes: BulkOutcome[];
    try {
      outcomes = await runBulk(
        this.container.items,
        entries.map((entry) => ({
          operationType: 'Upsert' as const,
          partitionKey: entry.id,
          resourceBody: { ...entry, type: 'entry' } satisfies EntryDocument,
        })),
      );
    } catch (error) {
      throw unavailable(`writing ${entries.length} archive entries`, error);
    }
    return entries.map((entry, i) => {
      const outcome = outcomes[i];
      if (!outcome?.etag || outcome.status >= 300)
        throw unavailable(
          `writing archive entry '${entry.id}'`,
          new Error(`status ${outcome?.status ?? 'none'}`),
        );
      return { ...entry, etag: outcome.etag };
    });
  }

  async repoint(from: StoredEntry, to: ArchiveEntry): Promise<StoredEntry | undefined> {
    const document: EntryDocument = { ...to, id: from.id, type: 'entry' };
    try {
      return await withCosmosRetries(async ({ mayHaveLanded }) => {
        try {
          const { resource } = await this.container.items
            .item(from.id, from.id)
            .replace(document, ifMatch(from.etag));
          return { ...to, id: from.id, etag: etagOf(resource) };
        } catch (error) {
          const status = cosmosStatus(error);
          if (status !== 404 && status !== 412) throw error;
          // "Changed" after a lost answer may be this very move, landed.
          const now = mayHaveLanded && status === 412 ? await this.get(from.id) : undefined;
          return now && isDeepStrictEqual(now.location, to.location) && now.sha256 === to.sha256
            ? now
            : undefined;
        }
      });
    } catch (error) {
      throw unavailable(`moving archive entry '${from.id}'`, error);
    }
  }

  async withdraw(id: string, etag?: string): Promise<StoredEntry | undefined> {
    const current = await this.get(id);
    if (!current) return undefined;
    if (etag !== undefined && current.etag !== etag) {
      throw new PreconditionFailedError(`archive entry '${id}' has changed since version ${etag}`);
    }
    try {
      await withCosmosRetries(async ({ mayHaveLanded }) => {
        try {
          await this.container.items.item(id, id).delete(ifMatch(current.etag));
        } catch (error) {
          // Gone after an attempt whose answer was lost: that attempt withdrew it.
          if (!(mayHaveLanded && cosmosStatus(error) === 404)) throw error;
        }
      });
      return current;
    } catch (error) {
      if (cosmosStatus(error) === 404) return undefined;
      if (cosmosStatus(error) === 412) {
        if (etag !== undefined) {
          throw new PreconditionFailedError(`archive entry '${id}' has changed since version ${etag}`, {
            cause: error,
          });
        }
        return this.withdraw(id);
      }
      throw unavailable(`withdrawing archive entry '${id}'`, error);
    }
  }

  async list(query: ArchiveListQuery): Promise<StoredEntry[]> {
    const filter = listingFilter(query);
    const where = ["c.type = 'entry'", ...filter.where];
    const parameters = [...filter.parameters, { name: '@limit', value: query.limit }];
    if (query.blob !== undefined) {
      where.push('c.location.blob = @blob');
      parameters.push({ name: '@blob', value: query.blob });
    }
    try {
      const { resources } = await withCosmosRetries(() =>
        this.container.items.items
          .query<EntryDocument>({
            query: `SELECT TOP @limit * FROM c WHERE ${where.join(' AND ')} ORDER BY ${filter.orderBy}`,
            parameters,
          })
          .fetchAll(),
      );
      return resources.map(toEntry);
    } catch (error) {
      throw unavailable('listing archive entries', error);
    }
  }

  /**
   * The whole container as Cosmos DB reports it (entries with the garbage and deletion notes beside
   * them); sampled, the entries only.
   */
  storage(): Promise<StoredBytes> {
    return this.container.storage(
      { query: "SELECT TOP @sample * FROM c WHERE c.type = 'entry'" },
      async () => (await this.summary()).count,
    );
  }

  async summary(): Promise<{ count: number; bytes: number }> {
    try {
      const [count, bytes] = await withCosmosRetries(() =>
        Promise.all([
          this.container.items.items
            .query<number>("SELECT VALUE COUNT(1) FROM c WHERE c.type = 'entry'")
            .fetchAll(),
          this.container.items.items
            .query<number>("SELECT VALUE SUM(c.size) FROM c WHERE c.type = 'entry'")
            .fetchAll(),
        ]),
      );
      return { count: count.resources[0] ?? 0, bytes: bytes.resources[0] ?? 0 };
    } catch (error) {
      throw unavailable('counting archive entries', error);
    }
  }

  /**
   * A count and a sum per month that holds entries, found one after another: the first creation
   * time at or after the start of the month past the last one counted. Range filters and ordering
   * on the indexed `created_at`, which entries keep as UTC text, so its first seven characters are
   * the month. Empty months cost nothing, however far apart the first and last record were made.
   * (The Cosmos DB test server we test on has no GROUP BY.)
   */
  async summaryByMonth(): Promise<MonthSummary[]> {
    try {
      const months: MonthSummary[] = [];
      for (let from = ''; ;) {
        const { resources } = await withCosmosRetries(() =>
          this.container.items.items
            .query<string>({
              query:
                "SELECT TOP 1 VALUE c.created_at FROM c WHERE c.type = 'entry' AND c.created_at >= @from ORDER BY c.created_at",
              parameters: [{ name: '@from', value: from }],
            })
            .fetchAll(),
        );
        const first = resources[0];
        if (first === undefined) return months;
        const month = await this.monthSummary(first.slice(0, 7));
        if (month.count > 0) months.push(month);
        if (month.month === LAST_MONTH) return months;
        from = nextMonth(month.month);
      }
    } catch (error) {
      throw unavailable('counting archive entries by month', error);
    }
  }

  private async monthSummary(month: string): Promise<MonthSummary> {
    const parameters = [
      { name: '@from', value: month },
      // Every text of the last month sorts before this; '10000-01' would sort before them all.
      { name: '@to', value: month === LAST_MONTH ? `${LAST_MONTH}\uffff` : nextMonth(month) },
    ];
    const [count, bytes] = await withCosmosRetries(() =>
      Promise.all([
        this.container.items.items
          .query<number>({
            query:
              "SELECT VALUE COUNT(1) FROM c WHERE c.type = 'entry' AND c.created_at >= @from AND c.created_at < @to",
            parameters,
          })
          .fetchAll(),
        this.container.items.items
          .query<number>({
            query:
              "SELECT VALUE SUM(c.size) FROM c WHERE c.type = 'entry' AND c.created_at >= @from AND c.created_at < @to",
            parameters,
          })
          .fetchAll(),
      ]),
    );
    return { month, count: count.resources[0] ?? 0, bytes: bytes.resources[0] ?? 0 };
  }
}

/** The month after `month` (YYYY-MM). */
/** The last month an RFC 3339 time can fall in. */
const LAST_MONTH = '9999-12';

function nextMonth(month: string): string {
  const year = Number(month.slice(0, 4));
  const next = Number(month.slice(5, 7)) + 1;
  return next > 12
    ? `${String(year + 1).padStart(4, '0')}-01`
    : `${String(year).padStart(4, '0')}-${String(next).padStart(2, '0')}`;
}

function toEntry(doc: EntryDocument): StoredEntry {
  return {
    id: doc.id,
    customer_id: doc.customer_id,
    created_at: doc.created_at,
    location: doc.location,
    sha256: doc.sha256,
    size: doc.size,
    archived_at: doc.archived_at,
    run_id: doc.run_id,
    etag: etagOf(doc),
  };
}
