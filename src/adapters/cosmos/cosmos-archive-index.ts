import { randomUUID } from 'node:crypto';
import type { CosmosClient, SqlParameter } from '@azure/cosmos';
import { PreconditionFailedError } from '../../domain/errors.js';
import {
  sameLocation,
  type ArchiveEntry,
  type ArchiveIndex,
  type ArchiveListQuery,
  type Garbage,
  type StoredEntry,
} from '../../ports/archive-index.js';
import { cosmosStatus, etagOf, ifMatch, unavailable } from './cosmos-client.js';
import { CosmosAdapter } from './cosmos-container.js';

interface EntryDocument extends ArchiveEntry {
  type: 'entry';
  _etag?: string;
}

interface GarbageDocument {
  id: string;
  type: 'garbage';
  record_id: string;
  location: Garbage['location'];
  since: string;
}

interface DeletionDocument {
  id: string;
  type: 'deletion';
  record_id: string;
  deleted_at: string;
}

/**
 * Garbage and deletion ids start with '~', which record ids cannot contain, so they never collide
 * with entries; for garbage, the time that follows makes id order the order it was noted in.
 */
const GARBAGE_PREFIX = '~garbage~';
const DELETION_PREFIX = '~deleted~';
const WRITE_CONCURRENCY = 16;

/**
 * ArchiveIndex on a Cosmos DB container (partition key /id): one document per archived record, and
 * one per garbage location. Garbage is recorded before the entry that pointed to it changes, so a
 * crash in between leaves at worst a garbage note for a blob still in use, which the collector skips.
 */
export class CosmosArchiveIndex extends CosmosAdapter implements ArchiveIndex {
  constructor(client: CosmosClient, options: { database: string; container: string }) {
    super(client, options, '/id', 'CosmosArchiveIndex');
  }

  async get(id: string): Promise<StoredEntry | undefined> {
    try {
      const { resource } = await this.container.items.item(id, id).read<EntryDocument>();
      return resource?.type === 'entry' ? toEntry(resource) : undefined;
    } catch (error) {
      if (cosmosStatus(error) === 404) return undefined;
      throw unavailable(`reading archive entry '${id}'`, error);
    }
  }

  async putMany(entries: readonly ArchiveEntry[]): Promise<StoredEntry[]> {
    const stored: StoredEntry[] = [];
    for (let start = 0; start < entries.length; start += WRITE_CONCURRENCY) {
      const chunk = entries.slice(start, start + WRITE_CONCURRENCY);
      stored.push(...(await Promise.all(chunk.map((entry) => this.putOne(entry)))));
    }
    return stored;
  }

