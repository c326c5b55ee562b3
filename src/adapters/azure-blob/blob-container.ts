import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient, type ContainerClient, type StoragePipelineOptions } from '@azure/storage-blob';
import { unavailable } from './blob-errors.js';

export type BlobConnection =
  | { kind: 'connection-string'; connectionString: string; container: string }
  | { kind: 'account-url'; accountUrl: string; container: string };

/**
 * The SDK retries network errors, 500 and 503 for every operation, which is safe for ours: blob
 * writes are create-only and verified, deletes are if-exists. Its defaults wait 4 s, then 12 s, and
 * let a stalled request hang; these retry sooner and more often, and give each try a deadline.
 */
const PIPELINE: StoragePipelineOptions = {
  retryOptions: { maxTries: 5, retryDelayInMs: 200, maxRetryDelayInMs: 3_000, tryTimeoutInMs: 60_000 },
};

/** The container client for a connection string, or an account URL with managed identity. */
export function createContainerClient(connection: BlobConnection): ContainerClient {
  switch (connection.kind) {
    case 'connection-string':
      return BlobServiceClient.fromConnectionString(connection.connectionString, PIPELINE).getContainerClient(
        connection.container,
      );
    case 'account-url':
      return new BlobServiceClient(
        connection.accountUrl,
        new DefaultAzureCredential(),
        PIPELINE,
      ).getContainerClient(connection.container);
  }
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Whether the account is a local emulator (Azurite) on this machine rather than a cloud account. */
export function isLoopbackAccount(connection: BlobConnection): boolean {
  return LOOPBACK_HOSTS.has(new URL(createContainerClient(connection).url).hostname);
}

/** Creates the container if missing; an unreachable or refusing service is StoreUnavailableError. */
export async function ensureContainer(container: ContainerClient): Promise<void> {
  try {
    await container.createIfNotExists();
  } catch (error) {
    throw unavailable(`opening container '${container.containerName}'`, error);
  }
}
