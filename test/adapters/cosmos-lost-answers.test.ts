import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createCosmosClient } from '../../src/adapters/cosmos/cosmos-client.js';
import { CosmosArchiveIndex } from '../../src/adapters/cosmos/cosmos-archive-index.js';
import { CosmosGarbageQueue } from '../../src/adapters/cosmos/cosmos-garbage-queue.js';
import { CosmosLegalHolds } from '../../src/adapters/cosmos/cosmos-legal-holds.js';
import { CosmosLiveStore } from '../../src/adapters/cosmos/cosmos-live-store.js';
import { CosmosRestoreJobs } from '../../src/adapters/cosmos/cosmos-restore-jobs.js';
import { COSMOS_ATTEMPTS } from '../../src/adapters/cosmos/cosmos-retry.js';
import type { RecordDocument } from '../../src/domain/billing-record.js';
import { PreconditionFailedError, StoreUnavailableError } from '../../src/domain/errors.js';
import { newRestoreJob } from '../../src/domain/restore-jobs.js';
import type { ArchiveEntry } from '../../src/ports/archive-index.js';
import { cosmosTestAgent, localAzure, uniqueName } from '../helpers/azure.js';
import { startFaultProxy, type FaultProxy, type FaultRates } from '../helpers/fault-proxy.js';

/**
 * The worst moment of a flaky network: the store did the write and the answer never came. The
 * adapter retries, meets its own earlier write (exists, gone, changed) and must take it for done,
 * neither failing the caller nor reporting the opposite of what happened.
 */
