import type { Container, CosmosClient } from '@azure/cosmos';
import { openContainer, unavailable } from './cosmos-client.js';

/** One Cosmos DB container of an adapter: opened (created if missing) on init. */
export class CosmosContainer {
  private handle: Container | undefined;

  constructor(
    private readonly client: CosmosClient,
    private readonly database: string,
    private readonly id: string,
    private readonly partitionKeyPath: string,
    private readonly owner: string,
  ) {}

  async open(): Promise<void> {
    this.handle = await openContainer(this.client, this.database, this.id, this.partitionKeyPath);
  }

  /** Readiness: a metadata read, cheap in request units. */
  async ping(): Promise<void> {
    try {
      await this.items.read();
    } catch (error) {
      throw unavailable(`reaching container '${this.id}'`, error);
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

  protected constructor(
    client: CosmosClient,
    where: { database: string; container: string },
    partitionKeyPath: string,
    owner: string,
  ) {
    this.container = new CosmosContainer(client, where.database, where.container, partitionKeyPath, owner);
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
