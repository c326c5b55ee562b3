import { randomUUID } from 'node:crypto';
import type { CosmosClient } from '@azure/cosmos';
import type { Garbage, GarbageQueue } from '../../ports/garbage-queue.js';
import { cosmosStatus, unavailable } from './cosmos-client.js';
import { archiveIndexIndexingPolicy, CosmosAdapter } from './cosmos-container.js';
import { withCosmosRetries } from './cosmos-retry.js';

interface GarbageDocument {
  id: string;
  type: 'garbage';
  record_id: string;
  location: Garbage['location'];
}

/**
 * Ids start with '~', which record ids cannot contain, so garbage never collides with the index's
 * entries in the shared container; the time and this process's count that follow make id order the
 * order it was noted in.
 */
const GARBAGE_PREFIX = '~garbage~';

let notesMade = 0;
/** This process's notes in the order made, so two in one millisecond still list in that order. */
function nextNoteNumber(): string {
  notesMade += 1;
  return String(notesMade).padStart(12, '0');
}

/** GarbageQueue in the archive index's Cosmos DB container (partition key /id), a document per location. */
export class CosmosGarbageQueue extends CosmosAdapter implements GarbageQueue {
  constructor(client: CosmosClient, options: { database: string; container: string }) {
    // The archive index's container: whichever adapter creates it gives it the index's policy.
    super(client, options, '/id', 'CosmosGarbageQueue', archiveIndexIndexingPolicy);
  }

  async add(items: readonly Omit<Garbage, 'seq'>[]): Promise<void> {
    for (const item of items) {
      const document: GarbageDocument = {
        id: `${GARBAGE_PREFIX}${new Date().toISOString()}~${nextNoteNumber()}~${randomUUID()}`,
        type: 'garbage',
        record_id: item.id,
        location: item.location,
      };
      try {
        await withCosmosRetries(async ({ mayHaveLanded }) => {
          try {
            await this.container.items.items.create(document);
          } catch (error) {
            // The id is this note's own: "exists" after a lost answer is the earlier attempt's work.
            if (!(mayHaveLanded && cosmosStatus(error) === 409)) throw error;
          }
        });
      } catch (error) {
        throw unavailable(`recording garbage for '${item.id}'`, error);
      }
    }
  }

  async list(query: { limit: number; afterSeq?: string | undefined }): Promise<Garbage[]> {
    try {
      const { resources } = await withCosmosRetries(() =>
        this.container.items.items
          .query<GarbageDocument>({
            query: "SELECT TOP @limit * FROM c WHERE c.type = 'garbage' AND c.id > @after ORDER BY c.id",
            parameters: [
              { name: '@limit', value: query.limit },
              { name: '@after', value: query.afterSeq ?? GARBAGE_PREFIX },
            ],
          })
          .fetchAll(),
      );
      return resources.map((doc) => ({ seq: doc.id, id: doc.record_id, location: doc.location }));
    } catch (error) {
      throw unavailable('listing archive garbage', error);
    }
  }

  async forget(seqs: readonly string[]): Promise<void> {
    for (const seq of seqs) {
      try {
        await withCosmosRetries(() => this.container.items.item(seq, seq).delete());
      } catch (error) {
        if (cosmosStatus(error) !== 404) throw unavailable(`forgetting garbage '${seq}'`, error);
      }
    }
  }
}
