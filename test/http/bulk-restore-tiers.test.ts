import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { REHYDRATED_PREFIX } from '../../src/adapters/azure-blob/blob-archive-store.js';
import type { RestoreJob } from '../../src/ports/restore-jobs.js';
import { apiClient } from '../helpers/api.js';
import { recordBody, startHarness, type Harness } from '../helpers/harness.js';

/**
 * A bulk restore over Archive-tier blobs (Azurite): one rehydration per blob, however many of its
 * records the job wants; the job waits, and restores each blob's records once its copy is back.
 * Azurite finishes a rehydration copy at once; the test keeps each copy in the Archive tier (as
 * Azure keeps a copy whose rehydration is pending) until it lets it finish.
 */
describe('bulk restore of Archive-tier records (Azurite)', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
  });

  /**
   * The service on Azurite with `segments` segments of three records of customer `cold` each, every
   * segment moved to the Archive tier. Time passes only when the test lets it (`let`): the job's
   * waits run on this clock.
   */
  async function coldArchive(segmentCount: number, env: Record<string, string> = {}) {
    let offset = 0;
    let hold = true;
    const clock = () => new Date(Date.now() + offset);
    const sleep = async (ms: number) => {
      while (hold) await new Promise((resolve) => setTimeout(resolve, 10));
      offset += ms;
    };
    const started = await startHarness({
      backend: 'azure',
      layout: 'segment',
      env: { RESTORE_REHYDRATION_POLL_MINUTES: '1', ...env },
      clock,
      sleep,
    });
    harness = started;
    const api = apiClient(started.app);
    const container = BlobServiceClient.fromConnectionString(
      started.env.BLOB_CONNECTION_STRING ?? '',
    ).getContainerClient(started.env.BLOB_CONTAINER ?? '');
    const batches = Array.from({ length: segmentCount }, (_, batch) => batch);
    for (const batch of batches) {
      for (let i = 0; i < 3; i++) {
        const id = `cold-${batch}-${i}`;
        const created = await api.post(
          '/billing',
          recordBody({ id, customer_id: 'cold', created_at: '2025-03-01T00:00:00.000Z' }),
        );
        expect(created.statusCode).toBe(201);
      }
      expect((await api.post('/archive/sync', { older_than_days: 0 })).json()).toMatchObject({ archived: 3 });
    }
    const segments = [
      ...new Set(
        await Promise.all(
          batches.map(
            async (batch) => (await started.adapters.index.get(`cold-${batch}-0`))?.location.blob ?? '',
          ),
        ),
      ),
    ];
    expect(segments).toHaveLength(segmentCount);
    for (const name of segments) await container.getBlobClient(name).setAccessTier('Archive');
    return {
      harness: started,
      api,
      container,
      segments,
      now: () => Date.now() + offset,
      let: () => {
        hold = false;
      },
    };
  }

  it('rehydrates each blob once, waits, and restores each blob’s records as it comes back', async () => {
    const { harness, api, container, segments, now, let: letTimePass } = await coldArchive(2);

    // A dry run says what would need rehydrating, and starts nothing.
    const dry = await api.post('/restore', { customer_id: 'cold', dry_run: true });
    const dryId = dry.json<{ job_id: string }>().job_id;
    await vi.waitFor(
      async () => {
        expect((await api.get(`/restore/jobs/${dryId}`)).json()).toMatchObject({
          status: 'succeeded',
          restored: 0,
          rehydrating: 6,
          rehydrating_blobs: 2,
        });
      },
      { timeout: 20_000 },
    );
    expect(await rehydratedCopies(container)).toEqual([]);

    const response = await api.post('/restore', { customer_id: 'cold' });
    expect(response.statusCode, response.body).toBe(202);
    const { job_id: jobId } = response.json<{ job_id: string }>();

    const job = async () => (await harness.services.bulkRestore.job(jobId)) as RestoreJob;
    await vi.waitFor(
      async () => {
        expect((await job()).status).toBe('waiting');
      },
      { timeout: 20_000 },
    );
    expect((await job()).counts).toMatchObject({ restored: 0, rehydrating: 6 });
    // One copy per segment, not per record.
    const copies = await rehydratedCopies(container);
    expect(copies.sort()).toEqual(segments.map((name) => `${REHYDRATED_PREFIX}${name}`).sort());
    // Pending, as Azure keeps a copy until its rehydration ends.
    for (const copy of copies) await container.getBlobClient(copy).setAccessTier('Archive');

    // Polls come and go while the copies are pending: nothing restored, nothing started again.
    letTimePass();
    const checked = now() + 5 * 60_000;
    await vi.waitFor(
      () => {
        expect(now()).toBeGreaterThan(checked);
      },
      { timeout: 20_000 },
    );
    expect(await job()).toMatchObject({
      status: 'waiting',
      pass: 1,
      counts: { restored: 0, rehydrating: 6 },
    });
    expect((await rehydratedCopies(container)).length).toBe(2);
    expect((await harness.adapters.live.summary()).count).toBe(0);

    // The first segment's copy is back: its three records come back, the job waits for the other.
    await container.getBlobClient(copies[0] ?? '').setAccessTier('Cool');
    await vi.waitFor(
      async () => {
        expect((await job()).counts.restored).toBe(3);
      },
      { timeout: 20_000 },
    );
    await vi.waitFor(
      async () => {
        expect((await job()).status).toBe('waiting');
      },
      { timeout: 20_000 },
    );
    expect((await job()).waiting).toHaveLength(1);
    expect((await job()).counts).toMatchObject({ restored: 3, rehydrating: 3, failed: 0 });

    await container.getBlobClient(copies[1] ?? '').setAccessTier('Cool');
    await vi.waitFor(
      async () => {
        expect((await job()).status).toBe('succeeded');
      },
      { timeout: 20_000 },
    );
    expect((await api.get(`/restore/jobs/${jobId}`)).json()).toMatchObject({
      found: 6,
      restored: 6,
      rehydrating: 0,
      rehydrating_blobs: 0,
      failed: 0,
      pass: 3,
    });
    for (const batch of [0, 1])
      for (let i = 0; i < 3; i++)
        expect((await api.get(`/billing/cold-${batch}-${i}`)).headers['x-record-source']).toBe('live');
    expect((await harness.adapters.index.summary()).count).toBe(0);
    expect((await rehydratedCopies(container)).length).toBe(2);
  });

  it('counts the records of a blob that never comes back as failed, after RESTORE_MAX_WAIT_HOURS', async () => {
    const {
      harness,
      api,
      container,
      now,
      let: letTimePass,
    } = await coldArchive(1, { RESTORE_MAX_WAIT_HOURS: '1' });
    const response = await api.post('/restore', { customer_id: 'cold' });
    const { job_id: jobId } = response.json<{ job_id: string }>();
    await vi.waitFor(
      async () => {
        expect((await harness.services.bulkRestore.job(jobId))?.status).toBe('waiting');
      },
      { timeout: 20_000 },
    );
    // The copy stays pending for good.
    for (const copy of await rehydratedCopies(container))
      await container.getBlobClient(copy).setAccessTier('Archive');
    const waitedFrom = now();
    letTimePass();
    await vi.waitFor(
      async () => {
        expect((await harness.services.bulkRestore.job(jobId))?.status).toBe('succeeded');
      },
      { timeout: 30_000 },
    );
    expect(now() - waitedFrom).toBeGreaterThan(60 * 60_000);
    const ended = (await api.get(`/restore/jobs/${jobId}`)).json<{ errors: string[] }>();
    expect(ended).toMatchObject({ found: 3, restored: 0, rehydrating: 0, failed: 3, rehydrating_blobs: 0 });
    expect(ended.errors).toHaveLength(3);
    expect(ended.errors[0]).toContain('stayed in the Archive tier longer than RESTORE_MAX_WAIT_HOURS (1)');
    // Nothing moved: the records are archived still.
    expect((await harness.adapters.index.summary()).count).toBe(3);
    expect((await harness.adapters.live.summary()).count).toBe(0);
  });
});

async function rehydratedCopies(container: ContainerClient): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat({ prefix: REHYDRATED_PREFIX })) names.push(blob.name);
  return names;
}
