import { describe, expect, it } from 'vitest';
import { planLifecycle } from '../../src/lifecycle/lifecycle-plan.js';
import { loadLifecyclePolicy } from '../../src/lifecycle/lifecycle-policy.js';
import type { AccessTier, TieredBlobInfo } from '../../src/ports/archive-store.js';

const NOW = new Date('2026-11-27T00:00:00.000Z');
const DAY = 24 * 60 * 60 * 1000;

function blob(name: string, ageDays: number, tier: AccessTier, tierChangedDaysAgo?: number): TieredBlobInfo {
  const createdOn = new Date(NOW.getTime() - ageDays * DAY);
  return {
    name,
    size: 1024 ** 3,
    lastModified: createdOn,
    createdOn,
    tier,
    tierChangedOn:
      tierChangedDaysAgo === undefined ? undefined : new Date(NOW.getTime() - tierChangedDaysAgo * DAY),
  };
}

describe('planLifecycle with the shipped policy', () => {
  it('moves, archives and deletes by age, the cheapest due action first, never warming a blob', async () => {
    const policy = await loadLifecyclePolicy();
    const blobs = [
      blob('segments/created=2026-10/a.ndjson.gz', 30, 'Hot'),
      blob('segments/created=2026-10/b.ndjson.gz', 31, 'Hot'),
      blob('segments/created=2026-06/c.ndjson.gz', 91, 'Hot'),
      blob('records/2026/06/d.json', 91, 'Cool'),
      blob('records/2026/06/e.json', 91, 'Archive'),
      blob('segments/created=2019-01/f.ndjson.gz', 2556, 'Archive'),
      blob('held/g.0123456789abcdef.json', 4000, 'Cool'),
      blob('rehydrated/segments/created=2019-01/f.ndjson.gz', 4000, 'Cool'),
      blob('locks/archival', 4000, 'Hot'),
    ];
    expect(planLifecycle(policy, 'billing-archive', blobs, NOW)).toEqual([
      { name: blobs[1]?.name, size: 1024 ** 3, from: 'Hot', to: 'Cool', rule: 'billing-archive-tiers' },
      { name: blobs[2]?.name, size: 1024 ** 3, from: 'Hot', to: 'Archive', rule: 'billing-archive-tiers' },
      { name: blobs[3]?.name, size: 1024 ** 3, from: 'Cool', to: 'Archive', rule: 'billing-archive-tiers' },
      {
        name: blobs[5]?.name,
        size: 1024 ** 3,
        from: 'Archive',
        to: 'deleted',
        rule: 'billing-archive-retention-backstop',
      },
      // Held copies are tiered but never deleted; other prefixes are left alone.
      { name: blobs[6]?.name, size: 1024 ** 3, from: 'Cool', to: 'Archive', rule: 'billing-archive-tiers' },
    ]);
  });

  it('leaves a blob whose tier changed within 7 days out of Archive (a rehydrated copy stays readable)', async () => {
    const policy = await loadLifecyclePolicy();
    const recent = blob('segments/created=2026-01/a.ndjson.gz', 300, 'Cool', 3);
    const settled = blob('segments/created=2026-01/b.ndjson.gz', 300, 'Cool', 8);
    expect(
      planLifecycle(policy, 'billing-archive', [recent, settled], NOW).map((change) => change.name),
    ).toEqual([settled.name]);
  });

  it('matches prefixes with the container name, as Azure does', async () => {
    const policy = await loadLifecyclePolicy();
    expect(planLifecycle(policy, 'other-container', [blob('records/x.json', 100, 'Hot')], NOW)).toEqual([]);
  });
});
