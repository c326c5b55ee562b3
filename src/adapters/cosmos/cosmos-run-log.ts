import type { Container, CosmosClient } from '@azure/cosmos';
import type { RunLog, RunRecord, RunStatus, RunTotals } from '../../ports/run-log.js';
import { cosmosStatus, openContainer, unavailable, withoutSystemFields } from './cosmos-client.js';

type RunDocument = RunRecord & { id: string };

const STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'crashed', 'running'];

/** Run history on a Cosmos DB container (partition key /id), shared by every replica and worker. */
export class CosmosRunLog implements RunLog {
  private container: Container | undefined;

  constructor(
    private readonly client: CosmosClient,
    private readonly options: { database: string; container: string },
  ) {}

  async init(): Promise<void> {
    this.container = await openContainer(this.client, this.options.database, this.options.container, '/id');
  }

  async close(): Promise<void> {
    await Promise.resolve();
  }

  async save(run: RunRecord): Promise<void> {
    try {
      await this.items.items.upsert<RunDocument>({ id: run.run_id, ...run });
    } catch (error) {
      throw unavailable(`saving run '${run.run_id}'`, error);
    }
  }

  async get(runId: string): Promise<RunRecord | undefined> {
    try {
      const { resource } = await this.items.item(runId, runId).read<RunDocument>();
      return resource && toRun(resource);
    } catch (error) {
      if (cosmosStatus(error) === 404) return undefined;
      throw unavailable(`reading run '${runId}'`, error);
    }
  }

  async list(query: { limit: number; before?: string }): Promise<RunRecord[]> {
    try {
      const { resources } = await this.items.items
        .query<RunDocument>({
          query: 'SELECT TOP @limit * FROM c WHERE c.started_at < @before ORDER BY c.started_at DESC',
          parameters: [
            { name: '@limit', value: query.limit },
            { name: '@before', value: query.before ?? '\uffff' },
          ],
        })
        .fetchAll();
      return resources.map(toRun);
    } catch (error) {
      throw unavailable('listing runs', error);
    }
  }

  async markCrashed(slice: string, exceptRunId: string, now: Date): Promise<number> {
    try {
      const { resources } = await this.items.items
        .query<RunDocument>({
          query: "SELECT * FROM c WHERE c.slice = @slice AND c.status = 'running' AND c.id <> @except",
          parameters: [
            { name: '@slice', value: slice },
            { name: '@except', value: exceptRunId },
          ],
        })
        .fetchAll();
      for (const doc of resources) {
        const run = toRun(doc);
        await this.save({
          ...run,
          status: 'crashed',
          finished_at: now.toISOString(),
          errors: [
            ...run.errors,
            'the run stopped without finishing (its process died); the next run took over',
          ],
        });
      }
      return resources.length;
    } catch (error) {
      throw unavailable(`marking crashed runs of slice '${slice}'`, error);
    }
  }

  /** One COUNT per status: the Cosmos query language has GROUP BY, but the test server lacks it. */
  async totals(): Promise<RunTotals> {
    try {
      const counts = await Promise.all(
        STATUSES.map(async (status) => {
          const { resources } = await this.items.items
            .query<number>({
              query: 'SELECT VALUE COUNT(1) FROM c WHERE c.status = @status',
              parameters: [{ name: '@status', value: status }],
            })
            .fetchAll();
          return resources[0] ?? 0;
        }),
      );
      const [succeeded = 0, failed = 0, crashed = 0, running = 0] = counts;
      return { count: succeeded + failed + crashed + running, succeeded, failed, crashed, running };
    } catch (error) {
      throw unavailable('counting runs', error);
    }
  }

  async ping(): Promise<void> {
    try {
      await this.items.read();
    } catch (error) {
      throw unavailable(`reaching the run history container`, error);
    }
  }

  private get items(): Container {
    if (!this.container) throw new Error('CosmosRunLog used before init()');
    return this.container;
  }
}

function toRun(doc: RunDocument): RunRecord {
  const { id: _id, ...run } = withoutSystemFields(doc);
  return run;
}
