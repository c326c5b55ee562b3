import type { CosmosClient } from '@azure/cosmos';
import type { DeletionNotes } from '../../ports/deletion-notes.js';
import { cosmosStatus, unavailable } from './cosmos-client.js';
import { archiveIndexIndexingPolicy, CosmosAdapter } from './cosmos-container.js';
import { withCosmosRetries } from './cosmos-retry.js';

interface DeletionDocument {
  id: string;
  type: 'deletion' | 'deletion-confirmed';
  record_id: string;
  deleted_at: string;
}

/** Ids start with '~', which record ids cannot contain, so notes never collide with index entries. */
const PREFIX = { deletion: '~deleted~', 'deletion-confirmed': '~deleted-confirmed~' } as const;

/**
 * DeletionNotes in the archive index's Cosmos DB container (partition key /id), a document per
 * record for its note and one for its confirmation.
 */
export class CosmosDeletionNotes extends CosmosAdapter implements DeletionNotes {
  constructor(client: CosmosClient, options: { database: string; container: string }) {
    // The archive index's container: whichever adapter creates it gives it the index's policy.
    super(client, options, '/id', 'CosmosDeletionNotes', archiveIndexIndexingPolicy);
  }

  note(id: string, at: string): Promise<void> {
    return this.keepLatest('deletion', id, at);
  }

  deletedAt(id: string): Promise<string | undefined> {
    return this.latest('deletion', id);
  }

  confirm(id: string, at: string): Promise<void> {
    return this.keepLatest('deletion-confirmed', id, at);
  }

  confirmedAt(id: string): Promise<string | undefined> {
    return this.latest('deletion-confirmed', id);
  }

  private async keepLatest(type: DeletionDocument['type'], id: string, at: string): Promise<void> {
    const earlier = await this.latest(type, id);
    if (earlier !== undefined && earlier >= at) return;
    const document: DeletionDocument = { id: `${PREFIX[type]}${id}`, type, record_id: id, deleted_at: at };
    try {
      await withCosmosRetries(() => this.container.items.items.upsert(document));
    } catch (error) {
      throw unavailable(`noting the deletion of '${id}'`, error);
    }
  }

  private async latest(type: DeletionDocument['type'], id: string): Promise<string | undefined> {
    const docId = `${PREFIX[type]}${id}`;
    try {
      const { resource } = await withCosmosRetries(() =>
        this.container.items.item(docId, docId).read<DeletionDocument>(),
      );
      return resource?.deleted_at;
    } catch (error) {
      if (cosmosStatus(error) === 404) return undefined;
      throw unavailable(`reading the deletion note of '${id}'`, error);
    }
  }
}
