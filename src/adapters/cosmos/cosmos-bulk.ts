import type { Container, OperationInput } from '@azure/cosmos';
import { isTransientStatus, withCosmosRetries } from './cosmos-retry.js';

/** Operations of one bulk call: the most Cosmos DB takes in one request to a partition key range. */
const BULK_CHUNK = 100;

/** What became of one operation of a bulk call. */
export interface BulkOutcome {
  /** The operation's own status: 200, 201, 204, or 404, 409, 412... */
  status: number;
  /** The document's new `_etag` after a create, upsert or replace. */
  etag: string | undefined;
  /**
   * The operation was sent again after an attempt that may have reached the service, so "gone",
   * "exists" or "changed" may be that attempt's own work.
   */
  afterLostAnswer: boolean;
}

/**
 * Runs operations through the SDK's bulk API, 100 a call: one request per partition key range they
 * fall in, each operation conditional on its own `ifMatch` and atomic on its own. An operation that
 * fails transiently (or all of them, when the call itself breaks) is sent again, up to the attempts
 * of every Cosmos DB request; anything else comes back as its status.
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
    await withCosmosRetries(async ({ mayHaveLanded }) => {
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- see above: executeBulkOperations waits a second a call
      const results = await container.items.bulk(pending.map(({ operation }) => operation));
      const again: typeof pending = [];
      results.forEach((result, k) => {
        const item = pending[k];
        if (!item) return;
        const { statusCode: status } = result;
        outcomes[item.at] = { status, etag: result.eTag, afterLostAnswer: mayHaveLanded };
        // 429: throttled beyond the SDK's own waits; 0: an error without a status.
        if (status === 0 || status === 429 || isTransientStatus(status)) again.push(item);
      });
      pending = again;
      if (again.length > 0) {
        // A 503 to withCosmosRetries: the transient failure it is, so the rest go again.
        throw Object.assign(new Error(`${again.length} bulk operations failed transiently`), { code: 503 });
      }
    });
  }
  return outcomes;
}
