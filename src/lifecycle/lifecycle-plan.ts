import type { AccessTier, TieredBlobInfo } from '../ports/archive-store.js';
import { DAY_MS } from '../services/clock.js';
import type { LifecyclePolicy } from './lifecycle-policy.js';

type TierAction = 'tierToCool' | 'tierToCold' | 'tierToArchive';
type Action = TierAction | 'delete';

const TARGET: Record<TierAction, AccessTier> = {
  tierToCool: 'Cool',
  tierToCold: 'Cold',
  tierToArchive: 'Archive',
};
/** When several actions apply, Azure takes the cheapest: delete, then the coolest tier. */
const PRECEDENCE: readonly Action[] = ['delete', 'tierToArchive', 'tierToCold', 'tierToCool'];
const COOLNESS: Record<AccessTier, number> = { Hot: 0, Cool: 1, Cold: 2, Archive: 3 };

export interface PlannedChange {
  name: string;
  size: number;
  from: AccessTier;
  to: AccessTier | 'deleted';
  rule: string;
}

/** List prices per GB and month, by tier. */
export type TierPrices = Record<AccessTier, number>;

interface ActionCondition {
  daysAfterCreationGreaterThan: number;
  daysAfterLastTierChangeGreaterThan?: unknown;
}

/**
 * What the policy does to each blob as of `asOf`, read as Azure reads it: a rule matches blobs whose
 * `container/name` starts with one of its prefixes; an action is due once the blob is older than its
 * days (and, for a move to Archive with a tier-change condition, its tier has not changed for that
 * long); of the due actions the cheapest wins; a tier move never warms a blob up.
 */
export function planLifecycle(
  policy: LifecyclePolicy,
  container: string,
  blobs: readonly TieredBlobInfo[],
  asOf: Date,
): PlannedChange[] {
  const rules = policy.rules.filter(
    (rule) => rule.enabled && rule.definition.filters.blobTypes.includes('blockBlob'),
  );
  const changes: PlannedChange[] = [];
  for (const blob of blobs) {
    const path = `${container}/${blob.name}`;
    let chosen: { action: Action; rule: string } | undefined;
    for (const rule of rules) {
      if (!rule.definition.filters.prefixMatch.some((prefix) => path.startsWith(prefix))) continue;
      const actions = rule.definition.actions.baseBlob as Partial<Record<Action, ActionCondition>>;
      for (const action of PRECEDENCE) {
        const condition = actions[action];
        if (!condition || !isDue(condition, blob, asOf)) continue;
        if (action !== 'delete' && COOLNESS[TARGET[action]] <= COOLNESS[blob.tier]) continue;
        if (!chosen || PRECEDENCE.indexOf(action) < PRECEDENCE.indexOf(chosen.action))
          chosen = { action, rule: rule.name };
        break;
      }
    }
    if (chosen)
      changes.push({
        name: blob.name,
        size: blob.size,
        from: blob.tier,
        to: chosen.action === 'delete' ? 'deleted' : TARGET[chosen.action],
        rule: chosen.rule,
      });
  }
  return changes;
}

function isDue(condition: ActionCondition, blob: TieredBlobInfo, asOf: Date): boolean {
  const ageDays = (asOf.getTime() - blob.createdOn.getTime()) / DAY_MS;
  if (!(ageDays > condition.daysAfterCreationGreaterThan)) return false;
  const sinceChange = condition.daysAfterLastTierChangeGreaterThan;
  if (typeof sinceChange !== 'number' || blob.tierChangedOn === undefined) return true;
  return (asOf.getTime() - blob.tierChangedOn.getTime()) / DAY_MS > sinceChange;
}
