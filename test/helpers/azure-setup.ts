import type { TestProject } from 'vitest/node';
import { startLocalAzure } from '../../scripts/local-azure.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    azure: {
      blobConnectionString: string;
      cosmosEndpoint: string;
      cosmosKey: string;
      caCertPath: string;
      caCert: string;
      tlsKey: string;
    };
  }
}

/**
 * Vitest global setup: one Azurite and one Cosmos test server for the whole run, on loopback,
 * stopped when the run ends. Child processes (the CLI in crash tests) trust the Cosmos server's
 * certificate the standard Node way, through NODE_EXTRA_CA_CERTS.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const azure = await startLocalAzure();
  project.provide('azure', {
    blobConnectionString: azure.blobConnectionString,
    cosmosEndpoint: azure.cosmosEndpoint,
    cosmosKey: azure.cosmosKey,
    caCertPath: azure.caCertPath,
    caCert: azure.caCert,
    tlsKey: azure.tlsKey,
  });
  return azure.stop;
}
