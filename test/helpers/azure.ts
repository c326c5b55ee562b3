import { randomBytes } from 'node:crypto';
import https from 'node:https';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { inject } from 'vitest';

/** The loopback Azurite and Cosmos test server started by the global setup. */
export function localAzure() {
  return inject('azure');
}

/** A fresh, uniquely named container on Azurite, and a function that deletes it. */
export function freshContainer(): { container: ContainerClient; remove: () => Promise<void> } {
  const name = `t-${randomBytes(6).toString('hex')}`;
  const container = BlobServiceClient.fromConnectionString(
    localAzure().blobConnectionString,
  ).getContainerClient(name);
  return {
    container,
    remove: async () => {
      await container.deleteIfExists();
    },
  };
}

/** An agent trusting the Cosmos test server's certificate, for tests that pass their own. */
export function cosmosTestAgent(): https.Agent {
  return new https.Agent({ ca: localAzure().caCert, keepAlive: true });
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}
