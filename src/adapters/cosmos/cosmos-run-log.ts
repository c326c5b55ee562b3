import type { CosmosClient } from '@azure/cosmos';
import type {
  PauseRequest,
  RunLog,
  RunRecord,
  RunStatus,
  RunTotals,
  VerificationRecord,
} from '../../ports/run-log.js';
import { cosmosStatus, unavailable, withoutSystemFields } from './cosmos-client.js';
import { CosmosAdapter } from './cosmos-container.js';
import { withCosmosRetries } from './cosmos-retry.js';

type RunDocument = RunRecord & { id: string };

/** What is asked of a run, beside the runs: a document of its own that the run never overwrites. */
interface PauseDocument extends PauseRequest {
  id: string;
  type: 'pause_request';
}

/** A verify pass, beside the runs; its id (`verify-…`) is never a run id. */
interface VerificationDocument extends VerificationRecord {
  id: string;
  type: 'verification';
}

/** Pause requests' ids: never a run id, which starts with a digit. */
const pauseDocumentId = (runId: string) => `pause-${runId}`;

const STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'crashed', 'running'];

/** Run history on a Cosmos DB container (partition key /id), shared by every replica and worker. */
export class CosmosRunLog extends CosmosAdapter implements RunLog {
  constructor(client: CosmosClient, options: { database: string; container: string }) {
    super(client, options, '/id', 'CosmosRunLog');
  }

  async save(run: RunRecord): Promise<void> {
    try {
      await withCosmosRetries(() =>
        this.container.items.items.upsert<RunDocument>({ id: run.run_id, ...run }),
      );
    } catch (error) {
      throw unavailable(`saving run '${run.run_id}'`, error);
    }
  }

  async get(runId: string): Promise<RunRecord | undefined> {
    try {
      const { resource } = await withCosmosRetries(() =>
        this.container.items.item(runId, runId).read<RunDocument>(),
      );
      // Pause requests and verify passes share the container: they are no runs.
      return resource && isRunDocument(resource) ? toRun(resource) : undefined;
    } catch (error) {
      if (cosmosStatus(error) === 404) return undefined;
      throw unavailable(`reading run '${runId}'`, error);
    }
  }

  async list(query: { limit: number }): Promise<RunRecord[]> {
    try {
      const { resources } = await withCosmosRetries(() =>
        this.container.items.items
          .query<RunDocument>({
            // Runs only: pause requests and verify passes share the container.
            query: 'SELECT TOP @limit * FROM c WHERE IS_DEFINED(c.run_id) ORDER BY c.started_at DESC',
            parameters: [{ name: '@limit', value: query.limit }],
          })
          .fetchAll(),
      );
      return resources.map(toRun);
    } catch (error) {
      throw unavailable('listing runs', error);
    }
  }

  async listRunning(slice: string): Promise<RunRecord[]> {
    try {
      const { resources } = await withCosmosRetries(() =>
        this.container.items.items
          .query<RunDocument>({
            query: "SELECT * FROM c WHERE c.slice = @slice AND c.status = 'running'",
            parameters: [{ name: '@slice', value: slice }],
          })
          .fetchAll(),
      );
      return resources.map(toRun);
    } catch (error) {
      throw unavailable(`listing running runs of slice '${slice}'`, error);
    }
  }

  /** One COUNT per status: the Cosmos query language has GROUP BY, but the test server lacks it. */
  async totals(): Promise<RunTotals> {
    try {
      const counts = await withCosmosRetries(() =>
        Promise.all(
          STATUSES.map(async (status) => {
            const { resources } = await this.container.items.items
              .query<number>({
                query: 'SELECT VALUE COUNT(1) FROM c WHERE c.status = @status',
                parameters: [{ name: '@status', value: status }],
              })
              .fetchAll();
            return resources[0] ?? 0;
          }),
        ),
      );
      const [succeeded = 0, failed = 0, crashed = 0, running = 0] = counts;
      return { count: succeeded + failed + crashed + running, succeeded, failed, crashed, running };
    } catch (error) {
      throw unavailable('counting runs', error);
    }
  }

  async requestPause(runId: string, request: PauseRequest): Promise<void> {
    const document: PauseDocument = { id: pauseDocumentId(runId), type: 'pause_request', ...request };
    try {
      await withCosmosRetries(() => this.container.items.items.upsert<PauseDocument>(document));
    } catch (error) {
      throw unavailable(`saving what is asked of run '${runId}'`, error);
    }
  }

  async saveVerification(verification: VerificationRecord): Promise<void> {
    const document: VerificationDocument = {
      id: verification.verification_id,
      type: 'verification',
      ...verification,
    };
    try {
      await withCosmosRetries(() => this.container.items.items.upsert<VerificationDocument>(document));
    } catch (error) {
      throw unavailable(`saving verify pass '${verification.verification_id}'`, error);
    }
  }

  async listVerifications(query: { limit: number }): Promise<VerificationRecord[]> {
    try {
      const { resources } = await withCosmosRetries(() =>
        this.container.items.items
          .query<VerificationDocument>({
            query: "SELECT TOP @limit * FROM c WHERE c.type = 'verification' ORDER BY c.finished_at DESC",
            parameters: [{ name: '@limit', value: query.limit }],
          })
          .fetchAll(),
      );
      return resources.map((doc) => {
        const { id: _id, type: _type, ...verification } = withoutSystemFields(doc);
        return verification;
      });
    } catch (error) {
      throw unavailable('listing verify passes', error);
    }
  }

  async pauseRequest(runId: string): Promise<PauseRequest | undefined> {
    const id = pauseDocumentId(runId);
    try {
      const { resource } = await withCosmosRetries(() =>
        this.container.items.item(id, id).read<PauseDocument>(),
      );
      return resource && { paused: resource.paused, at: resource.at, by: resource.by };
    } catch (error) {
      if (cosmosStatus(error) === 404) return undefined;
      throw unavailable(`reading what is asked of run '${runId}'`, error);
    }
  }
}

function toRun(doc: RunDocument): RunRecord {
  const { id: _id, ...run } = withoutSystemFields(doc);
  return run;
}

function isRunDocument(doc: object): doc is RunDocument {
  return typeof (doc as { run_id?: unknown }).run_id === 'string';
}
