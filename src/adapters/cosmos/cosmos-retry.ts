import pRetry from 'p-retry';
import { cosmosStatus } from './cosmos-client.js';

/**
 * Attempts per request. The SDK itself retries only throttling (429, up to 30 s) and connection
 * errors of reads; a reset write, a 503, a 500 or a cut-off answer come back to us. Five attempts
 * with backoff from 100 ms (with jitter, at most ~3 s in all) outlast a blip without making an API
 * caller wait long for a store that is really down.
 */
export const COSMOS_ATTEMPTS = 5;

/** Statuses that say "try again": timeout, retry-with, server error, bad gateway, unavailable, gateway timeout. */
const TRANSIENT_STATUSES = new Set([408, 449, 500, 502, 503, 504]);

/** Node and SDK codes of a request that broke on the way: it may or may not have reached the service. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'TimeoutError',
  'REQUEST_SEND_ERROR',
  'UND_ERR_SOCKET',
  // The body was cut off mid-way ("Error reading response as text: aborted").
  'PARSE_ERROR',
]);

/**
 * The SDK rethrows any failure of a transactional batch or of a bulk request as a plain Error with
 * one of these prefixes and the cause's message only, dropping its status and code. A refused
 * operation comes back in the results, not as an error, so what is thrown is the request itself
 * failing: worth another try, like any request that broke on the way.
 */
const BATCH_FAILURES = ['Batch request error:', 'Bulk request errored with:'];

/** Whether a request answered with this status may succeed when sent again. */
export function isTransientStatus(status: number): boolean {
  return TRANSIENT_STATUSES.has(status);
}

/** Whether sending the same request again may succeed. */
export function isTransient(error: unknown): boolean {
  if (error instanceof Error && BATCH_FAILURES.some((prefix) => error.message.startsWith(prefix)))
    return true;
  const status = cosmosStatus(error);
  if (status !== undefined) return isTransientStatus(status);
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && TRANSIENT_CODES.has(code);
}

/**
 * What an attempt knows about the ones before it. After a transient failure of a write, the service
 * may have done it all the same (the answer was lost), so a retry that meets "exists" (409), "gone"
 * (404) or "changed" (412) has to ask whether it met its own earlier attempt.
 */
export interface Attempt {
  /** An earlier attempt failed in a way that may have reached the service. */
  mayHaveLanded: boolean;
}

/** Runs `request`, retrying transient failures with exponential backoff and jitter. */
export async function withCosmosRetries<T>(request: (attempt: Attempt) => Promise<T>): Promise<T> {
  return pRetry((attemptNumber) => request({ mayHaveLanded: attemptNumber > 1 }), {
    retries: COSMOS_ATTEMPTS - 1,
    minTimeout: 100,
    factor: 2,
    maxTimeout: 1_600,
    randomize: true,
    shouldRetry: ({ error }) => isTransient(error),
  });
}
