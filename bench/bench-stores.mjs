// Fresh stores for a bench run, one set per measurement: a temporary DATA_DIR on the embedded
// backend, or a new database and containers on Azurite and the Cosmos DB test server (started on
// loopback once, as the tests do, and stopped by `stop`). The env serves the bench's own process
// and the built server or CLI it starts alike.
import { Agent } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** @typedef {{ env: Record<string, string>, remove: () => Promise<void> }} Stores */

/**
 * @param {'embedded' | 'azure'} backend
 * @param {string} name prefix of the directories, databases and containers
 * @returns {Promise<{ freshStores: () => Promise<Stores>, cosmosAgent: Agent | undefined, stop: () => Promise<void> }>}
 */
export async function benchStores(backend, name) {
  if (backend === 'embedded') {
    return {
      freshStores: async () => {
        const dir = await mkdtemp(join(tmpdir(), `billing-archive-${name}-`));
        return { env: { DATA_DIR: dir }, remove: () => rm(dir, { recursive: true, force: true }) };
      },
      cosmosAgent: undefined,
      stop: () => Promise.resolve(),
    };
  }
  // In a process of their own: the Cosmos DB test server's queries would stall the bench's.
  const { startLocalAzureProcess } = await import('../scripts/local-azure-process.mjs');
  const azure = await startLocalAzureProcess();
  let n = 0;
  return {
    freshStores: () => {
      n += 1;
      return Promise.resolve({
        env: {
          COSMOS_ENDPOINT: azure.cosmosEndpoint,
          COSMOS_KEY: azure.cosmosKey,
          COSMOS_DATABASE: `${name}${n}`,
          BLOB_CONNECTION_STRING: azure.blobConnectionString,
          BLOB_CONTAINER: `${name}${n}`,
          AUDIT_BLOB_CONTAINER: `${name}-audit${n}`,
          // A built server or CLI started with this env trusts the test server the standard Node way.
          NODE_EXTRA_CA_CERTS: azure.caCertPath,
        },
        // The servers and their files go when the bench ends.
        remove: () => Promise.resolve(),
      });
    },
    cosmosAgent: new Agent({ ca: azure.caCert, keepAlive: true }),
    stop: azure.stop,
  };
}

/**
 * Creates `docs` straight in a Cosmos DB container (which must exist, partitioned on /id as the
 * records container is), a thousand a bulk call: much faster than the API, so a bench measures its
 * run and not its set-up.
 * @param {{ endpoint: string, key?: string | undefined, database: string, container: string }} cosmos
 * @param {import('../dist/domain/billing-record.js').RecordDocument[]} docs
 * @param {Agent} agent trusts the Cosmos DB test server's certificate
 */
export async function seedCosmos(cosmos, docs, agent) {
  const { CosmosClient } = await import('@azure/cosmos');
  const client = new CosmosClient({
    endpoint: cosmos.endpoint,
    key: cosmos.key,
    agent,
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  try {
    const container = client.database(cosmos.database).container(cosmos.container);
    for (let start = 0; start < docs.length; start += 1000) {
      const results = await container.items.executeBulkOperations(
        docs.slice(start, start + 1000).map((doc) => ({
          operationType: 'Create',
          partitionKey: doc.id,
          resourceBody: /** @type {import("@azure/cosmos").JSONObject} */ (doc),
        })),
      );
      const failed = results.find((result) => result.error || (result.response?.statusCode ?? 0) >= 400);
      if (failed) throw new Error(`seeding failed: ${JSON.stringify(failed.error ?? failed.response)}`);
    }
  } finally {
    client.dispose();
  }
}
