import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SimulationReport } from '../../src/lifecycle/lifecycle-simulator.js';
import type { BlobInfo, TieredBlobInfo } from '../../src/ports/archive-store.js';
import { apiClient } from '../helpers/api.js';
import { runCli } from '../helpers/cli.js';
import { BACKENDS, blobNames, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';

const ARCHIVE_PREFIXES = ['segments/', 'manifests/', 'records/', 'held/'];

async function archiveBlobs(h: Harness): Promise<BlobInfo[]> {
  const blobs: BlobInfo[] = [];
  for (const prefix of ARCHIVE_PREFIXES)
    for await (const blob of h.adapters.store.list(prefix)) blobs.push(blob);
  return blobs;
}

async function tieredArchiveBlobs(h: Harness): Promise<TieredBlobInfo[]> {
  const tiers = h.adapters.store.tiers;
  if (!tiers) throw new Error('the archive store declares no access tiers');
  const blobs: TieredBlobInfo[] = [];
  for (const prefix of ARCHIVE_PREFIXES) for await (const blob of tiers.list(prefix)) blobs.push(blob);
  return blobs;
}

async function simulate(h: Harness, ...args: string[]): Promise<SimulationReport> {
  const result = await runCli(['--json', 'lifecycle', 'simulate', ...args], h.env);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as SimulationReport;
}

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.destroy();
  harness = undefined;
});

/** A segment holding 'plain' and 'kept', 200 days old, and the held copy of 'kept'. */
async function archiveTwoRecords(
  backend: 'embedded' | 'azure',
): Promise<{ first: Harness; blobs: BlobInfo[] }> {
  const first = await startHarness({ backend, layout: 'segment' });
  harness = first;
  for (const id of ['plain', 'kept'])
    await first.services.records.create(recordBody({ id, created_at: daysAgo(200) }));
  await first.services.records.setLegalHold('kept', { held: true, by: 'legal', reason: 'case 17' });
  expect(await first.services.archiver.runOnce()).toMatchObject({ archived: 2, held_copied: 1 });
  const blobs = await archiveBlobs(first);
  // The segment (still holding 'plain'), its manifest, and the held copy.
  expect(blobs.map((blob) => blob.name.split('/')[0]).sort()).toEqual(['held', 'manifests', 'segments']);
  await first.close();
  return { first, blobs };
}

