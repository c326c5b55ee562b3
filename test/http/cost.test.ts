import { afterEach, describe, expect, it } from 'vitest';
import type { CostReport } from '../../src/domain/cost-model.js';
import { apiClient } from '../helpers/api.js';
import { runCli } from '../helpers/cli.js';
import { BACKENDS, blobNames, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';

const GIB = 1024 ** 3;
const KIB_128 = 131_072;

describe.each(BACKENDS)('the cost model in /stats and `billing-archive cost` (%s)', (backend) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
  });

  async function cost(h: Harness, ...args: string[]): Promise<{ report: CostReport; summary: string }> {
    const result = await runCli(['--json', 'cost', ...args], h.env);
    expect(result.code, result.stderr).toBe(0);
    return { report: JSON.parse(result.stdout) as CostReport, summary: result.stderr };
  }

  it('prices the live records, the archive as billed per tier, the saving and the move', async () => {
    harness = await startHarness({ backend, layout: 'segment' });
    const api = apiClient(harness.app);
    for (const id of ['a', 'b', 'c'])
      expect((await api.post('/billing', recordBody({ id, created_at: daysAgo(200) }))).statusCode).toBe(201);
    await api.post('/billing', recordBody({ id: 'young' }));
    const run = await harness.services.archiver.runOnce();
    expect(run).toMatchObject({ status: 'succeeded', archived: 3 });

    // By hand, from what the stores hold: one segment and its manifest, each far below 128 KiB and
    // written in Cool, so each billed as 128 KiB at $0.01 a GiB.
    const blobs = [...(await blobNames(harness, 'segments/')), ...(await blobNames(harness, 'manifests/'))];
    expect(blobs).toHaveLength(2);
    const blobUsd = ((2 * KIB_128) / GIB) * 0.01;
    const live = await harness.adapters.live.storage();
    const index = await harness.adapters.index.storage();
    const { bytes: recordBytes } = await harness.adapters.index.summary();
    const archiveUsd = blobUsd + (index.bytes / GIB) * 0.25;
    const leftLiveUsd = (recordBytes / GIB) * 0.25;
    const writes = run.usage?.archive_store.by_kind.write ?? 0;
    expect(writes).toBe(2);
    // One list page: the run looks for an index migration in progress before it moves anything.
    const lists = run.usage?.archive_store.by_kind.list ?? 0;
    expect(lists).toBe(1);

    const { cost: fromStats } = (await api.get('/stats')).json<{ cost: CostReport }>();
    expect(fromStats.live).toMatchObject({ records: 1, bytes: live.bytes });
    expect(fromStats.live.usd_per_month).toBeCloseTo((live.bytes / GIB) * 0.25, 15);
    expect(fromStats.archive.blobs.by_tier).toEqual({
      Cool: {
        blobs: 2,
        bytes: expect.any(Number) as number,
        billed_bytes: 2 * KIB_128,
        usd_per_month: blobUsd,
      },
    });
    expect(fromStats.archive.blobs.tiers_from).toBe(backend === 'azure' ? 'store' : 'lifecycle policy');
    expect(fromStats.archive.index).toMatchObject({
      entries: 3,
      bytes: index.bytes,
      store: backend === 'azure' ? 'Cosmos DB' : 'SQLite',
    });
    expect(fromStats.archive.usd_per_month).toBeCloseTo(archiveUsd, 15);
    expect(fromStats.if_left_live).toEqual({ bytes: recordBytes, usd_per_month: leftLiveUsd });
    // Three small records in a segment billed as 128 KiB (and an index entry each) cost more than
    // they would live: the model says so rather than claiming a saving.
    expect(fromStats.saving_usd_per_month).toBeCloseTo(leftLiveUsd - archiveUsd, 15);
    expect(fromStats.saving_usd_per_month).toBeLessThan(0);
    expect(fromStats.moving).toMatchObject({
      runs: 1,
      records: 3,
      blob_operations: writes + lists,
      upload_tier: 'Cool',
    });
    expect(fromStats.moving.payback_months).toEqual({ serverless: null, provisioned: null });
    if (backend === 'azure') {
      const ru = run.usage?.cosmos.request_units ?? 0;
      expect(ru).toBeGreaterThan(0);
      expect(fromStats.moving.request_units).toBe(ru);
      // Serverless $0.25 per million RU; writes in Cool $0.10 per 10,000.
      expect(fromStats.moving.usd?.serverless).toBeCloseTo(
        (ru / 1e6) * 0.25 + ((writes + lists) / 1e4) * 0.1,
        15,
      );
    } else {
      expect(fromStats.moving).toMatchObject({ request_units: null, usd: null });
    }
    expect(fromStats.next_run).toBeNull();

    // The CLI prints the same model; with --next-run it makes a dry run first and prices it.
    for (const id of ['d', 'e']) await api.post('/billing', recordBody({ id, created_at: daysAgo(300) }));
    await harness.close();
    const { report, summary } = await cost(harness, '--next-run');
    expect(report.archive).toEqual(fromStats.archive);
    expect(report.next_run).toMatchObject({ records: 2 });
    if (backend === 'azure') {
      expect(report.next_run?.request_units).toBeCloseTo(((run.usage?.cosmos.request_units ?? 0) / 3) * 2, 9);
      expect(summary).toMatch(/next run \(dry run .+\): 2 records, about \$/);
    } else {
      expect(report.next_run).toMatchObject({ request_units: null, usd: null });
    }
    expect(summary).toContain('archive: 3 records');
    expect(summary).toContain('left live they would cost');
    expect(summary).toMatch(/archiving costs \$[0-9.e-]+ more/);
  });

  it('shares one report for COST_CACHE_SECONDS: it lists every archive blob', async () => {
    harness = await startHarness({ backend, env: { COST_CACHE_SECONDS: '3600' } });
    const api = apiClient(harness.app);
    const first = (await api.get('/stats')).json<{ live_records: number; cost: CostReport }>();
    await api.post('/billing', recordBody());
    const second = (await api.get('/stats')).json<{ live_records: number; cost: CostReport }>();
    // The counts are fresh; the cost report, dated, is the one made first.
    expect(second.live_records).toBe(first.live_records + 1);
    expect(second.cost).toEqual(first.cost);
    expect(Date.parse(second.cost.as_of)).toBeLessThanOrEqual(Date.now());
    expect((await harness.services.cost.report({ fresh: true })).live.records).toBe(
      first.cost.live.records + 1,
    );
  });

  it.runIf(backend === 'azure')('prices blobs in the tier the store reports', async () => {
    harness = await startHarness({ backend, layout: 'segment' });
    await harness.services.records.create(recordBody({ id: 'a', created_at: daysAgo(200) }));
    await harness.services.archiver.runOnce();
    const [segment] = await blobNames(harness, 'segments/');
    const tiers = harness.adapters.store.tiers;
    if (!segment || !tiers) throw new Error('no segment, or no tiers');
    await tiers.setTier(segment, 'Archive');
    const report = await harness.services.cost.report();
    // The segment billed as 128 KiB at $0.002 a GiB in Archive; the manifest stays in Cool.
    expect(report.archive.blobs.by_tier).toEqual({
      Archive: {
        blobs: 1,
        bytes: expect.any(Number) as number,
        billed_bytes: KIB_128,
        usd_per_month: (KIB_128 / GIB) * 0.002,
      },
      Cool: {
        blobs: 1,
        bytes: expect.any(Number) as number,
        billed_bytes: KIB_128,
        usd_per_month: (KIB_128 / GIB) * 0.01,
      },
    });
  });
});