  async withdraw(id: string, etag?: string): Promise<StoredEntry | undefined> {
    const current = await this.get(id);
    if (!current) return undefined;
    if (etag !== undefined && current.etag !== etag) {
      throw new PreconditionFailedError(`archive entry '${id}' has changed since version ${etag}`);
    }
    await this.addGarbage(current, new Date().toISOString());
    try {
      await this.container.items.item(id, id).delete(ifMatch(current.etag));
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

  async listGarbage(query: { limit: number; afterSeq?: string | undefined }): Promise<Garbage[]> {
    try {
      const { resources } = await this.container.items.items
        .query<GarbageDocument>({
          query: "SELECT TOP @limit * FROM c WHERE c.type = 'garbage' AND c.id > @after ORDER BY c.id",
          parameters: [
            { name: '@limit', value: query.limit },
            { name: '@after', value: query.afterSeq ?? GARBAGE_PREFIX },
          ],
        })
        .fetchAll();
      return resources.map((doc) => ({
        seq: doc.id,
        id: doc.record_id,
        location: doc.location,
        since: doc.since,
      }));
    } catch (error) {
      throw unavailable('listing archive garbage', error);
    }
  }

  async forgetGarbage(seqs: readonly string[]): Promise<void> {
    for (const seq of seqs) {
      try {
        await this.container.items.item(seq, seq).delete();
      } catch (error) {
        if (cosmosStatus(error) !== 404) throw unavailable(`forgetting garbage '${seq}'`, error);
      }
    }
  }

  async listAt(blob: string, query: { limit: number; afterId?: string | undefined }): Promise<StoredEntry[]> {
    try {
      const { resources } = await this.container.items.items
        .query<EntryDocument>({
          query: `SELECT TOP @limit * FROM c
                   WHERE c.type = 'entry' AND c.location.blob = @blob AND c.id > @after ORDER BY c.id`,
          parameters: [
            { name: '@limit', value: query.limit },
            { name: '@blob', value: blob },
            { name: '@after', value: query.afterId ?? '' },
          ],
        })
        .fetchAll();
      return resources.map(toEntry);
    } catch (error) {
      throw unavailable(`listing archive entries in ${blob}`, error);
    }
  }

  async noteDeleted(id: string, at: string): Promise<void> {
    const earlier = await this.deletedAt(id);
    if (earlier !== undefined && earlier >= at) return;
    const document: DeletionDocument = {
      id: `${DELETION_PREFIX}${id}`,
      type: 'deletion',
      record_id: id,
      deleted_at: at,
    };
    try {
      await this.container.items.items.upsert(document);
    } catch (error) {
      throw unavailable(`noting the deletion of '${id}'`, error);
    }
  }

  async deletedAt(id: string): Promise<string | undefined> {
    const docId = `${DELETION_PREFIX}${id}`;
    try {
      const { resource } = await this.container.items.item(docId, docId).read<DeletionDocument>();
      return resource?.deleted_at;
    } catch (error) {
      if (cosmosStatus(error) === 404) return undefined;
      throw unavailable(`reading the deletion note of '${id}'`, error);
    }
  }

  async listCreatedBefore(
    cutoff: string,
    query: { limit: number; afterId?: string | undefined },
  ): Promise<StoredEntry[]> {
    try {
      const { resources } = await this.container.items.items
        .query<EntryDocument>({
          query: `SELECT TOP @limit * FROM c
                   WHERE c.type = 'entry' AND c.created_at < @cutoff AND c.id > @after ORDER BY c.id`,
          parameters: [
            { name: '@limit', value: query.limit },
            { name: '@cutoff', value: cutoff },
            { name: '@after', value: query.afterId ?? '' },
          ],
        })
        .fetchAll();
      return resources.map(toEntry);
    } catch (error) {
      throw unavailable(`listing archive entries created before ${cutoff}`, error);
    }
  }

  async list(query: ArchiveListQuery): Promise<StoredEntry[]> {
    const where = ["c.type = 'entry'", 'c.id > @afterId'];
    const parameters: SqlParameter[] = [
      { name: '@afterId', value: query.afterId ?? '' },
      { name: '@limit', value: query.limit },
    ];
    if (query.customerId !== undefined) {
      where.push('c.customer_id = @customerId');
      parameters.push({ name: '@customerId', value: query.customerId });
    }
    try {
      const { resources } = await this.container.items.items
        .query<EntryDocument>({
          query: `SELECT TOP @limit * FROM c WHERE ${where.join(' AND ')} ORDER BY c.id`,
          parameters,
        })
        .fetchAll();
      return resources.map(toEntry);
    } catch (error) {
      throw unavailable('listing archive entries', error);
    }
  }

  async summary(): Promise<{ count: number; bytes: number }> {
    try {
      const [count, bytes] = await Promise.all([
        this.container.items.items
          .query<number>("SELECT VALUE COUNT(1) FROM c WHERE c.type = 'entry'")
          .fetchAll(),
        this.container.items.items
          .query<number>("SELECT VALUE SUM(c.size) FROM c WHERE c.type = 'entry'")
          .fetchAll(),
      ]);
      return { count: count.resources[0] ?? 0, bytes: bytes.resources[0] ?? 0 };
    } catch (error) {
      throw unavailable('counting archive entries', error);
    }
  }

  private async putOne(entry: ArchiveEntry): Promise<StoredEntry> {
    const previous = await this.get(entry.id);
    if (previous && !sameLocation(previous.location, entry.location)) {
      await this.addGarbage(previous, entry.archived_at);
    }
    try {
      const document: EntryDocument = { ...entry, type: 'entry' };
      const { resource } = await this.container.items.items.upsert(document);
      return { ...entry, etag: etagOf(resource) };
    } catch (error) {
      throw unavailable(`writing archive entry '${entry.id}'`, error);
    }
  }

  private async addGarbage(entry: StoredEntry, since: string): Promise<void> {
    const document: GarbageDocument = {
      id: `${GARBAGE_PREFIX}${new Date().toISOString()}~${randomUUID()}`,
      type: 'garbage',
      record_id: entry.id,
      location: entry.location,
      since,
    };
    try {
      await this.container.items.items.create(document);
    } catch (error) {
      throw unavailable(`recording garbage for '${entry.id}'`, error);
    }
  }
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