describe.runIf(BACKENDS.includes('azure'))('lifecycle simulate (azure)', () => {
  it('tiers the archive down as days pass, then deletes expired blobs but never a held copy', async () => {
    const { first, blobs } = await archiveTwoRecords('azure');
    const isManifest = (blob: BlobInfo): boolean => blob.name.startsWith('manifests/');
    const tiered = blobs.filter((blob) => !isManifest(blob));
    const bytes = tiered.reduce((sum, blob) => sum + blob.size, 0);

    const archived = await simulate(first, '--days', '100');
    expect(archived.dry_run).toBe(false);
    expect(archived.moved).toEqual([{ from: 'Cool', to: 'Archive', blobs: 2, bytes }]);
    expect(archived.deleted).toEqual({ blobs: 0, bytes: 0 });
    expect(archived.monthly_cost.after.usd_per_month).toBeLessThan(
      archived.monthly_cost.before.usd_per_month,
    );
    expect(archived.monthly_cost.saving_usd_per_month).toBeGreaterThan(0);

    // The segment and its manifest, which the retention backstop deletes together.
    const expiring = blobs.filter((blob) => !blob.name.startsWith('held/')).map((blob) => blob.name);
    const forecast = await simulate(first, '--days', '3000', '--dry-run');
    expect(forecast.deleted).toEqual({ blobs: 2, bytes: expect.any(Number) as number });
    expect(
      forecast.changes
        .filter((change) => change.to === 'deleted')
        .map((change) => change.name)
        .sort(),
    ).toEqual(expiring.sort());

    // The manifest stays online while its segment is in Archive, so verify still checks the index
    // against it: an entry lost meanwhile is found without rehydrating anything.
    harness = await startHarness({ reuse: first });
    expect((await tieredArchiveBlobs(harness)).map((blob) => [blob.name, blob.tier])).toEqual(
      // Manifests keep the tier they were uploaded in (BLOB_UPLOAD_TIER, Cool by default).
      blobs.map((blob) => [blob.name, isManifest(blob) ? 'Cool' : 'Archive']),
    );
    const { etag, ...lost } =
      (await harness.adapters.index.get('plain')) ?? expect.fail('plain is not indexed');
    expect(await harness.adapters.index.withdraw('plain', etag)).toBeDefined();
    const offline = await harness.services.verifier.verify({});
    expect(offline.offline.items.map((item) => item.blob).sort()).toEqual(
      tiered.map((blob) => blob.name).sort(),
    );
    expect(offline.unindexed).toMatchObject({ count: 1, items: [{ id: 'plain' }] });
    expect(offline.corrupt.count).toBe(0);
    // Nothing was read from Archive, so nothing started a rehydration.
    expect(await blobNames(harness, 'rehydrated/')).toEqual([]);
    expect(await harness.adapters.index.putMany([lost])).toHaveLength(1);
    await harness.close();

    const expired = await simulate(first, '--days', '3000');
    expect(expired.deleted.blobs).toBe(2);
    expect(expired.monthly_cost.after.by_tier.Archive?.blobs).toBe(
      // The held copy stays; other blobs of the container (a lock) are not the policy's.
      1,
    );

    harness = await startHarness({ reuse: first });
    expect((await archiveBlobs(harness)).map((blob) => blob.name)).toEqual(
      blobs.filter((blob) => blob.name.startsWith('held/')).map((blob) => blob.name),
    );
    const api = apiClient(harness.app);
    const gone = await api.get('/billing/plain');
    expect(gone.statusCode).toBe(410);
    expect(gone.json()).toMatchObject({ error: 'gone' });
    // The held copy is in the Archive tier: Azurite makes it wait for rehydration.
    expect((await api.get('/billing/kept')).statusCode).toBe(202);
    const report = await harness.services.verifier.verify({});
    expect(report.ok).toBe(false);
    expect(report.missing).toMatchObject({ count: 1, items: [{ id: 'plain' }] });
  });
});

describe.runIf(BACKENDS.includes('embedded'))('lifecycle simulate (embedded)', () => {
  it('refuses, even as a dry run, because a local directory has no access tiers; changes nothing', async () => {
    const { first, blobs } = await archiveTwoRecords('embedded');
    for (const dryRun of [[], ['--dry-run']]) {
      const result = await runCli(
        ['--json', 'lifecycle', 'simulate', '--days', '3000', ...dryRun],
        first.env,
      );
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(
        'lifecycle simulate needs an archive store with access tiers (Azure Blob Storage, or a local Azurite); the embedded archive directory has none',
      );
      expect(result.stdout).toBe('');
    }

    harness = await startHarness({ reuse: first });
    expect(await archiveBlobs(harness)).toEqual(blobs);
    expect((await readdir(join(first.env.DATA_DIR ?? '', 'archive'))).sort()).toEqual([
      'held',
      'manifests',
      'segments',
    ]);
    const api = apiClient(harness.app);
    for (const id of ['plain', 'kept']) expect((await api.get(`/billing/${id}`)).statusCode).toBe(200);
    expect((await harness.services.verifier.verify({})).ok).toBe(true);
  });
});

describe('lifecycle simulate on a cloud account', () => {
  it('refuses to change anything without --dry-run, before reaching the account', async () => {
    const result = await runCli(['--json', 'lifecycle', 'simulate', '--days', '30'], {
      COSMOS_ENDPOINT: 'https://billing.documents.azure.com:443/',
      COSMOS_KEY: 'a2V5',
      BLOB_CONNECTION_STRING:
        'DefaultEndpointsProtocol=https;AccountName=billingarchive;AccountKey=a2V5;EndpointSuffix=core.windows.net',
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('runs on a local Azurite only; add --dry-run');
    expect(result.stdout).toBe('');
  });
});
