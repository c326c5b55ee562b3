// Starts the two Azure stand-ins the tests and `npm run dev:azure` use, on loopback only:
// Azurite (Blob Storage) as a child process and @vercel/cosmosdb-server (Cosmos DB protocol) in
// this process over TLS, with a certificate made for this run. Nothing is downloaded.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpsServer } from '@vercel/cosmosdb-server';
import selfsigned from 'selfsigned';

const require = createRequire(import.meta.url);

/** Azurite's and the Cosmos DB emulator's published development keys (not secrets). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
export const COSMOS_EMULATOR_KEY =
  'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

/**
 * @typedef {object} LocalAzure
 * @property {string} blobConnectionString Azurite connection string
 * @property {string} cosmosEndpoint https endpoint of the Cosmos test server
 * @property {string} cosmosKey
 * @property {string} caCertPath PEM file of the Cosmos test server's certificate, for NODE_EXTRA_CA_CERTS
 * @property {string} caCert the same certificate as text
 * @property {string} tlsKey the certificate's private key, made for this run: lets a test proxy present the same certificate
 * @property {() => Promise<void>} stop stops both servers and removes their files
 */

/** @returns {Promise<number>} a TCP port free on 127.0.0.1 right now */
export async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/** @returns {Promise<LocalAzure>} */
export async function startLocalAzure() {
  const workDir = await mkdtemp(join(tmpdir(), 'billing-archive-azure-'));
  const azurite = await startAzurite(join(workDir, 'azurite'));
  try {
    const pems = await selfsigned.generate([{ name: 'commonName', value: '127.0.0.1' }], {
      notAfterDate: new Date(Date.now() + 2 * 24 * 60 * 60 * 1000),
      keySize: 2048,
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    });
    const caCertPath = join(workDir, 'cosmos-test-server.pem');
    await writeFile(caCertPath, pems.cert);
    const cosmos = createHttpsServer({ key: pems.private, cert: pems.cert, keepAlive: true });
    cosmos.listen(0, '127.0.0.1');
    await once(cosmos, 'listening');
    const address = cosmos.address();
    const cosmosPort = typeof address === 'object' && address ? address.port : 0;
    return {
      blobConnectionString: azurite.connectionString,
      cosmosEndpoint: `https://127.0.0.1:${cosmosPort}/`,
      cosmosKey: COSMOS_EMULATOR_KEY,
      caCertPath,
      caCert: pems.cert,
      tlsKey: pems.private,
      stop: async () => {
        cosmos.closeAllConnections();
        cosmos.close();
        await azurite.stop();
        await rm(workDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await azurite.stop();
    throw error;
  }
}

/**
 * @param {string} location
 * @returns {Promise<{ connectionString: string, stop: () => Promise<void> }>}
 */
async function startAzurite(location) {
  const port = await freePort();
  const main = require.resolve('azurite/dist/src/blob/main.js');
  const child = spawn(
    process.execPath,
    [
      main,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(port),
      '--location',
      location,
      '--skipApiVersionCheck',
      '--disableTelemetry',
      '--silent',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const listening = new Promise((resolve, reject) => {
    /** @param {Buffer} chunk */
    const onData = (chunk) => {
      // Keep draining the pipes after start-up so Azurite never blocks on a full one.
      if (output.includes('successfully listens')) return;
      output += chunk.toString();
      if (output.includes('successfully listens')) resolve(undefined);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      reject(new Error(`Azurite exited with code ${String(code)}: ${output}`));
    });
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 30_000);
  try {
    await listening;
  } finally {
    clearTimeout(timeout);
  }
  return {
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
      `BlobEndpoint=http://127.0.0.1:${port}/${AZURITE_ACCOUNT};`,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
