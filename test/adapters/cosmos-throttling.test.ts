import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createCosmosClient } from '../../src/adapters/cosmos/cosmos-client.js';
import { CosmosLiveStore } from '../../src/adapters/cosmos/cosmos-live-store.js';
import { cosmosTestAgent, localAzure, uniqueName } from '../helpers/azure.js';

/**
 * A TLS proxy in front of the Cosmos test server that answers the first `throttle` document
 * requests with 429 and x-ms-retry-after-ms, the way a busy Cosmos DB account does.
 */
async function throttlingProxy(throttle: number, retryAfterMs: number) {
  const target = new URL(localAzure().cosmosEndpoint);
  const agent = cosmosTestAgent();
  const seen: { throttledAt: number[]; passedAt: number[] } = { throttledAt: [], passedAt: [] };
  let remaining = throttle;
  // The proxy presents the same test certificate; the key is the test server's own, made per run.
  const server = https.createServer({ ...(await testServerKeyPair()) }, (request, response) => {
    const isDocumentWrite =
      request.method === 'POST' &&
      /\/docs$/.test(request.url ?? '') &&
      !request.headers['x-ms-documentdb-isquery'];
    if (isDocumentWrite && remaining > 0) {
      remaining -= 1;
      seen.throttledAt.push(Date.now());
      request.resume();
      response.writeHead(429, {
        'content-type': 'application/json',
        'x-ms-retry-after-ms': String(retryAfterMs),
      });
      response.end(JSON.stringify({ code: 'TooManyRequests', message: 'Request rate is large' }));
      return;
    }
    if (isDocumentWrite) seen.passedAt.push(Date.now());
    const upstream = https.request(
      {
        host: target.hostname,
        port: target.port,
        path: request.url,
        method: request.method,
        headers: request.headers,
        agent,
      },
      (reply) => {
        response.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(response);
      },
    );
    request.pipe(upstream);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `https://127.0.0.1:${port}/`,
    seen,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

let keyPair: { key: string; cert: string } | undefined;
async function testServerKeyPair(): Promise<{ key: string; cert: string }> {
  if (!keyPair) {
    const { default: selfsigned } = await import('selfsigned');
    const pems = await selfsigned.generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keySize: 2048,
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    });
    keyPair = { key: pems.private, cert: pems.cert };
  }
  return keyPair;
}

describe('Cosmos DB throttling (429)', () => {
  let cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step();
    cleanup = [];
  });

  it('retries throttled writes after the retry-after the service gave, and succeeds', async () => {
    const proxy = await throttlingProxy(2, 300);
    cleanup.push(proxy.close);
    const { cert } = await testServerKeyPair();
    const client = createCosmosClient({
      endpoint: proxy.endpoint,
      key: localAzure().cosmosKey,
      database: 'unused',
      agent: new https.Agent({ ca: cert, keepAlive: true }),
    });
    cleanup.push(() => {
      client.dispose();
      return Promise.resolve();
    });
    const database = uniqueName('db');
    cleanup.push(() => client.database(database).delete());
    const store = new CosmosLiveStore(client, { database, container: 'records', partitionKeyPath: '/id' });
    await store.init();

    const created = await store.create({
      id: 'busy',
      created_at: '2026-01-01T00:00:00.000Z',
      updated_at: '2026-01-01T00:00:00.000Z',
    });
    expect(created.etag).toBeTruthy();
    expect(proxy.seen.throttledAt).toHaveLength(2);
    expect(proxy.seen.passedAt).toHaveLength(1);
    // Each retry waited at least the 300 ms the service asked for.
    const [first = 0, second = 0] = proxy.seen.throttledAt;
    const [passed = 0] = proxy.seen.passedAt;
    expect(second - first).toBeGreaterThanOrEqual(290);
    expect(passed - second).toBeGreaterThanOrEqual(290);
    expect((await store.get('busy'))?.etag).toBe(created.etag);
  });
});
