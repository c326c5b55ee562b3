import { setTimeout as wait } from 'node:timers/promises';
import type { Container, OperationInput } from '@azure/cosmos';
import { COSMOS_ATTEMPTS, isTransient, isTransientStatus } from './cosmos-retry.js';

/** Operations of one bulk call: the most Cosmos DB takes in one request to a partition key range. */
const BULK_CHUNK = 100;
/** How long throttled operations (429, which never ran) are waited for in all, as the SDK waits for single requests. */
const THROTTLED_WAIT_MS = 30_000;

/** What became of one operation of a bulk call. */
export interface BulkOutcome {
  /** The operation's own status: 200, 201, 204, or 404, 409, 412... */
  status: number;
  /** The document's new `_etag` after a create, upsert or replace. */
  etag: string | undefined;
}

/**
 * Runs operations through the SDK's bulk API, 100 a call: one request per partition key range they
 * fall in, each operation conditional on its own `ifMatch` and atomic on its own. What comes back
 * is each operation's status; the caller decides what a 404 or 412 means, and never takes a 404 for
 * its own earlier attempt (that may be another writer's delete).
 *
 * Operations throttled with 429 never ran: they are sent again after a backoff, for up to 30 s in
 * all (the SDK does not retry them inside a bulk call). Operations that failed transiently
 * (408, 5xx) and, when the call itself broke, all of them, are sent again up to the attempts of
 * every Cosmos DB request. Before anything is sent again the earlier call is aborted, so the SDK
 * sends none of its requests again (it retries a bulk request after a connection error). A request
 * the service already received may still complete late (after the 10 s request timeout, say), as
 * with any retried write: the archiver withdraws its own entries at whatever etag they have.
 *
 * `items.bulk` is deprecated in favour of `executeBulkOperations`, which waits a fixed second per
 * call for partial batches to fill (on the test server 4 upserts took 1,004 ms that way, 5 ms this
 * way): each archival batch would wait seconds.
 */
export async function runBulk(
  container: Container,
  operations: readonly OperationInput[],
): Promise<BulkOutcome[]> {
  const outcomes: BulkOutcome[] = [];
  for (let start = 0; start < operations.length; start += BULK_CHUNK) {
    let pending = operations
      .slice(start, start + BULK_CHUNK)
      .map((operation, k) => ({ operation, at: start + k }));
    let failures = 0;
    let throttledMs = 0;
    for (let round = 0; pending.length > 0; round += 1) {
      const controller = new AbortController();
      let results;
      try {
        // eslint-disable-next-line @typescript-eslint/no-deprecated -- see above: executeBulkOperations waits a second a call
        results = await container.items.bulk(
          pending.map(({ operation }) => operation),
          undefined,
          { abortSignal: controller.signal },
        );
      } catch (error) {
        controller.abort();
        failures += 1;
        if (!isTransient(error) || failures >= COSMOS_ATTEMPTS) throw error;
        await wait(backoffMs(failures));
        continue;
      } finally {
        controller.abort();
      }
      const again: typeof pending = [];
      let throttled = false;
      let transient = false;
      for (const [k, result] of results.entries()) {
        const item = pending[k];
        if (!item) continue;
        const status = result.statusCode;
        outcomes[item.at] = { status, etag: result.eTag };
        if (status === 429) {
          throttled = true;
          again.push(item);
        } else if (status === 0 || isTransientStatus(status)) {
          transient = true;
          again.push(item);
        }
      }
      pending = again;
      if (pending.length === 0) break;
      if (transient) {
        failures += 1;
        if (failures >= COSMOS_ATTEMPTS)
          throw Object.assign(new Error(`${pending.length} bulk operations kept failing`), { code: 503 });
      }
      const pause = backoffMs(round + 1);
      if (throttled) {
        throttledMs += pause;
        if (throttledMs > THROTTLED_WAIT_MS)
          throw Object.assign(new Error(`${pending.length} bulk operations stayed throttled for 30 s`), {
            code: 429,
          });
      }
      await wait(pause);
    }
  }
  return outcomes;
}

/** 100 ms doubling to 3.2 s, with jitter. */
function backoffMs(attempt: number): number {
  const base = Math.min(3_200, 100 * 2 ** (attempt - 1));
  return Math.round(base / 2 + Math.random() * (base / 2));
}
