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
  /** How long one report is shared (COST_CACHE_SECONDS): it lists every archive blob and scans the stores. */
  maxAgeMs: number;
}

/** Gathers what the cost model prices: what every store holds now and what recent runs spent. */
export class CostService {
  private cached: { at: number; report: Promise<CostReport> } | undefined;

  constructor(
    private readonly deps: CostDeps,
    private readonly settings: CostSettings,
  ) {}

  /** The latest report younger than `maxAgeMs`, or a new one (always a new one when `fresh`). */
  report(options: { fresh?: boolean } = {}): Promise<CostReport> {
    const now = this.deps.clock().getTime();
    if (!options.fresh && this.cached && now - this.cached.at < this.settings.maxAgeMs)
      return this.cached.report;
    const report = this.measure();
    this.cached = { at: now, report };
    report.catch(() => {
      if (this.cached?.report === report) this.cached = undefined;
    });
    return report;
  }

  private async measure(): Promise<CostReport> {
    const asOf = this.deps.clock();
    const { live, index, runLog } = this.deps;
    const [liveSummary, liveStorage, archived, indexStorage, blobs, runs] = await Promise.all([
      live.summary(),
      live.storage(),
      index.summary(),
      index.storage(),
      this.archiveBlobs(asOf),
      runLog.list({ limit: USAGE_RUNS }),
    ]);
    return costReport(
      {
        as_of: asOf.toISOString(),
        live: { records: liveSummary.count, bytes: liveStorage.bytes, bytes_from: liveStorage.from },
        archive: {
          records: archived.count,
          record_bytes: archived.bytes,
          blobs: storageCost(blobs.blobs, this.settings.prices.blob),
          tiers_from: blobs.tiersFrom,
        },
        index: {
          entries: archived.count,
          bytes: indexStorage.bytes,
          bytes_from: indexStorage.from,
          store: this.settings.indexStore,
          // The blob-native index keeps its files Hot, whatever tier the archive uploads in.
          ...(this.settings.indexStore === 'Blob Storage' && { tier: 'Hot' as const }),
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
  private async archiveBlobs(asOf: Date): Promise<{
    blobs: { size: number; tier: AccessTier }[];
    tiersFrom: CostInputs['archive']['tiers_from'];
  }> {
    const { store, layouts } = this.deps;
    const listed = [];
    for (const layout of layouts.all) for await (const blob of layout.blobs()) listed.push(blob);
    if (store.tiers)
      return {
        blobs: listed.map((blob) => ({ size: blob.size, tier: blob.tier ?? this.settings.uploadTier })),
        tiersFrom: 'store',
      };
    const uploaded = listed.map((blob) => ({
      ...blob,
      createdOn: blob.lastModified,
      tier: this.settings.uploadTier,
      tierChangedOn: undefined,
    }));
    const changes = new Map(
      planLifecycle(await this.settings.policy(), this.settings.container, uploaded, asOf).map((change) => [
        change.name,
        change.to,
      ]),
    );
    const blobs: { size: number; tier: AccessTier }[] = [];
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
