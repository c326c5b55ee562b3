import type { CosmosClient } from '@azure/cosmos';
import type { DeletionNotes } from '../../ports/deletion-notes.js';
import { cosmosStatus, unavailable } from './cosmos-client.js';
import { CosmosAdapter } from './cosmos-container.js';
import { withCosmosRetries } from './cosmos-retry.js';

interface DeletionDocument {
  id: string;
  type: 'deletion';
  record_id: string;
  deleted_at: string;
}

/** Ids start with '~', which record ids cannot contain, so notes never collide with index entries. */
const DELETION_PREFIX = '~deleted~';

/** DeletionNotes in the archive index's Cosmos DB container (partition key /id), a document per record. */
export class CosmosDeletionNotes extends CosmosAdapter implements DeletionNotes {
  constructor(client: CosmosClient, options: { database: string; container: string }) {
    super(client, options, '/id', 'CosmosDeletionNotes');
  }

  async note(id: string, at: string): Promise<void> {
    const earlier = await this.deletedAt(id);
    if (earlier !== undefined && earlier >= at) return;
    const document: DeletionDocument = {
      id: `${DELETION_PREFIX}${id}`,
      type: 'deletion',
      record_id: id,
      deleted_at: at,
    };
    try {
      await withCosmosRetries(() => this.container.items.items.upsert(document));
    } catch (error) {
      throw unavailable(`noting the deletion of '${id}'`, error);
    }
  }

  async deletedAt(id: string): Promise<string | undefined> {
    const docId = `${DELETION_PREFIX}${id}`;
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
