import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalBytes } from '../../src/domain/billing-record.js';
import { localAzure } from '../helpers/azure.js';
import { startFaultProxy, type FaultProxy, type FaultRates } from '../helpers/fault-proxy.js';
import { BACKENDS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';

const SEED = Number(process.env.FAULT_SEED ?? 20261129);
const RECORDS = 800;
/** About 2% of all requests to each store cut: half before the store saw them, half after it acted. */
const RESETS: FaultRates = { resetBefore: 0.01, resetAfter: 0.01 };
const NONE: FaultRates = {};

describe.runIf(BACKENDS.includes('azure'))('a flaky network between the service and its stores', () => {
  let cosmos: FaultProxy;
  let blob: FaultProxy;
  let harness: Harness;
  const expected = new Map<string, string>();

  beforeAll(async () => {
    const azure = localAzure();
    cosmos = await startFaultProxy({ target: new URL(azure.cosmosEndpoint), rates: NONE, seed: SEED });
    const blobEndpoint = /BlobEndpoint=([^;]+)/.exec(azure.blobConnectionString)?.[1] ?? '';
    blob = await startFaultProxy({ target: new URL(blobEndpoint), rates: NONE, seed: SEED + 1 });
    const proxied = new URL(blobEndpoint);
    proxied.host = blob.url.host;
    harness = await startHarness({
      backend: 'azure',
      env: {
        COSMOS_ENDPOINT: cosmos.url.href,
        BLOB_CONNECTION_STRING: azure.blobConnectionString.replace(blobEndpoint, proxied.href),
        BATCH_SIZE: '100',
      },
    });
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
    expect(cosmos.injected.resetBefore + cosmos.injected.resetAfter).toBeGreaterThan(0);
    expect(run.archived).toBeGreaterThanOrEqual(RECORDS * 0.95);
    for (const [id, bytes] of expected) {
      const view = await harness.services.records.get(id);
      expect(canonicalBytes(view.doc).toString(), id).toBe(bytes);
    }
  }, 300_000);
});
