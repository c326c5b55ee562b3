import { randomUUID } from 'node:crypto';
import type { CosmosClient } from '@azure/cosmos';
import { ConflictError, NotFoundError, PreconditionFailedError } from '../../domain/errors.js';
import type { RestoreJob, RestoreJobs, StoredRestoreJob } from '../../ports/restore-jobs.js';
import { cosmosStatus, etagOf, ifMatch, unavailable, withoutSystemFields } from './cosmos-client.js';
import { CosmosAdapter } from './cosmos-container.js';
import { withCosmosRetries } from './cosmos-retry.js';

/**
 * The job, and a token new with every write: after an answer lost on the way, finding its own
 * token says the write landed (a 409 or 412 on the retry is then its own doing).
 */
type JobDocument = RestoreJob & { id: string; write: string };

/** Restore jobs on a Cosmos DB container (partition key /id), replaced only on their etag. */
export class CosmosRestoreJobs extends CosmosAdapter implements RestoreJobs {
  constructor(client: CosmosClient, options: { database: string; container: string }) {
    super(client, options, '/id', 'CosmosRestoreJobs');
  }

  async create(job: RestoreJob): Promise<StoredRestoreJob> {
    const document: JobDocument = { ...job, id: job.job_id, write: randomUUID() };
    try {
      return await withCosmosRetries(async ({ mayHaveLanded }) => {
        try {
          const { resource } = await this.container.items.items.create<JobDocument>(document);
          return { job, etag: etagOf(resource) };
        } catch (error) {
          if (cosmosStatus(error) !== 409) throw error;
          const landed = mayHaveLanded ? await this.landed(document) : undefined;
          if (landed) return landed;
          throw new ConflictError(`restore job '${job.job_id}' exists already`);
        }
      });
    } catch (error) {
      if (error instanceof ConflictError) throw error;
      throw unavailable(`saving restore job '${job.job_id}'`, error);
    }
  }

  async get(jobId: string): Promise<StoredRestoreJob | undefined> {
    try {
      const document = await withCosmosRetries(() => this.read(jobId));
      return document && stored(document);
    } catch (error) {
      throw unavailable(`reading restore job '${jobId}'`, error);
    }
  }

  async replace(job: RestoreJob, etag: string): Promise<StoredRestoreJob> {
    const document: JobDocument = { ...job, id: job.job_id, write: randomUUID() };
    try {
      return await withCosmosRetries(async ({ mayHaveLanded }) => {
        try {
          const { resource } = await this.container.items
            .item(job.job_id, job.job_id)
            .replace<JobDocument>(document, ifMatch(etag));
          return { job, etag: etagOf(resource) };
        } catch (error) {
          const status = cosmosStatus(error);
          if (status !== 404 && status !== 412) throw error;
          const landed = mayHaveLanded && status === 412 ? await this.landed(document) : undefined;
          if (landed) return landed;
          if (status === 404) throw new NotFoundError(`restore job '${job.job_id}' not found`);
          throw new PreconditionFailedError(`restore job '${job.job_id}' has changed since version ${etag}`);
        }
      });
    } catch (error) {
      if (error instanceof NotFoundError || error instanceof PreconditionFailedError) throw error;
      throw unavailable(`saving restore job '${job.job_id}'`, error);
    }
  }

  async list(query: { limit: number }): Promise<RestoreJob[]> {
    try {
      const { resources } = await withCosmosRetries(() =>
        this.container.items.items
          .query<JobDocument>({
            query: 'SELECT TOP @limit * FROM c ORDER BY c.created_at DESC',
            parameters: [{ name: '@limit', value: query.limit }],
          })
          .fetchAll(),
      );
      return resources.map((document) => stored(document).job);
    } catch (error) {
      throw unavailable('listing restore jobs', error);
    }
  }

  async listUnfinished(): Promise<StoredRestoreJob[]> {
    try {
      const { resources } = await withCosmosRetries(() =>
        this.container.items.items
          .query<JobDocument>("SELECT * FROM c WHERE c.status IN ('running', 'waiting')")
          .fetchAll(),
      );
      return resources.map(stored);
    } catch (error) {
      throw unavailable('listing unfinished restore jobs', error);
    }
  }

  private async read(jobId: string): Promise<JobDocument | undefined> {
    try {
      const { resource } = await this.container.items.item(jobId, jobId).read<JobDocument>();
      return resource;
    } catch (error) {
      if (cosmosStatus(error) === 404) return undefined;
      throw error;
    }
  }

  /** The stored job when it is this very write. */
  private async landed(document: JobDocument): Promise<StoredRestoreJob | undefined> {
    const now = await this.read(document.id);
    return now?.write === document.write ? stored(now) : undefined;
  }
}

function stored(document: JobDocument): StoredRestoreJob {
  const { id: _id, write: _write, ...job } = withoutSystemFields(document);
  return { job, etag: etagOf(document as { _etag?: unknown }) };
}
