import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { localAzure } from './azure.js';

/** How often each fault strikes, as a fraction of the requests the filter lets through. */
export interface FaultRates {
  /** The connection is reset before the request reaches the service: nothing happened. */
  resetBefore?: number;
  /** The service did the work, then the connection is reset: the client cannot know it happened. */
  resetAfter?: number;
  /** The response stops half-way through its body, then the connection is reset. */
  truncate?: number;
  /** 503 Service Unavailable, the request not passed on. */
  unavailable?: number;
  /** 500 Internal Server Error, the request not passed on. */
  internalError?: number;
  /** 429 with x-ms-retry-after-ms, the way a busy Cosmos DB account throttles. */
  throttle?: number;
  /** The answer is held back `slowMs` before it is passed on. */
  slow?: number;
  /** The request is swallowed: never passed on, never answered, until the client gives up. */
  hang?: number;
}

export type FaultKind = keyof FaultRates;

export interface FaultProxyOptions {
  /** The real service: the Cosmos test server (https) or Azurite's blob endpoint (http). */
  target: URL;
  rates: FaultRates;
  /** Only requests it accepts can be struck; default all. */
  filter?: (request: IncomingMessage) => boolean;
  /** Seed of the fault dice, so a failing run can be repeated. */
  seed: number;
  slowMs?: number;
  retryAfterMs?: number;
}

export interface FaultProxy {
  /** The proxy's base URL, same scheme as the target. */
  url: URL;
  /** Faults injected so far, by kind. */
  injected: Record<FaultKind, number>;
  /** Requests passed through so far, struck or not. */
  requests: number;
  /** Changes the rates from now on (all zero: a faithful proxy). */
  setRates(rates: FaultRates): void;
  /** Changes which requests can be struck from now on (undefined: all). */
  setFilter(filter: ((request: IncomingMessage) => boolean) | undefined): void;
  close(): Promise<void>;
}

const KINDS: readonly FaultKind[] = [
  'resetBefore',
  'resetAfter',
  'truncate',
  'unavailable',
  'internalError',
  'throttle',
  'slow',
  'hang',
];

/**
 * A proxy on loopback between the service under test and a real store, injecting network and service
 * faults at the given rates. For https targets it presents the test server's own certificate, so
 * clients trust it exactly as they trust the real one.
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const secure = options.target.protocol === 'https:';
  const upstreamAgent = secure
    ? new https.Agent({ ca: localAzure().caCert, keepAlive: true })
    : new http.Agent({ keepAlive: true });
  const dice = xoroshiro128plus(options.seed);
  const random = () => uniformFloat64(dice);
  let rates = options.rates;
  let filter = options.filter;
  const injected = Object.fromEntries(KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>;
  const state = { requests: 0 };

  const pick = (request: IncomingMessage): FaultKind | undefined => {
    if (filter && !filter(request)) return undefined;
    let roll = random();
    for (const kind of KINDS) {
      const rate = rates[kind] ?? 0;
      if (roll < rate) return kind;
      roll -= rate;
    }
    return undefined;
  };

  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    state.requests += 1;
    const fault = pick(request);
    if (fault) injected[fault] += 1;
    switch (fault) {
      case 'resetBefore':
        reset(request);
        return;
      case 'hang':
        request.resume();
        return;
      case 'unavailable':
      case 'internalError':
      case 'throttle':
        request.resume();
        answerFault(response, fault, options.retryAfterMs ?? 50);
        return;
      case 'resetAfter':
      case 'truncate':
      case 'slow':
      case undefined:
        forward(request, response, fault);
    }
  };

  const forward = (request: IncomingMessage, response: ServerResponse, fault: FaultKind | undefined) => {
    const upstream = (secure ? https : http).request(
      {
        host: options.target.hostname,
        port: options.target.port,
        path: request.url,
        method: request.method,
        headers: request.headers,
        agent: upstreamAgent,
      },
      (reply) => {
        void (async () => {
          const body: Buffer[] = [];
          for await (const chunk of reply) body.push(chunk as Buffer);
          const bytes = Buffer.concat(body);
          if (fault === 'resetAfter') {
            reset(request);
            return;
          }
          if (fault === 'slow') await new Promise((resolve) => setTimeout(resolve, options.slowMs ?? 2_000));
          if (fault === 'truncate' && bytes.length > 1) {
            response.writeHead(reply.statusCode ?? 502, reply.headers);
            response.write(bytes.subarray(0, bytes.length >> 1));
            // Flush the half, then cut the connection under it.
            setImmediate(() => {
              reset(request);
            });
            return;
          }
          response.writeHead(reply.statusCode ?? 502, reply.headers);
          response.end(bytes);
        })().catch(() => {
          reset(request);
        });
      },
    );
    upstream.on('error', () => {
      reset(request);
    });
    request.pipe(upstream);
  };

  const server = secure
    ? https.createServer({ key: localAzure().tlsKey, cert: localAzure().caCert, keepAlive: true }, handle)
    : http.createServer({ keepAlive: true }, handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const url = new URL(`${options.target.protocol}//127.0.0.1:${port}/`);
  return {
    url,
    injected,
    get requests() {
      return state.requests;
    },
    setRates(next) {
      rates = next;
    },
    setFilter(next) {
      filter = next;
    },
    close: async () => {
      server.closeAllConnections();
      server.close();
      upstreamAgent.destroy();
      await once(server, 'close');
    },
  };
}

function answerFault(
  response: ServerResponse,
  fault: 'unavailable' | 'internalError' | 'throttle',
  retryAfterMs: number,
) {
  const status = { unavailable: 503, internalError: 500, throttle: 429 }[fault];
  response.writeHead(status, {
    'content-type': 'application/json',
    ...(fault === 'throttle' && { 'x-ms-retry-after-ms': String(retryAfterMs) }),
    ...(fault === 'unavailable' && { 'retry-after': '0' }),
  });
  response.end(JSON.stringify({ code: fault, message: `injected ${fault}` }));
}

/** Cuts the client's connection with a TCP reset where the socket allows it, else closes it. */
function reset(request: IncomingMessage): void {
  const socket = request.socket;
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}
