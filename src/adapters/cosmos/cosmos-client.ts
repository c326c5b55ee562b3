import type { Agent } from 'node:http';
import {
  CosmosClient,
  ErrorResponse,
  type Container,
  type CosmosClientOptions,
  type Database,
  type IndexingPolicy,
  type PluginConfig,
  type RequestContext,
} from '@azure/cosmos';
import { DefaultAzureCredential } from '@azure/identity';
import { StoreUnavailableError } from '../../domain/errors.js';
import type { RequestMeter } from '../../ports/request-meter.js';

export interface CosmosConnection {
  endpoint: string;
  /** Account key; without one, DefaultAzureCredential (managed identity) is used. */
  key?: string | undefined;
  database: string;
  /** Only tests pass their own agent; operators trust a certificate through NODE_EXTRA_CA_CERTS. */
  agent?: Agent | undefined;
}

/** Fields Cosmos DB adds to every document; they never reach the archive or the API. */
const SYSTEM_FIELDS = ['_rid', '_self', '_etag', '_attachments', '_ts', '_lsn'];

export function createCosmosClient(connection: CosmosConnection, meter?: RequestMeter): CosmosClient {
  const loopback = /^https?:\/\/(127\.|localhost|\[::1\])/.test(connection.endpoint);
  const options: CosmosClientOptions & { plugins?: PluginConfig[] } = {
    endpoint: connection.endpoint,
    ...(connection.key ? { key: connection.key } : { aadCredentials: new DefaultAzureCredential() }),
    ...(connection.agent && { agent: connection.agent }),
    connectionPolicy: {
      // A loopback endpoint (emulator, test server) has no other regions to discover.
      enableEndpointDiscovery: !loopback,
      // A point operation or a query page that takes 10 s is a stalled connection: give it up and
      // retry (cosmos-retry.ts) rather than hold an API caller for the SDK's default minute.
      requestTimeout: 10_000,
      // Throttled requests (429) wait as long as the service says, up to 30 s in all.
      retryOptions: {
        maxRetryAttemptCount: 9,
        fixedRetryIntervalInMilliseconds: 0,
        maxWaitTimeInSeconds: 30,
      },
    },
    ...(meter && { plugins: [meteringPlugin(meter)] }),
  };
  return new CosmosClient(options);
}

/**
 * Tells the meter of every network request the SDK sends, with its charge: retries, throttled
 * attempts, query pages and the SDK's own metadata reads included, as Cosmos DB bills them. The
 * SDK's `plugins` option is public in its code but hidden from its types, hence the widened type.
 */
function meteringPlugin(meter: RequestMeter): PluginConfig {
  return {
    on: 'request',
    plugin: async (context, _diagnostics, next) => {
      try {
        const response = await next(context);
        meter.count({ store: 'cosmos', kind: requestKind(context), requestUnits: charge(response.headers) });
        return response;
      } catch (error) {
        const headers = (error as { headers?: Record<string, unknown> } | undefined)?.headers;
        meter.count({ store: 'cosmos', kind: requestKind(context), requestUnits: charge(headers) });
        throw error;
      }
    },
  };
}

/** `<container>/<operation>` for documents (`billing_records/batch`, `records/queryplan`), else `<resource>/<operation>`. */
function requestKind(context: RequestContext): string {
  // A query first asks the gateway for its plan: a request of its own, marked by this header.
  const operation = context.headers?.['x-ms-cosmos-is-query-plan-request']
    ? 'queryplan'
    : (context.operationType ?? context.method.toLowerCase());
  const resource: string = context.resourceType ?? 'unknown';
  const container = resource === 'docs' && /\bcolls\/([^/]+)/.exec(context.path ?? '')?.[1];
  return `${container || resource}/${operation}`;
}

function charge(headers: Record<string, unknown> | undefined): number {
  const value = Number(headers?.['x-ms-request-charge']);
  return Number.isFinite(value) ? value : 0;
}

/**
 * The database and container, created if missing (partition key `partitionKeyPath`, and
 * `indexingPolicy` when given; an existing container keeps its own).
 */
export async function openContainer(
  client: CosmosClient,
  databaseId: string,
  containerId: string,
  partitionKeyPath: string,
  indexingPolicy?: IndexingPolicy,
): Promise<Container> {
  let database: Database;
  try {
    ({ database } = await client.databases.createIfNotExists({ id: databaseId }));
    const { container } = await database.containers.createIfNotExists({
      id: containerId,
      partitionKey: { paths: [partitionKeyPath] },
      ...(indexingPolicy && { indexingPolicy }),
    });
    return container;
  } catch (error) {
    // With Entra ID (no key) the data plane may not create resources: use them if they exist.
    if (cosmosStatus(error) === 403) {
      const container = client.database(databaseId).container(containerId);
      try {
        await container.read();
        return container;
      } catch (readError) {
        throw unavailable(`opening container '${containerId}' in database '${databaseId}'`, readError);
      }
    }
    throw unavailable(`opening container '${containerId}' in database '${databaseId}'`, error);
  }
}

export function cosmosStatus(error: unknown): number | undefined {
  if (error instanceof ErrorResponse && typeof error.code === 'number') return error.code;
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

export function unavailable(action: string, error: unknown): StoreUnavailableError {
  return StoreUnavailableError.failed('Cosmos DB', action, error);
}

/** The document without Cosmos DB's system fields, keys in their stored order. */
export function withoutSystemFields<T extends object>(resource: T): T {
  // fromEntries defines each key as data, so a field named `__proto__` stays a field (assigning it
  // would set the copy's prototype and drop it from the archived bytes).
  return Object.fromEntries(Object.entries(resource).filter(([key]) => !SYSTEM_FIELDS.includes(key))) as T;
}

export function etagOf(resource: { _etag?: unknown } | undefined): string {
  const etag = resource?._etag;
  if (typeof etag !== 'string')
    throw new StoreUnavailableError('Cosmos DB returned a document without an _etag');
  return etag;
}

export function ifMatch(
  etag: string | undefined,
): { accessCondition: { type: 'IfMatch'; condition: string } } | undefined {
  return etag === undefined ? undefined : { accessCondition: { type: 'IfMatch', condition: etag } };
}
