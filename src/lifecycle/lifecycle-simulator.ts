import type { AccessTier, ArchiveStore, ArchiveTiers, TieredBlobInfo } from '../ports/archive-store.js';
import { DAY_MS, type Clock } from '../services/clock.js';
import { storageCost, type BlobPrices, type StorageCost } from '../domain/cost-model.js';
import { planLifecycle, type PlannedChange, type TierPrices } from './lifecycle-plan.js';
import type { LifecyclePolicy } from './lifecycle-policy.js';

/** Changes listed one by one in the report; the counts are always complete. */
const LISTED = 100;

export interface SimulationReport {
  days: number;
  as_of: string;
  dry_run: boolean;
  blobs: number;
  moved: { from: AccessTier; to: AccessTier; blobs: number; bytes: number }[];
  deleted: { blobs: number; bytes: number };
  changes: PlannedChange[];
  changes_listed: number;
  changes_total: number;
  monthly_cost: {
    prices_usd_per_gb_month: TierPrices;
    before: StorageCost;
    after: StorageCost;
    saving_usd_per_month: number;
  };
}

export interface SimulatorDeps {
  /** Deletes what the policy deletes. */
  store: ArchiveStore;
  /** The store's tiers: the simulation reads and moves them. */
  tiers: ArchiveTiers;
  policy: LifecyclePolicy;
  /** The container the policy's prefixes name. */
  container: string;
  prices: Pick<BlobPrices, 'storagePerGbMonth' | 'minBillableBytes'>;
  clock: Clock;
}

/**
 * Applies the lifecycle policy to the archive as if `days` days had passed: moves the tiers and
 * deletes the blobs the policy would (unless `dryRun`), and prices the archive before and after.
 */
export async function simulateLifecycle(
  deps: SimulatorDeps,
  options: { days: number; dryRun: boolean },
): Promise<SimulationReport> {
  const blobs: TieredBlobInfo[] = [];
  for await (const blob of deps.tiers.list('')) blobs.push(blob);
  const asOf = new Date(deps.clock().getTime() + options.days * DAY_MS);
  const changes = planLifecycle(deps.policy, deps.container, blobs, asOf);
  if (!options.dryRun) {
    for (const change of changes) {
      if (change.to === 'deleted') await deps.store.delete(change.name);
      else await deps.tiers.setTier(change.name, change.to);
    }
  }
  const changed = new Map(changes.map((change) => [change.name, change.to]));
  const after = blobs.flatMap((blob) => {
    const to = changed.get(blob.name);
    if (to === 'deleted') return [];
    return [{ size: blob.size, tier: to ?? blob.tier }];
  });
  const before = storageCost(blobs, deps.prices);
  const afterCost = storageCost(after, deps.prices);
  return {
    days: options.days,
    as_of: asOf.toISOString(),
    dry_run: options.dryRun,
    blobs: blobs.length,
    moved: groupMoves(changes),
    deleted: {
      blobs: changes.filter((change) => change.to === 'deleted').length,
      bytes: changes.reduce((sum, change) => sum + (change.to === 'deleted' ? change.size : 0), 0),
    },
    changes: changes.slice(0, LISTED),
    changes_listed: Math.min(changes.length, LISTED),
    changes_total: changes.length,
    monthly_cost: {
      prices_usd_per_gb_month: deps.prices.storagePerGbMonth,
      before,
      after: afterCost,
      saving_usd_per_month: before.usd_per_month - afterCost.usd_per_month,
    },
  };
}

function groupMoves(changes: readonly PlannedChange[]): SimulationReport['moved'] {
  const groups = new Map<string, SimulationReport['moved'][number]>();
  for (const change of changes) {
    if (change.to === 'deleted') continue;
    const key = `${change.from}>${change.to}`;
    const group = groups.get(key) ?? { from: change.from, to: change.to, blobs: 0, bytes: 0 };
    group.blobs += 1;
    group.bytes += change.size;
    groups.set(key, group);
  }
  return [...groups.values()];
}
