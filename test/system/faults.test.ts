import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalBytes } from '../../src/domain/billing-record.js';
import { apiClient, type ApiClient } from '../helpers/api.js';
import { localAzure } from '../helpers/azure.js';
import { startFaultProxy, type FaultProxy, type FaultRates } from '../helpers/fault-proxy.js';
import { BACKENDS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';

const SEED = Number(process.env.FAULT_SEED ?? 20261129);
const RECORDS = 800;
/** About 2% of all requests to each store cut: half before the store saw them, half after it acted. */
const RESETS: FaultRates = { resetBefore: 0.01, resetAfter: 0.01 };
const NONE: FaultRates = {};
/** Every kind of fault at once, about 3.3% of requests in all (slow answers wait 300 ms). Blob Storage throttles with 503, never 429. */
const MIXED: FaultRates = {
  resetBefore: 0.005,
  resetAfter: 0.005,
  truncate: 0.005,
  unavailable: 0.005,
  internalError: 0.003,
  throttle: 0.005,
  slow: 0.005,
};
const MIXED_BLOB: FaultRates = { ...MIXED, throttle: 0 };

/**
 * Over each index kind Azure has: its own Cosmos DB container, and files in the archive's own Blob
 * Storage container (`ARCHIVE_INDEX=blob`), whose commits then cross the faulty network too.
 */
describe.runIf(BACKENDS.includes('azure')).each(['cosmos', 'blob'])(
  'a flaky network between the service and its stores (ARCHIVE_INDEX=%s)',
  (archiveIndex) => {
    let cosmos: FaultProxy;
    let blob: FaultProxy;
    let harness: Harness;
    let api: ApiClient;
    /** Each record's bytes as they must read back; undefined once deleted. */
    const expected = new Map<string, string | undefined>();

    beforeAll(async () => {
      const azure = localAzure();
      cosmos = await startFaultProxy({
        target: new URL(azure.cosmosEndpoint),
        rates: NONE,
        seed: SEED,
        slowMs: 300,
      });
      const blobEndpoint = /BlobEndpoint=([^;]+)/.exec(azure.blobConnectionString)?.[1] ?? '';
      blob = await startFaultProxy({
        target: new URL(blobEndpoint),
        rates: NONE,
        seed: SEED + 1,
        slowMs: 300,
      });
      const proxied = new URL(blobEndpoint);
      proxied.host = blob.url.host;
      harness = await startHarness({
        backend: 'azure',
        env: {
          COSMOS_ENDPOINT: cosmos.url.href,
          BLOB_CONNECTION_STRING: azure.blobConnectionString.replace(blobEndpoint, proxied.href),
          BATCH_SIZE: '100',
          SEGMENT_MAX_RECORDS: '100',
          ARCHIVE_INDEX: archiveIndex,
        },
      });
      api = apiClient(harness.app);
      for (let i = 0; i < RECORDS; i++) {
        const view = await harness.services.records.create(
          recordBody({ id: `flaky-${i}`, amount: i + 0.01, created_at: daysAgo(100 + (i % 50)) }),
        );
        expected.set(view.doc.id, canonicalBytes(view.doc).toString());
      }
    }, 120_000);

    afterAll(async () => {
      await harness.destroy();
      await cosmos.close();
      await blob.close();
    });

    it('one archival run at 2% connection resets archives at least 95% and loses nothing', async () => {
      cosmos.setRates(RESETS);
      blob.setRates(RESETS);
      const run = await harness.services.archiver.runOnce();
      cosmos.setRates(NONE);
      blob.setRates(NONE);
      console.log(
        `faults: seed ${SEED}; cosmos ${JSON.stringify(cosmos.injected)} of ${cosmos.requests}, blob ${JSON.stringify(blob.injected)} of ${blob.requests}; run ${run.status}: ${run.archived} archived, ${run.skipped} skipped, ${run.failed} failed; errors ${JSON.stringify(run.errors.slice(0, 3))}`,
      );
      // With ARCHIVE_INDEX=blob most of a run's requests go to Blob Storage: faults on either count.
      const injected = [cosmos, blob].reduce(
        (sum, p) => sum + p.injected.resetBefore + p.injected.resetAfter,
        0,
      );
      expect(injected).toBeGreaterThan(0);
      expect(run.archived).toBeGreaterThanOrEqual(RECORDS * 0.95);
      await expectModel();
    }, 300_000);

    it('under every kind of fault at once, clients get answers or 503 with Retry-After, retention expires only what it should, and nothing is lost', async () => {
      for (let i = 0; i < 100; i++) {
        const view = await harness.services.records.create(
          recordBody({ id: `late-${i}`, amount: i + 0.5, created_at: daysAgo(90) }),
        );
        expected.set(view.doc.id, canonicalBytes(view.doc).toString());
      }
      // Past RETENTION_DAYS: the run under faults archives and sweeps them; the held ones stay.
      const expiring: string[] = [];
      const held: string[] = [];
      for (let i = 0; i < 20; i++) {
        const view = await harness.services.records.create(
          recordBody({ id: `expiring-${i}`, amount: i + 0.25, created_at: daysAgo(3000) }),
        );
        expected.set(view.doc.id, canonicalBytes(view.doc).toString());
        if (i % 4 === 0) {
          await harness.services.records.setLegalHold(view.doc.id, {
            held: true,
            by: 'legal',
            reason: 'audit',
          });
          held.push(view.doc.id);
        } else expiring.push(view.doc.id);
      }
      cosmos.setRates(MIXED);
      blob.setRates(MIXED_BLOB);
      const answered: Record<string, number> = {};
      const count = (status: number) => (answered[status] = (answered[status] ?? 0) + 1);
      /** A 503 may come after the store acted: the model learns the outcome once the faults stop. */
      const unsure = new Set<string>();
      const ids = [...expected.keys()];
      for (const [i, id] of ids.slice(0, 200).entries()) {
        const action = i % 4;
        const response =
          action === 0
            ? await api.put(`/billing/${id}`, recordBody({ amount: 1000 + i }))
            : action === 1
              ? await api.post(`/restore/${id}`)
              : action === 2
                ? await api.delete(`/billing/${id}`)
                : await api.get(`/billing/${id}`);
        count(response.statusCode);
        if (response.statusCode === 503) {
          expect(response.headers['retry-after']).toBeDefined();
          expect(response.json<{ error: string }>().error).toBe('store_unavailable');
          if (action !== 3) unsure.add(id);
        } else if (action === 3) {
          // A read under faults answers the record exactly, or 503: never other bytes.
          expect(response.statusCode, `${id}: ${response.body}`).toBe(200);
          expect(canonicalBytes(response.json()).toString(), id).toBe(expected.get(id));
        } else {
          expect(response.statusCode, `${id}: ${response.body}`).toBeLessThan(300);
          expected.set(id, action === 2 ? undefined : canonicalBytes(response.json()).toString());
        }
      }
      const second = await harness.services.archiver.runOnce({ olderThanDays: 30 });
      expect(second.archived).toBeGreaterThanOrEqual(95);
      const compacted = await harness.services.compactor.compact({ minDeadShare: 0.1 });
      cosmos.setRates(NONE);
      blob.setRates(NONE);
      console.log(
        `faults: seed ${SEED}; cosmos ${JSON.stringify(cosmos.injected)} of ${cosmos.requests}, blob ${JSON.stringify(blob.injected)} of ${blob.requests}; answers ${JSON.stringify(answered)}; run ${second.status} ${second.archived} archived, ${second.expired} expired, ${second.kept_on_hold} kept on hold, ${second.failed} failed; compaction ${JSON.stringify(compacted)}`,
      );
      for (const id of unsure) {
        const response = await api.get(`/billing/${id}`);
        expected.set(
          id,
          response.statusCode === 404 ? undefined : canonicalBytes(response.json()).toString(),
        );
      }
      // The next run without faults finishes what the faults left.
      const third = await harness.services.archiver.runOnce({ olderThanDays: 30 });
      expect(third.status).toBe('succeeded');
      expect(second.expired + third.expired).toBe(expiring.length);
      for (const id of expiring) expected.set(id, undefined);
      await expectModel();
      for (const id of held) expect((await harness.services.records.get(id)).source, id).toBe('archive');
      const report = await harness.services.verifier.verify();
      expect(report.missing.count + report.corrupt.count + report.unindexed.count).toBe(0);
    }, 300_000);

    // Only the live store hangs here, which is Cosmos DB whatever the index: once is enough.
    it.runIf(archiveIndex === 'cosmos')(
      'a write the store swallows is given up after its timeout and sent again: the client gets its answer',
      async () => {
        const id =
          [...expected].find(([key, bytes]) => key.startsWith('flaky-') && bytes !== undefined)?.[0] ?? '';
        // The update's first write is swallowed: never passed on, never answered.
        let struck = false;
        cosmos.setFilter((request) => request.method !== 'GET' && !struck && (struck = true));
        cosmos.setRates({ hang: 1 });
        try {
          const response = await api.put(`/billing/${id}`, recordBody({ amount: 4242.42 }));
          expect(response.statusCode, response.body).toBe(200);
          expect(cosmos.injected.hang).toBe(1);
          expected.set(id, canonicalBytes(response.json()).toString());
        } finally {
          cosmos.setRates(NONE);
          cosmos.setFilter(undefined);
        }
        await expectModel();
      },
      120_000,
    );

    /** Every record reads back exactly as the model says, deleted ones are gone, and each lives in one place. */
    async function expectModel(): Promise<void> {
      for (const [id, bytes] of expected) {
        const response = await api.get(`/billing/${id}`);
        if (bytes === undefined) {
          expect(response.statusCode, id).toBe(404);
          continue;
        }
        expect(response.statusCode, `${id}: ${response.body}`).toBe(200);
        expect(canonicalBytes(response.json()).toString(), id).toBe(bytes);
      }
    }
  },
);
