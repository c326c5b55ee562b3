import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RecordDocument } from '../../src/domain/billing-record.js';
import { StoreUnavailableError } from '../../src/domain/errors.js';
import type { ArchiveIndex } from '../../src/ports/archive-index.js';
import type { ArchiveStore } from '../../src/ports/archive-store.js';
import type { LiveStore } from '../../src/ports/live-store.js';
import { apiClient, expectError, type ApiClient } from '../helpers/api.js';
import { BACKENDS, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { intercept } from '../helpers/intercept.js';

interface JobView {
  job_id: string;
  status: string;
  dry_run: boolean;
  pass: number;
  found: number;
  restored: number;
  already_live: number;
  rehydrating: number;
  rehydrating_blobs: number;
  failed: number;
  not_found: number;
  errors: string[];
  cancel_requested: { at: string; by: string } | null;
}

/** Creation times in 2025: month m (1–12), day d. */
const at = (m: number, d = 1) =>
  `2025-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}T10:00:00.000Z`;

/**
 * Bulk restore jobs (issue 16): `POST /restore` with a query or ids, `GET`/`DELETE
 * /restore/jobs/{id}`, on both backends: every record the job finds made live once, counted once,
 * through restarts and crashes.
 */
describe.each(BACKENDS)('bulk restore jobs (%s)', (backend) => {
  const harnesses: Harness[] = [];
  afterEach(async () => {
    for (const harness of harnesses.splice(0).reverse()) await harness.destroy();
  });

  async function boot(
    options: Parameters<typeof startHarness>[0] = {},
  ): Promise<{ harness: Harness; api: ApiClient }> {
    const harness = await startHarness({ backend, ...options });
    harnesses.push(harness);
    return { harness, api: apiClient(harness.app) };
  }

  /** Records of `customer` created in 2025 months `months`, archived; their documents as archived. */
  async function archived(
    api: ApiClient,
    records: { id: string; customer: string; month: number; status?: string }[],
  ) {
    const docs = new Map<string, RecordDocument>();
    for (const [i, { id, customer, month, status }] of records.entries()) {
      const response = await api.post(
        '/billing',
        recordBody({
          id,
          customer_id: customer,
          created_at: at(month, 1 + (i % 27)),
          ...(status && { status }),
        }),
      );
      expect(response.statusCode, response.body).toBe(201);
      docs.set(id, response.json<RecordDocument>());
    }
    const run = await api.post('/archive/sync', { older_than_days: 0 });
    expect(run.json()).toMatchObject({ status: 'succeeded', archived: records.length });
    return docs;
  }

  async function finished(api: ApiClient, jobId: string): Promise<JobView> {
    let job: JobView | undefined;
    await vi.waitFor(
      async () => {
        const response = await api.get(`/restore/jobs/${jobId}`);
        expect(response.statusCode, response.body).toBe(200);
        job = response.json<JobView>();
        expect(['running', 'waiting']).not.toContain(job.status);
      },
      { timeout: 30_000, interval: 50 },
    );
    return job as JobView;
  }

  async function start(api: ApiClient, body: Record<string, unknown>): Promise<string> {
    const response = await api.post('/restore', body);
    expect(response.statusCode, response.body).toBe(202);
    const { job_id, status_url } = response.json<{ job_id: string; status_url: string }>();
    expect(status_url).toBe(`/restore/jobs/${job_id}`);
    expect(response.headers.location).toBe(status_url);
    return job_id;
  }

  it('restores a customer’s records of a time range, each once, as archived plus restored_at; counts what it found', async () => {
    const { harness, api } = await boot();
    const records = [
      ...Array.from({ length: 12 }, (_, i) => ({ id: `a-${i}`, customer: 'cust-a', month: i + 1 })),
      ...Array.from({ length: 4 }, (_, i) => ({ id: `b-${i}`, customer: 'cust-b', month: i + 1 })),
    ];
    const docs = await archived(api, records);
    // One of the range is live and archived at once: a keep-live run's copy.
    expect(
      (await api.post('/billing', recordBody({ id: 'a-kl', customer_id: 'cust-a', created_at: at(3, 9) })))
        .statusCode,
    ).toBe(201);
    expect((await api.post('/archive/sync', { older_than_days: 0, keep_live: true })).json()).toMatchObject({
      copied: 1,
    });

    const jobId = await start(api, {
      customer_id: 'cust-a',
      created_from: '2025-01-01T00:00:00Z',
      created_to: '2025-07-01T00:00:00Z',
    });
    const job = await finished(api, jobId);
    expect(job).toMatchObject({
      status: 'succeeded',
      found: 7,
      restored: 6,
      already_live: 1,
      rehydrating: 0,
      failed: 0,
      not_found: 0,
      errors: [],
    });
    for (let i = 0; i < 12; i++) {
      const read = await api.get(`/billing/a-${i}`);
      expect(read.headers['x-record-source']).toBe(i < 6 ? 'live' : 'archive');
      const { restored_at, ...rest } = read.json<RecordDocument>();
      // Nothing but restored_at changed: amounts and timestamps stay as archived.
      expect(rest).toEqual(docs.get(`a-${i}`));
      if (i < 6) expect(restored_at).toEqual(expect.any(String));
      expect(await harness.adapters.index.get(`a-${i}`)).toEqual(i < 6 ? undefined : expect.anything());
    }
    for (let i = 0; i < 4; i++)
      expect((await api.get(`/billing/b-${i}`)).headers['x-record-source']).toBe('archive');
    // The keep-live copy is left as it was: live, and its copy indexed.
    expect(await harness.adapters.index.get('a-kl')).toBeDefined();
    expect((await harness.adapters.live.summary()).count).toBe(7);

    // The audit trail says who asked and how it ended.
    const trail = (await harness.services.audit.query({ limit: 100 })).items.filter(
      (e) => e.run_id === jobId,
    );
    expect(trail.map((e) => e.action).sort()).toEqual([
      'restore.job.end',
      'restore.job.request',
      'restore.job.start',
    ]);
    expect(trail.find((e) => e.action === 'restore.job.end')?.detail).toContain('restored 6');

    // The job is listed, newest first.
    const listed = (await api.get('/restore/jobs')).json<{ items: JobView[] }>();
    expect(listed.items[0]).toMatchObject({ job_id: jobId, status: 'succeeded' });
  });

  it('restores a list of ids: not found, already live and archived each counted', async () => {
    const { api } = await boot();
    await archived(api, [
      { id: 'i-1', customer: 'c', month: 1 },
      { id: 'i-2', customer: 'c', month: 2 },
    ]);
    expect((await api.post('/billing', recordBody({ id: 'i-live' }))).statusCode).toBe(201);
    const jobId = await start(api, { ids: ['i-1', 'i-2', 'i-live', 'i-none', 'i-1'] });
    expect(await finished(api, jobId)).toMatchObject({
      status: 'succeeded',
      found: 3,
      restored: 2,
      already_live: 1,
      not_found: 1,
    });
    for (const id of ['i-1', 'i-2'])
      expect((await api.get(`/billing/${id}`)).headers['x-record-source']).toBe('live');
  });

  it('matches status by the archived body, and a dry run counts without changing anything', async () => {
    const { harness, api } = await boot();
    await archived(api, [
      { id: 's-1', customer: 'c', month: 1, status: 'paid' },
      { id: 's-2', customer: 'c', month: 2, status: 'refunded' },
      { id: 's-3', customer: 'c', month: 3, status: 'refunded' },
    ]);
    const year = { created_from: '2025-01-01T00:00:00Z', created_to: '2026-01-01T00:00:00Z' };
    const dry = await finished(api, await start(api, { status: 'refunded', ...year, dry_run: true }));
    expect(dry).toMatchObject({ status: 'succeeded', dry_run: true, found: 2, restored: 2 });
    expect((await harness.adapters.live.summary()).count).toBe(0);
    expect((await harness.adapters.index.summary()).count).toBe(3);

    expect(await finished(api, await start(api, { status: 'refunded', ...year }))).toMatchObject({
      status: 'succeeded',
      restored: 2,
    });
    expect((await api.get('/billing/s-1')).headers['x-record-source']).toBe('archive');
    for (const id of ['s-2', 's-3'])
      expect((await api.get(`/billing/${id}`)).headers['x-record-source']).toBe('live');
  });

  it('counts an archived copy that fails its hash as failed, says which, and restores the rest', async () => {
    const { harness, api } = await boot({ layout: 'record' });
    await archived(api, [
      { id: 'h-1', customer: 'c', month: 1 },
      { id: 'h-2', customer: 'c', month: 2 },
    ]);
    const entry = await harness.adapters.index.get('h-1');
    await harness.overwriteBlob(entry?.location.blob ?? '', Buffer.from('{"id":"h-1","amount":1}'));
    const job = await finished(api, await start(api, { customer_id: 'c' }));
    expect(job).toMatchObject({ status: 'succeeded', found: 2, restored: 1, failed: 1 });
    expect(job.errors).toHaveLength(1);
    expect(job.errors[0]).toContain("record 'h-1'");
    expect(await harness.adapters.live.get('h-1')).toBeUndefined();
    expect(await harness.adapters.index.get('h-1')).toBeDefined();
  });

  it('refuses what is no job with one sentence per problem, and starts nothing', async () => {
    const { harness, api } = await boot();
    const refusals: [Record<string, unknown>, string][] = [
      [{}, 'give ids, a customer_id, or both created_from and created_to'],
      [{ dry_run: true }, 'give ids, a customer_id, or both created_from and created_to'],
      [{ status: 'paid', created_from: '2025-01-01T00:00:00Z' }, 'both created_from and created_to'],
      [{ ids: ['x'], customer_id: 'c' }, 'either ids or query filters'],
      [
        { created_from: '2025-02-01T00:00:00Z', created_to: '2025-01-01T00:00:00Z' },
        'created_from must be before created_to',
      ],
      [{ created_from: 'yesterday' }, 'RFC 3339'],
      [{ customer_id: 'c', after: 'x' }, 'after'],
      [{ ids: Array.from({ length: 1001 }, (_, i) => `id-${i}`) }, '1000'],
      [{ ids: [] }, 'ids'],
      [{ customer_id: 'c', status: 'lost' }, 'status'],
    ];
    for (const [body, says] of refusals)
      expect(expectError(await api.post('/restore', body), 400, 'validation_error')).toContain(says);
    expect((await api.get('/restore/jobs')).json()).toEqual({ items: [] });
    expectError(await api.get('/restore/jobs/restore-20261101T000000000Z-abcd1234'), 404, 'not_found');
    expectError(await api.get('/restore/jobs/not%20a%20job'), 400, 'validation_error');
    expectError(await api.delete('/restore/jobs/restore-20261101T000000000Z-abcd1234'), 404, 'not_found');
    expect((await harness.adapters.live.summary()).count).toBe(0);
  });

  it('a job whose process died mid-page is taken over by another and finishes: every record restored once, counted once', async () => {
    // 250 records: three pages; the first process freezes in the second page, between making
    // record 137 live and withdrawing its entry (a crash at the worst instant).
    const records = Array.from({ length: 250 }, (_, i) => ({
      id: `k-${String(i).padStart(3, '0')}`,
      customer: 'cust-k',
      month: 1 + (i % 12),
    }));
    let withdrawals = 0;
    let frozen!: () => void;
    const froze = new Promise<void>((resolve) => {
      frozen = resolve;
    });
    let thaw!: () => void;
    const thawed = new Promise<void>((resolve) => {
      thaw = resolve;
    });
    const first = await boot({
      wrap: (adapters) => ({
        ...adapters,
        index: intercept<ArchiveIndex>(adapters.index, {
          withdraw: (id, ifMatch) => {
            withdrawals++;
            if (withdrawals === 137) {
              frozen();
              return thawed.then(() => adapters.index.withdraw(id, ifMatch));
            }
            return adapters.index.withdraw(id, ifMatch);
          },
        }),
      }),
    });
    await archived(first.api, records);
    withdrawals = 0;
    const jobId = await start(first.api, { customer_id: 'cust-k' });
    await froze;
    const stuck = await first.harness.services.bulkRestore.job(jobId);
    expect(stuck).toMatchObject({ status: 'running', counts: { restored: 100 } });
    expect(stuck?.page?.ids).toHaveLength(100);

    // Another process, more than ten minutes later, finds the job abandoned and takes it over.
    const second = await boot({ reuse: first.harness, clock: () => new Date(Date.now() + 11 * 60_000) });
    harnesses.splice(harnesses.indexOf(first.harness), 1);
    expect(await second.harness.services.bulkRestore.resumeAbandoned()).toEqual([jobId]);
    const job = await finished(second.api, jobId);
    expect(job).toMatchObject({ status: 'succeeded', found: 250, restored: 250, already_live: 0, failed: 0 });

    // The first process wakes where it froze: the entry it meant to withdraw is gone, and no
    // delete took it, so the copy it made live stands; its next save finds the job taken over.
    thaw();
    await first.harness.services.bulkRestore.stop();
    await first.harness.close();
    expect(await second.harness.services.bulkRestore.job(jobId)).toMatchObject({
      status: 'succeeded',
      counts: { restored: 250 },
    });
    expect((await second.harness.adapters.live.summary()).count).toBe(250);
    expect((await second.harness.adapters.index.summary()).count).toBe(0);
    for (const { id } of records)
      expect((await second.api.get(`/billing/${id}`)).headers['x-record-source']).toBe('live');
  });

  it('two jobs over the same records at once: each record restored once, none lost', async () => {
    const { harness, api } = await boot();
    const records = Array.from({ length: 120 }, (_, i) => ({
      id: `d-${i}`,
      customer: 'cust-d',
      month: 1 + (i % 12),
    }));
    await archived(api, records);
    const [a, b] = await Promise.all([
      start(api, { customer_id: 'cust-d' }),
      start(api, { customer_id: 'cust-d' }),
    ]);
    const [jobA, jobB] = await Promise.all([finished(api, a), finished(api, b)]);
    for (const job of [jobA, jobB]) expect(job).toMatchObject({ status: 'succeeded', failed: 0 });
    expect(jobA.restored + jobB.restored).toBe(120);
    expect((await harness.adapters.live.summary()).count).toBe(120);
    expect((await harness.adapters.index.summary()).count).toBe(0);
  });

  it('a cancelled job stops before its next page; a stopped process hands its job back for another to take at once', async () => {
    const { harness, api } = await boot();
    await archived(api, [{ id: 'x-1', customer: 'c', month: 1 }]);
    const owned = await harness.services.bulkRestore.create({ query: { customer_id: 'c' }, by: 'ops' });
    const asked = await api.delete(`/restore/jobs/${owned.job.job_id}`);
    expect(asked.statusCode, asked.body).toBe(202);
    expect(asked.json<JobView>()).toMatchObject({ status: 'running', cancel_requested: { by: 'key:root' } });
    const latest = await harness.adapters.restoreJobs.get(owned.job.job_id);
    expect(await harness.services.bulkRestore.runHere(latest ?? owned)).toMatchObject({
      status: 'cancelled',
      counts: { restored: 0 },
    });
    expect(await harness.adapters.live.get('x-1')).toBeUndefined();

    const handed = await harness.services.bulkRestore.create({ query: { customer_id: 'c' }, by: 'ops' });
    await harness.services.bulkRestore.stop();
    expect(await harness.services.bulkRestore.runHere(handed)).toMatchObject({
      status: 'running',
      owner: null,
    });
    // Another process takes it at once, without waiting for it to go stale.
    const other = await boot({ reuse: harness });
    harnesses.splice(harnesses.indexOf(harness), 1);
    expect(await other.harness.services.bulkRestore.resumeAbandoned()).toEqual([handed.job.job_id]);
    expect(await finished(other.api, handed.job.job_id)).toMatchObject({ status: 'succeeded', restored: 1 });
  });

  /** Time that passes when the job waits, and only then: its retries cost the test nothing. */
  function fastTime() {
    let offset = 0;
    return {
      clock: () => new Date(Date.now() + offset),
      sleep: (ms: number) => {
        offset += ms;
        return Promise.resolve();
      },
    };
  }

  it('a page a store failed part way is done again: what it restored counts once, and a delete that only noted keeps nothing from it', async () => {
    let fail: (() => Promise<void>) | undefined;
    const { harness, api } = await boot({
      ...fastTime(),
      wrap: (adapters) => ({
        ...adapters,
        live: intercept<LiveStore>(adapters.live, {
          create: async (doc) => {
            if (doc.id === 'p-5' && fail) {
              const failing = fail;
              fail = undefined;
              await failing();
              throw new StoreUnavailableError('Cosmos DB: creating a record failed: connection reset');
            }
            return adapters.live.create(doc);
          },
        }),
      }),
    });
    await archived(
      api,
      Array.from({ length: 10 }, (_, i) => ({ id: `p-${i}`, customer: 'cust-p', month: 1 + i })),
    );
    // Mid-page, as the store fails: a client's DELETE of p-1 (restored a moment ago) noted itself
    // and then failed, so the note is all it left.
    fail = () => harness.adapters.deletions.note('p-1', new Date(Date.now() + 60_000).toISOString());
    const job = await finished(api, await start(api, { customer_id: 'cust-p' }));
    expect(fail).toBeUndefined();
    expect(job).toMatchObject({ status: 'succeeded', found: 10, restored: 10, already_live: 0, failed: 0 });
    // It stays live, and the job says a delete of it was noted and never confirmed.
    expect(job.errors).toEqual([
      expect.stringContaining("record 'p-1': restored, though a delete of it was noted"),
    ]);
    expect((await harness.adapters.live.summary()).count).toBe(10);
    expect((await api.get('/billing/p-1')).headers['x-record-source']).toBe('live');
    expect((await harness.adapters.index.summary()).count).toBe(0);
  });

  it('a record a store keeps failing counts as failed after a few tries, and the job ends', async () => {
    let broken = '';
    let tries = 0;
    const { harness, api } = await boot({
      ...fastTime(),
      layout: 'record',
      wrap: (adapters) => ({
        ...adapters,
        store: intercept<ArchiveStore>(adapters.store, {
          get: (name, range, options) => {
            if (name !== broken) return adapters.store.get(name, range, options);
            tries++;
            return Promise.reject(
              new StoreUnavailableError(`Blob Storage: reading blob '${name}' failed: status 500`),
            );
          },
        }),
      }),
    });
    await archived(api, [
      { id: 'b-1', customer: 'c', month: 1 },
      { id: 'b-2', customer: 'c', month: 2 },
    ]);
    broken = (await harness.adapters.index.get('b-1'))?.location.blob ?? '';
    const job = await finished(api, await start(api, { customer_id: 'c' }));
    expect(job).toMatchObject({ status: 'succeeded', found: 2, restored: 1, failed: 1 });
    expect(job.errors[0]).toContain("record 'b-1'");
    // Eight tries waited out as an outage, then the ninth counts it.
    expect(tries).toBe(9);
    expect(await harness.adapters.index.get('b-1')).toBeDefined();
    expect(await harness.adapters.live.get('b-2')).toBeDefined();
  });

  it('cancelling a job abandoned with a page in hand settles what its attempt did, restores nothing new, and ends it', async () => {
    const { harness, api } = await boot();
    await archived(api, [
      { id: 'h-1', customer: 'c', month: 1 },
      { id: 'h-2', customer: 'c', month: 2 },
      { id: 'h-3', customer: 'c', month: 3 },
    ]);
    const entries = await harness.adapters.index.getMany(['h-1', 'h-2']);
    // A worker took h-1 and h-2 in hand, made h-1 live, and died before its withdraw.
    const stored = await harness.services.bulkRestore.create({ query: { customer_id: 'c' }, by: 'ops' });
    const at = new Date().toISOString();
    const h1 = (await api.get('/billing/h-1')).json<RecordDocument>();
    await harness.adapters.live.create({ ...h1, restored_at: new Date(Date.now() + 1).toISOString() });
    await harness.adapters.restoreJobs.replace(
      {
        ...stored.job,
        owner: null,
        page: {
          ids: ['h-1', 'h-2'],
          at,
          archived: Object.fromEntries(
            entries.map((entry) => [
              entry?.id ?? '',
              { archived_at: entry?.archived_at ?? '', sha256: entry?.sha256 ?? '' },
            ]),
          ),
          next: { after: { createdAt: entries[1]?.created_at ?? '', id: 'h-2' } },
          attempts: 1,
        },
      },
      stored.etag,
    );
    const asked = await api.delete(`/restore/jobs/${stored.job.job_id}`);
    expect(asked.statusCode, asked.body).toBe(202);
    expect(await finished(api, stored.job.job_id)).toMatchObject({ status: 'cancelled', restored: 1 });
    // The attempt's h-1 is settled: counted, its entry withdrawn. Nothing else was restored.
    expect(await harness.adapters.index.get('h-1')).toBeUndefined();
    expect(await harness.adapters.live.get('h-2')).toBeUndefined();
    expect(await harness.adapters.live.get('h-3')).toBeUndefined();
  });

  it('cancels: a job nobody works on ends at once; an ended job answers 409', async () => {
    const { harness, api } = await boot();
    await archived(api, [{ id: 'c-1', customer: 'c', month: 1 }]);
    // A job made but never worked on (its CLI was stopped before its first page).
    const stored = await harness.services.bulkRestore.create({ query: { customer_id: 'c' }, by: 'ops' });
    await harness.adapters.restoreJobs.replace({ ...stored.job, owner: null }, stored.etag);
    const cancelled = await api.delete(`/restore/jobs/${stored.job.job_id}`);
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    expect(cancelled.json<JobView>()).toMatchObject({ status: 'cancelled' });
    expect(cancelled.json<JobView>().cancel_requested?.by).toBe('key:root');
    expect(
      expectError(await api.delete(`/restore/jobs/${stored.job.job_id}`), 409, 'job_finished'),
    ).toContain('cancelled');
    expect(await harness.services.bulkRestore.resumeAbandoned()).toEqual([]);
    expect(await harness.adapters.live.get('c-1')).toBeUndefined();
  });
});
