// `npm run dev:azure`: the API on the Azure backends without an Azure account. Starts Azurite and
// the Cosmos test server on loopback, then the built server against them, trusting the test
// certificate the standard way (NODE_EXTRA_CA_CERTS). Ctrl-C stops all three; the Cosmos test
// server keeps its data in memory, so nothing survives a restart. Unless API_KEYS is set, it makes
// an admin key for this session and prints it, as the embedded server does on first start.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { apiKeyEntry, createApiKey } from '../dist/auth/api-keys.js';
import { startLocalAzure } from './local-azure.mjs';

const azure = await startLocalAzure();
/** @type {Record<string, string>} */
const env = {
  COSMOS_ENDPOINT: azure.cosmosEndpoint,
  COSMOS_KEY: azure.cosmosKey,
  BLOB_CONNECTION_STRING: azure.blobConnectionString,
  NODE_EXTRA_CA_CERTS: azure.caCertPath,
  API_HOST: process.env.API_HOST ?? '127.0.0.1',
  API_PORT: process.env.API_PORT ?? '8000',
};

process.stdout.write('Azure stand-ins on loopback. To run the CLI against them, in another shell:\n');
for (const [name, value] of Object.entries(env)) {
  if (!name.startsWith('API_')) process.stdout.write(`  export ${name}='${value}'\n`);
}
process.stdout.write(`API: http://${env.API_HOST}:${env.API_PORT}\n`);
if (!process.env.API_KEYS) {
  const key = createApiKey();
  env.API_KEYS = apiKeyEntry('dev-admin', 'admin+legal', key);
  process.stdout.write(`Admin key for this session (send as "Authorization: Bearer <key>"):\n  ${key}\n`);
}
process.stdout.write('\n');

const { DATA_DIR: _unused, ...inherited } = process.env;
const server = spawn(process.execPath, [fileURLToPath(new URL('../dist/server.js', import.meta.url))], {
  env: { ...inherited, ...env },
  stdio: 'inherit',
});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  if (server.exitCode === null) {
    server.kill('SIGTERM');
    await once(server, 'exit');
  }
  await azure.stop();
}

for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.once(signal, () => {
    void stop().then(() => process.exit(0));
  });
}
server.once('exit', (code) => {
  void stop().then(() => process.exit(code ?? 1));
});
