import { readFile } from 'node:fs/promises';
import type { Container, CosmosClient, IndexingPolicy, SqlQuerySpec } from '@azure/cosmos';
import type { StoredBytes } from '../../domain/cost-model.js';
import { openContainer, unavailable } from './cosmos-client.js';
import { withCosmosRetries } from './cosmos-retry.js';

/** Documents sampled for their mean size where the service reports no storage use. */
const SAMPLE = 100;

/**
 * The archive index container's indexing policy (shared with `infra/main.bicep`): only the paths its
 * queries filter on (`id` is always indexed), so a write indexes a few paths instead of every one,
 * and the composite index that listing in creation order needs.
 */
export function archiveIndexIndexingPolicy(): Promise<IndexingPolicy> {
  return policyIn('archive-index-indexing-policy.json');
}

/**
 * The live container's, when the service creates it (the platform's own keeps its policy, which
 * needs the same composite index: docs/DEPLOYING.md): every path, as Cosmos DB's default, and the
 * composite index that listing in creation order needs.
 */
export function recordsIndexingPolicy(): Promise<IndexingPolicy> {
  return policyIn('records-indexing-policy.json');
}

async function policyIn(file: string): Promise<IndexingPolicy> {
  return JSON.parse(
    await readFile(new URL(`../../../infra/${file}`, import.meta.url), 'utf8'),
  ) as IndexingPolicy;
}

/** One Cosmos DB container of an adapter: opened (created if missing) on init. */
export class CosmosContainer {
  private handle: Container | undefined;

  constructor(
    private readonly client: CosmosClient,
    private readonly database: string,
    private readonly id: string,
    private readonly partitionKeyPath: string,
    private readonly owner: string,
    private readonly indexingPolicy: (() => Promise<IndexingPolicy>) | undefined,
  ) {}

  async open(): Promise<void> {
    this.handle = await openContainer(
      this.client,
      this.database,
      this.id,
      this.partitionKeyPath,
      await this.indexingPolicy?.(),
    );
  }

  /** Readiness: a metadata read, cheap in request units. */
  async ping(): Promise<void> {
    try {
      await this.items.read();
    } catch (error) {
      throw unavailable(`reaching container '${this.id}'`, error);
    }
  }

  /**
   * The bytes the container's documents and their index take, as Cosmos DB reports them on a read
   * with quota information; where the service reports none (the Cosmos DB test server), the mean
   * JSON size of up to 100 documents `sample` selects, times `count` (asked only then).
   */
  async storage(sample: SqlQuerySpec, count: () => Promise<number>): Promise<StoredBytes> {
    try {
      const { headers } = await withCosmosRetries(() => this.items.read({ populateQuotaInfo: true }));
      const reported = reportedStorageBytes(headers['x-ms-resource-usage']);
      if (reported !== undefined) return { bytes: reported, from: 'reported' };
      const { resources } = await withCosmosRetries(() =>
        this.items.items
          .query<unknown>({
            ...sample,
            parameters: [...(sample.parameters ?? []), { name: '@sample', value: SAMPLE }],
          })
          .fetchAll(),
      );
      const sampled = resources.reduce<number>((sum, doc) => sum + Buffer.byteLength(JSON.stringify(doc)), 0);
      if (resources.length === 0) return { bytes: 0, from: 'sampled' };
      return { bytes: Math.round((sampled / resources.length) * (await count())), from: 'sampled' };
    } catch (error) {
      throw unavailable(`measuring the storage of container '${this.id}'`, error);
    }
  }

  get items(): Container {
    if (!this.handle) throw new Error(`${this.owner} used before init()`);
    return this.handle;
  }
}

/** What every Cosmos DB adapter does alike: open its container on init, answer probes; the client is shared, so close has nothing to release. */
export abstract class CosmosAdapter {
  protected readonly container: CosmosContainer;

  /** `indexingPolicy`: the one the container is created with, when it is not there yet. */
  protected constructor(
    client: CosmosClient,
    where: { database: string; container: string },
    partitionKeyPath: string,
    owner: string,
    indexingPolicy?: () => Promise<IndexingPolicy>,
  ) {
    this.container = new CosmosContainer(
      client,
      where.database,
      where.container,
      partitionKeyPath,
      owner,
      indexingPolicy,
    );
  }

  async init(): Promise<void> {
    await this.container.open();
  }

  async close(): Promise<void> {
    await Promise.resolve();
  }

  async ping(): Promise<void> {
    await this.container.ping();
  }
}

/**
 * `collectionSize` (documents and index, in KB) out of an `x-ms-resource-usage` header such as
 * `documentsSize=1024;documentsCount=10;collectionSize=1100`; undefined when it is not there.
 */
export function reportedStorageBytes(header: unknown): number | undefined {
  if (typeof header !== 'string') return undefined;
  const fields = new Map(
    header.split(';').map((field) => {
      const [key = '', value = ''] = field.split('=');
      return [key.trim(), Number(value)] as const;
    }),
  );
  const kb = fields.get('collectionSize') ?? fields.get('documentsSize');
  // Zero with documents counted is no measurement.
  if (kb === 0 && (fields.get('documentsCount') ?? 0) > 0) return undefined;
  return kb !== undefined && Number.isFinite(kb) && kb >= 0 ? kb * 1024 : undefined;
}
