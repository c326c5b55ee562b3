import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { createCosmosClient } from '../../src/adapters/cosmos/cosmos-client.js';
import { createAdapters, createServices, type Adapters, type Services } from '../../src/composition-root.js';
import { loadConfig, type Config } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { drainAndClose, SHUTDOWN_DEADLINE_MS } from '../../src/http/shutdown.js';
import type { LayoutName } from '../../src/services/layouts/archive-layout.js';
import type { Clock, Sleep } from '../../src/services/clock.js';
import { cosmosTestAgent, localAzure, uniqueName } from './azure.js';
import { TEST_API_KEYS } from './keys.js';
import { tempDir } from './temp-dir.js';

export const silentLogger = pino({ level: 'silent' });

export type BackendKind = 'embedded' | 'azure';
/**
 * Both backends. TEST_BACKENDS=embedded (or azure) narrows a quick local run to one; `npm test` and
 * CI never set it, and an unknown name is refused rather than silently running nothing.
 */
export const BACKENDS: readonly BackendKind[] = chosenBackends(process.env.TEST_BACKENDS);

function chosenBackends(choice: string | undefined): BackendKind[] {
  const all: BackendKind[] = ['embedded', 'azure'];
  if (choice === undefined || choice === '') return all;
  const chosen = choice.split(',').map((name) => name.trim());
  const unknown = chosen.filter((name) => !all.includes(name as BackendKind));
  if (unknown.length > 0) throw new Error(`TEST_BACKENDS names unknown backends: ${unknown.join(', ')}`);
  return all.filter((backend) => chosen.includes(backend));
}

export const LAYOUTS: readonly LayoutName[] = ['segment', 'record'];

/** Every backend with every archive layout, for suites both layouts must pass alike. */
export const SETUPS: readonly { backend: BackendKind; layout: LayoutName }[] = BACKENDS.flatMap((backend) =>
  LAYOUTS.map((layout) => ({ backend, layout })),
);

export interface Harness {
  backend: BackendKind;
  /** The environment the configuration was read from: give it to a CLI child to share the stores. */
  env: Record<string, string>;
  config: Config;
  adapters: Adapters;
  services: Services;
  app: FastifyInstance;
  /** Replaces a blob's bytes behind the service's back (to test integrity checks). */
  overwriteBlob(name: string, bytes: Buffer): Promise<void>;
  /** Shuts down as the server does (drainAndClose, SHUTDOWN_DEADLINE_MS by default); the data stays until `destroy`. */
  close(deadlineMs?: number): Promise<void>;
  destroy(): Promise<void>;
}

export interface HarnessOptions {
  backend?: BackendKind;
  /** ARCHIVE_LAYOUT; the configured default when absent. */
  layout?: LayoutName;
  env?: Record<string, string>;
  clock?: Clock;
  /** How an archival run waits for its request unit budget; real time by default. */
  sleep?: Sleep;
  /** Wraps the real adapters, e.g. to inject faults. */
  wrap?: (adapters: Adapters) => Adapters;
  /** Reuse the stores of an earlier harness (a restart). */
  reuse?: Harness;
  /** Where the services, the app and shutdown log; silent by default. */
  logger?: Logger;
}

/** The real app over real stores of the chosen backend, driven through app.inject. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const backend = options.reuse?.backend ?? options.backend ?? 'embedded';
  const stores = options.reuse
    ? { env: options.reuse.env, remove: () => options.reuse?.destroy() ?? Promise.resolve() }
    : await freshStores(backend);
  const env = {
    LOG_LEVEL: 'silent',
    API_KEYS: TEST_API_KEYS,
    // Tests read /stats right after changing what it counts; caching is tested on its own.
    STATS_CACHE_SECONDS: '0',
    COST_CACHE_SECONDS: '0',
    ...stores.env,
    ...(options.layout && { ARCHIVE_LAYOUT: options.layout }),
    ...options.env,
  };
  const config = loadConfig(env);
  const built = createAdapters(config.backend, {
    cosmosAgent: cosmosTestAgent(),
    ...(options.clock && { clock: options.clock }),
  });
  const adapters = options.wrap ? options.wrap(built.adapters) : built.adapters;
  const logger = options.logger ?? silentLogger;
  const services = await createServices(config, logger, {
    backend: { ...built, adapters },
    ...(options.clock && { clock: options.clock }),
    ...(options.sleep && { sleep: options.sleep }),
  });
  const app = await buildApp(services, logger, config);
  let closed = false;
  const close = async (deadlineMs = SHUTDOWN_DEADLINE_MS): Promise<void> => {
    if (closed) return;
    closed = true;
    await drainAndClose({ app, services }, deadlineMs, logger);
  };
  return {
    backend,
    env,
    config,
    adapters,
    services,
    app,
    overwriteBlob: (name, bytes) => overwriteBlob(config, name, bytes),
    close,
    destroy: async () => {
      await close();
      if (!options.reuse) await stores.remove();
    },
  };
}

/** Empty stores: a temp DATA_DIR, or a fresh Cosmos database and blob container. */
async function freshStores(
  backend: BackendKind,
): Promise<{ env: Record<string, string>; remove: () => Promise<void> }> {
  switch (backend) {
    case 'embedded': {
      const dir = await tempDir();
      return { env: { DATA_DIR: dir.path }, remove: dir.remove };
    }
    case 'azure': {
      const azure = localAzure();
      const env = {
        COSMOS_ENDPOINT: azure.cosmosEndpoint,
        COSMOS_KEY: azure.cosmosKey,
        COSMOS_DATABASE: uniqueName('db'),
        BLOB_CONNECTION_STRING: azure.blobConnectionString,
        BLOB_CONTAINER: uniqueName('archive'),
        AUDIT_BLOB_CONTAINER: uniqueName('audit'),
        NODE_EXTRA_CA_CERTS: azure.caCertPath,
      };
      return {
        env,
        remove: async () => {
          const client = createCosmosClient({
            endpoint: env.COSMOS_ENDPOINT,
            key: env.COSMOS_KEY,
            database: '',
            agent: cosmosTestAgent(),
          });
          await client.database(env.COSMOS_DATABASE).delete();
          client.dispose();
          const blobs = BlobServiceClient.fromConnectionString(env.BLOB_CONNECTION_STRING);
          await blobs.getContainerClient(env.BLOB_CONTAINER).deleteIfExists();
          await blobs.getContainerClient(env.AUDIT_BLOB_CONTAINER).deleteIfExists();
        },
      };
    }
  }
}

async function overwriteBlob(config: Config, name: string, bytes: Buffer): Promise<void> {
  const { backend } = config;
  switch (backend.kind) {
    case 'embedded':
      await writeFile(join(backend.dataDir, 'archive', ...name.split('/')), bytes);
      return;
    case 'azure': {
      if (backend.blob.kind !== 'connection-string') throw new Error('tests use a connection string');
      const container = BlobServiceClient.fromConnectionString(
        backend.blob.connectionString,
      ).getContainerClient(backend.blob.container);
      await container.getBlockBlobClient(name).upload(bytes, bytes.length);
      return;
    }
  }
}

/** Names of the blobs under `prefix`, through the port. */
export async function blobNames(harness: Harness, prefix = 'records/'): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of harness.adapters.store.list(prefix)) names.push(blob.name);
  return names;
}

/** A valid record body; `overrides` replace or add fields. */
export function recordBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { customer_id: 'cust-1', amount: 129.9, currency: 'EUR', status: 'pending', ...overrides };
}

export function daysAgo(days: number, from = new Date()): string {
  return new Date(from.getTime() - days * 24 * 60 * 60 * 1000).toISOString();
}
