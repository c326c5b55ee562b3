import { describe, expect, it } from 'vitest';
import { createCosmosClient } from '../../src/adapters/cosmos/cosmos-client.js';
import { CosmosDeletionNotes } from '../../src/adapters/cosmos/cosmos-deletion-notes.js';
import { CosmosGarbageQueue } from '../../src/adapters/cosmos/cosmos-garbage-queue.js';
import { CosmosArchiveIndex } from '../../src/adapters/cosmos/cosmos-archive-index.js';
import { archiveIndexIndexingPolicy } from '../../src/adapters/cosmos/cosmos-container.js';
import { CosmosLegalHolds } from '../../src/adapters/cosmos/cosmos-legal-holds.js';
import { CosmosLiveStore } from '../../src/adapters/cosmos/cosmos-live-store.js';
import { CosmosRunLog } from '../../src/adapters/cosmos/cosmos-run-log.js';
import { CosmosRestoreJobs } from '../../src/adapters/cosmos/cosmos-restore-jobs.js';
import type { RecordDocument } from '../../src/domain/billing-record.js';
import { StoreUnavailableError } from '../../src/domain/errors.js';
import { describeArchiveIndexContract } from '../contracts/archive-index-contract.js';
import { describeDeletionNotesContract } from '../contracts/deletion-notes-contract.js';
import { describeGarbageQueueContract } from '../contracts/garbage-queue-contract.js';
import { describeIndexFamilyContract, indexFamily } from '../contracts/index-family-contract.js';
import { describeLegalHoldsContract } from '../contracts/legal-holds-contract.js';
import { describeLiveStoreContract } from '../contracts/live-store-contract.js';
import { describeRunLogContract } from '../contracts/run-log-contract.js';
import { describeRestoreJobsContract } from '../contracts/restore-jobs-contract.js';
import { openedStore, type StoreFixture } from '../contracts/store-fixture.js';
import { cosmosTestAgent, localAzure, uniqueName } from '../helpers/azure.js';

function testClient() {
  const { cosmosEndpoint, cosmosKey } = localAzure();
  return createCosmosClient({
    endpoint: cosmosEndpoint,
    key: cosmosKey,
    database: 'unused',
    agent: cosmosTestAgent(),
  });
}

/** A store on its own database of the Cosmos test server; disposing deletes the database. */
function inFreshDatabase<T extends { init(): Promise<void>; close(): Promise<void> }>(
  build: (client: ReturnType<typeof testClient>, database: string) => T,
): () => Promise<StoreFixture<T>> {
  return () => {
    const client = testClient();
    const database = uniqueName('db');
    return openedStore(build(client, database), async () => {
      await client.database(database).delete();
      client.dispose();
    });
  };
}

describeLiveStoreContract(
  'Cosmos DB (test server)',
  inFreshDatabase(
    (client, database) =>
      new CosmosLiveStore(client, { database, container: 'records', partitionKeyPath: '/id' }),
  ),
);
describeLiveStoreContract(
  'Cosmos DB, partition key /customer_id (test server)',
  inFreshDatabase(
    (client, database) =>
      new CosmosLiveStore(client, { database, container: 'records', partitionKeyPath: '/customer_id' }),
  ),
);
describeArchiveIndexContract(
  'Cosmos DB (test server)',
  inFreshDatabase(
    (client, database) => new CosmosArchiveIndex(client, { database, container: 'archive_index' }),
  ),
);
describeGarbageQueueContract(
  'Cosmos DB (test server)',
  inFreshDatabase(
    (client, database) => new CosmosGarbageQueue(client, { database, container: 'archive_index' }),
  ),
);
describeDeletionNotesContract(
  'Cosmos DB (test server)',
  inFreshDatabase(
    (client, database) => new CosmosDeletionNotes(client, { database, container: 'archive_index' }),
  ),
);
describeIndexFamilyContract(
  'Cosmos DB, one container (test server)',
  inFreshDatabase((client, database) => {
    const where = { database, container: 'archive_index' };
    return indexFamily({
      index: new CosmosArchiveIndex(client, where),
      garbage: new CosmosGarbageQueue(client, where),
      deletions: new CosmosDeletionNotes(client, where),
    });
  }),
);
describeLegalHoldsContract(
  'Cosmos DB (test server)',
  inFreshDatabase((client, database) => new CosmosLegalHolds(client, { database, container: 'legal_holds' })),
);
describeRunLogContract(
  'Cosmos DB (test server)',
  inFreshDatabase((client, database) => new CosmosRunLog(client, { database, container: 'archive_runs' })),
);

