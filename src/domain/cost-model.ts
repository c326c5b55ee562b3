import type { AccessTier } from '../ports/archive-store.js';

const GB = 1024 ** 3;

const TIERS_WITH_MINIMUM: ReadonlySet<AccessTier> = new Set(['Cool', 'Cold', 'Archive']);

/** The bytes a blob of `size` is billed for in `tier`, where Cool, Cold and Archive bill at least `minimum`. */
export function billedBytes(size: number, tier: AccessTier, minimum: number): number {
  return TIERS_WITH_MINIMUM.has(tier) ? Math.max(size, minimum) : size;
}

/** List prices in USD; each has its source and date in the README. */
export interface PriceTable {
  cosmos: {
    storagePerGbMonth: number;
    serverlessPerMillionRu: number;
    /** Provisioned throughput, per 100 RU/s for an hour (single region). */
    provisionedPer100RuSecondHour: number;
  };
  blob: BlobPrices;
}

export interface BlobPrices {
  storagePerGbMonth: Record<AccessTier, number>;
  /** Write operations (and list pages, priced alike here) per 10,000. */
  writesPer10k: Record<AccessTier, number>;
  /**
   * The least Cool, Cold and Archive bill a blob as: 128 KiB for accounts created from July 2026,
   * and for all accounts from July 2027; 0 for older accounts until then.
   */
  minBillableBytes: number;
}

export interface TierCost {
  blobs: number;
  bytes: number;
  billed_bytes: number;
  usd_per_month: number;
}

export interface StorageCost {
  usd_per_month: number;
  by_tier: Partial<Record<AccessTier, TierCost>>;
}

/** Monthly capacity cost of the given blobs, each billed with its tier's minimum size. */
export function storageCost(
  blobs: Iterable<{ size: number; tier: AccessTier }>,
  prices: Pick<BlobPrices, 'storagePerGbMonth' | 'minBillableBytes'>,
): StorageCost {
  const byTier: Partial<Record<AccessTier, TierCost>> = {};
  let total = 0;
  for (const blob of blobs) {
    const billed = billedBytes(blob.size, blob.tier, prices.minBillableBytes);
    const cost = (billed / GB) * prices.storagePerGbMonth[blob.tier];
    const tier = (byTier[blob.tier] ??= { blobs: 0, bytes: 0, billed_bytes: 0, usd_per_month: 0 });
    tier.blobs += 1;
    tier.bytes += blob.size;
    tier.billed_bytes += billed;
    tier.usd_per_month += cost;
    total += cost;
  }
  return { usd_per_month: total, by_tier: byTier };
}

/** Where a byte count came from: counted exactly, reported by the service, or a sample scaled up. */
export type Measure = 'counted' | 'reported' | 'sampled';

export interface StoredBytes {
  bytes: number;
  from: Measure;
}

/** What the cost model prices: what is stored now, and what recent runs spent moving records. */
export interface CostInputs {
  /** When the stores were measured. */
  as_of: string;
  live: { records: number; bytes: number; bytes_from: Measure };
  archive: {
    records: number;
    /** The archived records' own bytes: what they would take if left live. */
    record_bytes: number;
    blobs: StorageCost;
    /** Whether the blobs' tiers are the store's, or modelled from the lifecycle policy by age. */
    tiers_from: 'store' | 'lifecycle policy';
  };
  /** Where the index lives; a blob-native index is priced in the tier it keeps its files in. */
  index: {
    entries: number;
    bytes: number;
    bytes_from: Measure;
    store: 'Cosmos DB' | 'SQLite' | 'Blob Storage';
    tier?: AccessTier;
  };
  /** Recent archival runs (not dry runs) that archived records. */
  moving: {
    runs: number;
    records: number;
    /** Null where the live store bills no request units (the embedded backend). */
    request_units: number | null;
    /** Archive store writes and list pages. */
    blob_operations: number;
    upload_tier: AccessTier;
  };
  /** The latest dry run since the latest real run: what the next run would move. */
  next_run: { run_id: string; records: number } | undefined;
}

interface ThroughputCost {
  serverless: number;
  provisioned: number;
}

export interface CostReport {
  as_of: string;
  currency: 'USD';
  live: CostInputs['live'] & { usd_per_month: number };
  archive: {
    records: number;
    blobs: StorageCost & { tiers_from: CostInputs['archive']['tiers_from'] };
    index: CostInputs['index'] & { usd_per_month: number };
    usd_per_month: number;
  };
  /** The archived records priced as live documents: what archiving them avoids. */
  if_left_live: { bytes: number; usd_per_month: number };
  saving_usd_per_month: number;
  /** What an archived record costs as a share of what it cost live; null before anything is archived. */
  archived_cost_share_of_live: number | null;
  moving: CostInputs['moving'] & {
    usd: ThroughputCost | null;
    /** Months the saving on the records moved takes to repay moving them; null when nothing is saved or moving is not priced. */
    payback_months: { serverless: number | null; provisioned: number | null };
  };
  next_run: {
    run_id: string;
    records: number;
    /** At what the recent runs spent per record; null before any run archived (or where RU are not billed). */
    request_units: number | null;
    usd: ThroughputCost | null;
  } | null;
  notes: string[];
}

