import {
  costReport,
  storageCost,
  type CostInputs,
  type CostReport,
  type PriceTable,
} from '../domain/cost-model.js';
import { planLifecycle } from '../lifecycle/lifecycle-plan.js';
import type { LifecyclePolicy } from '../lifecycle/lifecycle-policy.js';
import type { ArchiveIndex } from '../ports/archive-index.js';
import type { AccessTier, ArchiveStore } from '../ports/archive-store.js';
import type { LiveStore } from '../ports/live-store.js';
import type { RunLog, RunRecord } from '../ports/run-log.js';
import type { Clock } from './clock.js';
import type { Layouts } from './layouts/layouts.js';
import { USAGE_RUNS } from './stats-service.js';

export interface CostDeps {
  live: LiveStore;
  index: ArchiveIndex;
  store: ArchiveStore;
  layouts: Layouts;
  runLog: RunLog;
  clock: Clock;
}

export interface CostSettings {
  prices: PriceTable;
  /** The tier new archive blobs are written in (BLOB_UPLOAD_TIER). */
  uploadTier: AccessTier;
  /** Whether the live store bills request units (Cosmos DB), so that moving can be priced. */
  billsRequestUnits: boolean;
  indexStore: CostInputs['index']['store'];
  /** The container the lifecycle policy's prefixes are matched in. */
  container: string;
  /** The lifecycle policy, read when a store without tiers needs its blobs' tiers modelled. */
  policy: () => Promise<LifecyclePolicy>;
}

/** Gathers what the cost model prices: what every store holds now and what recent runs spent. */
export class CostService {
  constructor(
    private readonly deps: CostDeps,
    private readonly settings: CostSettings,
  ) {}

  async report(): Promise<CostReport> {
    const { live, index, runLog } = this.deps;
    const [liveSummary, liveStorage, archived, indexStorage, blobs, runs] = await Promise.all([
      live.summary(),
      live.storage(),
      index.summary(),
      index.storage(),
      this.archiveBlobs(),
      runLog.list({ limit: USAGE_RUNS }),
    ]);
    return costReport(
      {
        live: { records: liveSummary.count, bytes: liveStorage.bytes, bytes_from: liveStorage.from },
        archive: {
          records: archived.count,
          record_bytes: archived.bytes,
          blobs: storageCost(blobs.blobs, this.settings.prices.blob.storagePerGbMonth),
          tiers_from: blobs.tiersFrom,
        },
        index: {
          entries: archived.count,
          bytes: indexStorage.bytes,
          bytes_from: indexStorage.from,
          store: this.settings.indexStore,
        },
        moving: this.moving(runs),
        next_run: nextRun(runs),
      },
      this.settings.prices,
    );
  }

  /**
   * Every blob of the archive's layouts with its tier: the store's own, or where a store has none
   * (a local directory), the tier the lifecycle policy would have moved it to by its age.
   */
  private async archiveBlobs(): Promise<{
    blobs: { size: number; tier: AccessTier }[];
    tiersFrom: CostInputs['archive']['tiers_from'];
  }> {
    const { store, layouts } = this.deps;
    const prefixes = layouts.all.flatMap((layout) => layout.prefixes);
    const blobs: { size: number; tier: AccessTier }[] = [];
    if (store.tiers) {
      for (const prefix of prefixes)
        for await (const blob of store.tiers.list(prefix)) blobs.push({ size: blob.size, tier: blob.tier });
      return { blobs, tiersFrom: 'store' };
    }
    const uploaded = [];
    for (const prefix of prefixes)
      for await (const blob of store.list(prefix))
        uploaded.push({
          ...blob,
          createdOn: blob.lastModified,
          tier: this.settings.uploadTier,
          tierChangedOn: undefined,
        });
    const changes = new Map(
      planLifecycle(await this.settings.policy(), this.settings.container, uploaded, this.deps.clock()).map(
        (change) => [change.name, change.to],
      ),
    );
    for (const blob of uploaded) {
      const to = changes.get(blob.name);
      // A blob the policy would have deleted by now costs nothing.
      if (to !== 'deleted') blobs.push({ size: blob.size, tier: to ?? blob.tier });
    }
    return { blobs, tiersFrom: 'lifecycle policy' };
  }

  /** What the recent real runs that archived records spent doing it. */
  private moving(runs: readonly RunRecord[]): CostInputs['moving'] {
    const counted = runs.filter(
      (run) => !run.dry_run && run.finished_at !== null && run.usage && run.archived > 0,
    );
    let requestUnits = 0;
    let operations = 0;
    for (const run of counted) {
      requestUnits += run.usage?.cosmos.request_units ?? 0;
      const byKind = run.usage?.archive_store.by_kind ?? {};
      operations += (byKind.write ?? 0) + (byKind.list ?? 0);
    }
    return {
      runs: counted.length,
      records: counted.reduce((sum, run) => sum + run.archived, 0),
      request_units: this.settings.billsRequestUnits ? requestUnits : null,
      blob_operations: operations,
      upload_tier: this.settings.uploadTier,
    };
  }
}

/** The latest finished dry run, unless a real run started after it (runs come newest first). */
function nextRun(runs: readonly RunRecord[]): CostInputs['next_run'] {
  for (const run of runs) {
    if (!run.dry_run) return undefined;
    if (run.status === 'succeeded') return { run_id: run.run_id, records: run.eligible };
  }
  return undefined;
}