describeRestoreJobsContract(
  'Cosmos DB (test server)',
  inFreshDatabase(
    (client, database) => new CosmosRestoreJobs(client, { database, container: 'restore_jobs' }),
  ),
);

describe('CosmosLiveStore on the test server', () => {
  it('keeps Cosmos system fields out of the documents it returns', async () => {
    const make = inFreshDatabase(
      (client, database) =>
        new CosmosLiveStore(client, { database, container: 'records', partitionKeyPath: '/id' }),
    );
    const fixture = await make();
    const store = fixture.store;
    try {
      await store.create({
        id: 'a',
        created_at: '2026-01-01T00:00:00.000Z',
        updated_at: '2026-01-01T00:00:00.000Z',
        x: 1,
      });
      const got = await store.get('a');
      expect(Object.keys(got?.doc ?? {})).toEqual(['id', 'created_at', 'updated_at', 'x']);
      const page = await store.findEligible({
        touchedBefore: new Date('2026-06-01T00:00:00.000Z'),
        limit: 10,
      });
      expect(Object.keys(page.records[0]?.doc ?? {})).toEqual(['id', 'created_at', 'updated_at', 'x']);
    } finally {
      await fixture.dispose();
    }
  });

  it('keeps every field of a document another system wrote, even one named __proto__', async () => {
    const make = inFreshDatabase(
      (client, database) =>
        new CosmosLiveStore(client, { database, container: 'records', partitionKeyPath: '/id' }),
    );
    const fixture = await make();
    try {
      const written = JSON.parse(
        '{"id":"p","created_at":"2026-01-01T00:00:00.000Z","updated_at":"2026-01-01T00:00:00.000Z","__proto__":{"polluted":true},"amount":5}',
      ) as RecordDocument;
      await fixture.store.create(written);
      const got = await fixture.store.get('p');
      expect(JSON.stringify(got?.doc)).toBe(JSON.stringify(written));
      expect(Object.hasOwn(got?.doc ?? {}, '__proto__')).toBe(true);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    } finally {
      await fixture.dispose();
    }
  });

  it('reports an unreachable endpoint as StoreUnavailableError naming the container', async () => {
    const client = createCosmosClient({
      endpoint: 'https://127.0.0.1:9/',
      key: localAzure().cosmosKey,
      database: 'x',
    });
    const store = new CosmosLiveStore(client, {
      database: 'billingdb',
      container: 'records',
      partitionKeyPath: '/id',
    });
    await expect(store.init()).rejects.toSatisfy(
      (e) => e instanceof StoreUnavailableError && e.message.includes("container 'records'"),
    );
    client.dispose();
  });
});

describe('the archive index container on the test server', () => {
  it('is created with the indexing policy of its file, by whichever adapter of it opens first', async () => {
    const policy = await archiveIndexIndexingPolicy();
    for (const build of [
      (client: ReturnType<typeof testClient>, database: string) =>
        new CosmosGarbageQueue(client, { database, container: 'archive_index' }),
      (client: ReturnType<typeof testClient>, database: string) =>
        new CosmosArchiveIndex(client, { database, container: 'archive_index' }),
    ]) {
      const client = testClient();
      const database = uniqueName('db');
      const fixture = await openedStore(build(client, database), async () => {
        await client.database(database).delete();
        client.dispose();
      });
      try {
        const { resource } = await client.database(database).container('archive_index').read();
        expect(resource?.indexingPolicy).toMatchObject({
          includedPaths: policy.includedPaths,
          excludedPaths: policy.excludedPaths,
        });
      } finally {
        await fixture.dispose();
      }
    }
  });
});