describe('Cosmos DB adapters when the answer to a write is lost', () => {
  let cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step();
    cleanup = [];
  });

  const doc: RecordDocument = {
    id: 'inv-1',
    customer_id: 'c-1',
    amount: 12.5,
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
  };

  /** The adapters on a fresh database, talking to Cosmos DB through `proxy`; both go after the test. */
  async function storesVia(proxy: FaultProxy) {
    cleanup.push(() => proxy.close());
    const client = createCosmosClient({
      endpoint: proxy.url.href,
      key: localAzure().cosmosKey,
      database: 'unused',
      agent: cosmosTestAgent(),
    });
    const database = uniqueName('db');
    cleanup.push(async () => {
      await client.database(database).delete();
      client.dispose();
    });
    const live = new CosmosLiveStore(client, { database, container: 'records', partitionKeyPath: '/id' });
    const index = new CosmosArchiveIndex(client, { database, container: 'index' });
    const garbage = new CosmosGarbageQueue(client, { database, container: 'index' });
    const holds = new CosmosLegalHolds(client, { database, container: 'holds' });
    const jobs = new CosmosRestoreJobs(client, { database, container: 'jobs' });
    for (const store of [live, index, garbage, holds, jobs]) await store.init();
    return { live, index, garbage, holds, jobs };
  }

  /** Stores behind a proxy that, once armed, resets the connection after the store acted on the next matching request. */
  async function behindProxy() {
    let armed: ((request: IncomingMessage) => boolean) | undefined;
    const proxy: FaultProxy = await startFaultProxy({
      target: new URL(localAzure().cosmosEndpoint),
      rates: { resetAfter: 1 },
      seed: 1,
      filter: (request) => {
        if (!armed?.(request)) return false;
        armed = undefined;
        return true;
      },
    });
    return {
      proxy,
      ...(await storesVia(proxy)),
      /** The next request with this method whose path ends so loses its answer. */
      loseAnswerTo(method: string, path: RegExp) {
        armed = (request) =>
          request.method === method &&
          path.test(request.url ?? '') &&
          !request.headers['x-ms-documentdb-isquery'];
      },
    };
  }

  it('a create that landed answers with the stored record, not "exists"', async () => {
    const stores = await behindProxy();
    stores.loseAnswerTo('POST', /\/colls\/records\/docs$/);
    const created = await stores.live.create(doc);
    expect(stores.proxy.injected.resetAfter).toBe(1);
    expect(created.doc).toEqual(doc);
    expect((await stores.live.get(doc.id))?.etag).toBe(created.etag);
    // A different record under the same id is still refused.
    await expect(stores.live.create({ ...doc, amount: 13 })).rejects.toMatchObject({ code: 'duplicate_id' });
  });

  it('a conditional replace that landed answers with the new version, not "changed"', async () => {
    const stores = await behindProxy();
    const created = await stores.live.create(doc);
    stores.loseAnswerTo('PUT', /\/docs\/inv-1$/);
    const replaced = await stores.live.replace({ ...doc, amount: 14 }, created.etag);
    expect(stores.proxy.injected.resetAfter).toBe(1);
    expect((await stores.live.get(doc.id))?.doc.amount).toBe(14);
    expect((await stores.live.get(doc.id))?.etag).toBe(replaced.etag);
  });

  it('a restore job created or replaced whose answer was lost is its own write, not a conflict', async () => {
    const stores = await behindProxy();
    const job = newRestoreJob({
      job_id: 'job-1',
      dry_run: false,
      query: { customer_id: 'c-1' },
      ids: null,
      created_at: '2026-11-01T00:00:00.000Z',
      created_by: 'ops',
    });
    stores.loseAnswerTo('POST', /\/colls\/jobs\/docs$/);
    const created = await stores.jobs.create(job);
    expect(stores.proxy.injected.resetAfter).toBe(1);
    expect(await stores.jobs.get('job-1')).toEqual(created);
    stores.loseAnswerTo('PUT', /\/docs\/job-1$/);
    const saved = await stores.jobs.replace({ ...job, pass: 2 }, created.etag);
    expect(stores.proxy.injected.resetAfter).toBe(2);
    expect(await stores.jobs.get('job-1')).toEqual(saved);
    // Another writer's version still refuses a stale etag.
    await expect(stores.jobs.replace({ ...job, pass: 3 }, created.etag)).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
  });

  it('a conditional delete whose answer was lost is not taken for done: "gone" may be a client delete', async () => {
    const stores = await behindProxy();
    const created = await stores.live.create(doc);
    // Archival deletes through the bulk API: one POST of operations to the container's documents.
    stores.loseAnswerTo('POST', /\/colls\/records\/docs$/);
    // The retry meets 404; the archiver then asks the deletion notes whether a client deleted it
    // (test/services/archiver.test.ts: the entry of a record gone without a note stays).
    expect(await stores.live.deleteMany([{ id: doc.id, etag: created.etag }])).toEqual([false]);
    expect(stores.proxy.injected.resetAfter).toBe(1);
    expect(await stores.live.get(doc.id)).toBeUndefined();
  });

  it('a bulk index write that landed returns each entry with the etag it has now', async () => {
    const stores = await behindProxy();
    const entries = ['inv-1', 'inv-2', 'inv-3'].map((id): ArchiveEntry => ({
      id,
      customer_id: 'c-1',
      created_at: doc.created_at,
      location: { layout: 'record', blob: `records/2026/01/${id}.json`, offset: 0, length: 10 },
      sha256: '0'.repeat(64),
      size: 10,
      archived_at: '2026-02-01T00:00:00.000Z',
      run_id: 'run-1',
    }));
    stores.loseAnswerTo('POST', /\/colls\/index\/docs$/);
    const stored = await stores.index.putMany(entries);
    expect(stores.proxy.injected.resetAfter).toBe(1);
    expect(await stores.index.getMany(entries.map((entry) => entry.id))).toEqual(stored);
  });

  it('an index withdrawal that landed returns the withdrawn entry', async () => {
    const stores = await behindProxy();
    const entry: ArchiveEntry = {
      id: doc.id,
      customer_id: 'c-1',
      created_at: doc.created_at,
      location: { layout: 'record', blob: 'records/2026/01/inv-1.json', offset: 0, length: 10 },
      sha256: '0'.repeat(64),
      size: 10,
      archived_at: '2026-02-01T00:00:00.000Z',
      run_id: 'run-1',
    };
    const [stored] = await stores.index.putMany([entry]);
    stores.loseAnswerTo('DELETE', /\/docs\/inv-1$/);
    expect((await stores.index.withdraw(doc.id, stored?.etag))?.id).toBe(doc.id);
    expect(stores.proxy.injected.resetAfter).toBe(1);
    expect(await stores.index.get(doc.id)).toBeUndefined();
  });

  it('a garbage note that landed is kept once, not refused as a duplicate', async () => {
    const stores = await behindProxy();
    stores.loseAnswerTo('POST', /\/colls\/index\/docs$/);
    const location = { layout: 'record' as const, blob: 'records/x.json', offset: 0, length: 1 };
    await stores.garbage.add([{ id: 'inv-9', location }]);
    expect(stores.proxy.injected.resetAfter).toBe(1);
    expect(await stores.garbage.list({ limit: 10 })).toMatchObject([{ id: 'inv-9', location }]);
  });

  it('a hold lift that landed reports the hold lifted, once, and lifts nothing more', async () => {
    const stores = await behindProxy();
    const change = { at: '2026-11-30T00:00:00.000Z', by: 'legal', reason: 'case 7' };
    await stores.holds.set('inv-1', change);
    stores.loseAnswerTo('POST', /\/colls\/holds\/docs$/);
    expect(await stores.holds.clear('inv-1', { ...change, at: '2026-11-30T00:01:00.000Z' })).toEqual({
      changed: true,
    });
    expect(stores.proxy.injected.resetAfter).toBe(1);
    expect((await stores.holds.history('inv-1')).map((event) => event.action)).toEqual(['set', 'cleared']);
  });

  it("a delete's claim that landed is its own, not another delete's", async () => {
    const stores = await behindProxy();
    stores.loseAnswerTo('POST', /\/colls\/holds\/docs$/);
    const claim = { token: 'd1', at: '2026-11-30T00:00:00.000Z', expiresAt: '2026-11-30T00:10:00.000Z' };
    expect(await stores.holds.claimDeletion('inv-1', claim)).toEqual({ claimed: true });
    expect(stores.proxy.injected.resetAfter).toBe(1);
    await expect(
      stores.holds.set('inv-1', { ...claim, by: 'legal', reason: 'case 7' }),
    ).rejects.toMatchObject({
      code: 'deletion_in_progress',
    });
  });

  it('a store that keeps failing is given up after a bounded number of attempts', async () => {
    const rates: FaultRates = { unavailable: 1 };
    const proxy = await startFaultProxy({ target: new URL(localAzure().cosmosEndpoint), rates: {}, seed: 2 });
    const { live } = await storesVia(proxy);
    proxy.setRates(rates);
    const before = proxy.requests;
    await expect(live.create(doc)).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(proxy.requests - before).toBe(COSMOS_ATTEMPTS);
    proxy.setRates({});
    expect(await live.get(doc.id)).toBeUndefined();
  });
});