/** Prices what is stored and what moving it cost; every figure per month unless it says otherwise. */
export function costReport(inputs: CostInputs, prices: PriceTable): CostReport {
  const perGb = prices.cosmos.storagePerGbMonth;
  const liveUsd = (inputs.live.bytes / GB) * perGb;
  const indexPerGb =
    inputs.index.store === 'Blob Storage' ? prices.blob.storagePerGbMonth[inputs.index.tier ?? 'Hot'] : perGb;
  const indexUsd = (inputs.index.bytes / GB) * indexPerGb;
  const archiveUsd = inputs.archive.blobs.usd_per_month + indexUsd;
  const leftLiveUsd = (inputs.archive.record_bytes / GB) * perGb;
  const saving = leftLiveUsd - archiveUsd;
  const { moving } = inputs;
  const operationsUsd = (moving.blob_operations / 10_000) * prices.blob.writesPer10k[moving.upload_tier];
  const usd =
    moving.request_units === null ? null : addTo(throughputCost(moving.request_units, prices), operationsUsd);
  // What the records moved save each month, at the mean saving of an archived record.
  const savingOnMoved = inputs.archive.records > 0 ? (saving / inputs.archive.records) * moving.records : 0;
  const payback = (cost: number | undefined): number | null =>
    cost !== undefined && savingOnMoved > 0 ? cost / savingOnMoved : null;
  // The next run is priced at what the recent runs spent per record.
  const next = inputs.next_run;
  const share = next && moving.records > 0 ? next.records / moving.records : undefined;
  return {
    as_of: inputs.as_of,
    currency: 'USD',
    live: { ...inputs.live, usd_per_month: liveUsd },
    archive: {
      records: inputs.archive.records,
      blobs: { ...inputs.archive.blobs, tiers_from: inputs.archive.tiers_from },
      index: { ...inputs.index, usd_per_month: indexUsd },
      usd_per_month: archiveUsd,
    },
    if_left_live: { bytes: inputs.archive.record_bytes, usd_per_month: leftLiveUsd },
    saving_usd_per_month: saving,
    archived_cost_share_of_live: leftLiveUsd > 0 ? archiveUsd / leftLiveUsd : null,
    moving: {
      ...moving,
      usd,
      payback_months: { serverless: payback(usd?.serverless), provisioned: payback(usd?.provisioned) },
    },
    next_run: next
      ? {
          ...next,
          request_units:
            share === undefined || moving.request_units === null ? null : moving.request_units * share,
          usd:
            share === undefined || usd === null
              ? null
              : { serverless: usd.serverless * share, provisioned: usd.provisioned * share },
        }
      : null,
    notes: notesFor(inputs),
  };
}

/**
 * Request units priced serverless (per million), and provisioned as the throughput that would serve
 * them in one hour (RU / 3,600 RU/s for an hour): what extra capacity for the work would cost.
 */
function throughputCost(requestUnits: number, prices: PriceTable): ThroughputCost {
  return {
    serverless: (requestUnits / 1_000_000) * prices.cosmos.serverlessPerMillionRu,
    provisioned: (requestUnits / 3600 / 100) * prices.cosmos.provisionedPer100RuSecondHour,
  };
}

function addTo(cost: ThroughputCost, usd: number): ThroughputCost {
  return { serverless: cost.serverless + usd, provisioned: cost.provisioned + usd };
}

function notesFor(inputs: CostInputs): string[] {
  const notes = [
    'Storage at list prices per GB-month; Cool, Cold and Archive blobs billed at the minimum size or more each.',
    'Left live, the archived records are priced by their own JSON bytes: Cosmos DB would also bill their system properties and index, so the saving is larger than shown.',
    'Provisioned moving cost is the throughput that would serve the runs’ request units in one hour, fully used: a lower bound; throughput already provisioned and idle costs nothing extra.',
    'Reads of archived records, rehydration and early deletion are not priced: they depend on use.',
  ];
  if (inputs.live.bytes_from === 'reported')
    notes.push(
      'Live records are priced as Cosmos DB reports their container: documents, system properties and index.',
    );
  if (inputs.archive.tiers_from === 'lifecycle policy')
    notes.push(
      'This store has no access tiers: blobs are priced in the tier the lifecycle policy would give them at their age.',
    );
  if (inputs.index.store === 'SQLite')
    notes.push(
      'The index is a SQLite file here; it is priced as Cosmos DB storage, where it would live on Azure.',
    );
  if (inputs.index.store === 'Blob Storage')
    notes.push(
      `The index is files in the archive store, priced as blobs in the ${inputs.index.tier ?? 'Hot'} tier it keeps them in.`,
    );
  if (inputs.live.bytes_from === 'sampled' || inputs.index.bytes_from === 'sampled')
    notes.push(
      'Cosmos DB did not report its storage use: sizes are the mean of sampled documents times their count.',
    );
  if (inputs.moving.request_units === null)
    notes.push(
      'The embedded backend bills no request units: moving costs and payback are priced on Azure only.',
    );
  else if (inputs.moving.runs === 0)
    notes.push('No archival run has been counted yet: moving costs and payback are unknown.');
  return notes;
}
