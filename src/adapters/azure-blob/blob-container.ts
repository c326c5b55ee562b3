import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';

export type BlobConnection =
  | { kind: 'connection-string'; connectionString: string; container: string }
  | { kind: 'account-url'; accountUrl: string; container: string };

/** The container client for a connection string, or an account URL with managed identity. */
export function createContainerClient(connection: BlobConnection): ContainerClient {
  switch (connection.kind) {
    case 'connection-string':
      return BlobServiceClient.fromConnectionString(connection.connectionString).getContainerClient(
        connection.container,
      );
    case 'account-url':
      return new BlobServiceClient(connection.accountUrl, new DefaultAzureCredential()).getContainerClient(
        connection.container,
      );
  }
}
