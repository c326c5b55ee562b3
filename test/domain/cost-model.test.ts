import { describe, expect, it } from 'vitest';
import {
  billedBytes,
  costReport,
  storageCost,
  type CostInputs,
  type PriceTable,
} from '../../src/domain/cost-model.js';

const GIB = 1024 ** 3;

const PRICES: PriceTable = {
  cosmos: { storagePerGbMonth: 0.25, serverlessPerMillionRu: 0.25, provisionedPer100RuSecondHour: 0.008 },
  blob: {
    storagePerGbMonth: { Hot: 0.018, Cool: 0.01, Cold: 0.0036, Archive: 0.002 },
    writesPer10k: { Hot: 0.055, Cool: 0.1, Cold: 0.18, Archive: 0.11 },
    minBillableBytes: 131_072,
  },
};

describe('cost model', () => {
  it('bills Cool, Cold and Archive blobs at the minimum or more, Hot ones at their size', () => {
    expect(billedBytes(1_000, 'Hot', 131_072)).toBe(1_000);
    for (const tier of ['Cool', 'Cold', 'Archive'] as const) {
      expect(billedBytes(1_000, tier, 131_072)).toBe(131_072);
      expect(billedBytes(200_000, tier, 131_072)).toBe(200_000);
      // Accounts created before July 2026 bill blobs at their size until July 2027.
      expect(billedBytes(1_000, tier, 0)).toBe(1_000);
    }
  });

  it('prices blobs per tier as billed', () => {
    const cost = storageCost(
      [
        { size: 1_000, tier: 'Cool' },
        { size: 3_000, tier: 'Cool' },
        { size: GIB, tier: 'Archive' },
        { size: 2_000, tier: 'Hot' },
      ],
      PRICES.blob,
    );
    // Cool: two blobs of 128 KiB billed = 0.000244140625 GiB at $0.01.
    expect(cost.by_tier.Cool).toEqual({
      blobs: 2,
      bytes: 4_000,
      billed_bytes: 262_144,
      usd_per_month: 0.00000244140625,
    });
    expect(cost.by_tier.Archive?.usd_per_month).toBeCloseTo(0.002, 12);
    // Hot: 2,000 bytes at $0.018 a GiB.
    expect(cost.by_tier.Hot?.usd_per_month).toBeCloseTo((2_000 / GIB) * 0.018, 15);
    expect(cost.by_tier.Cold).toBeUndefined();
    expect(cost.usd_per_month).toBeCloseTo(0.00000244140625 + 0.002 + 0.000000033527612686, 14);
  });

  const inputs: CostInputs = {
    as_of: '2026-11-30T00:00:00.000Z',
    live: { records: 1_000, bytes: 2 * GIB, bytes_from: 'counted' },
    archive: {
      records: 1_000_000,
      record_bytes: GIB,
      // $0.002 a month exactly: one Archive blob of 1 GiB.
      blobs: storageCost([{ size: GIB, tier: 'Archive' }], PRICES.blob),
      tiers_from: 'store',
    },
    index: { entries: 1_000_000, bytes: GIB / 2, bytes_from: 'reported', store: 'Cosmos DB' },
    moving: {
      runs: 2,
      records: 500_000,
      request_units: 5_000_000,
      blob_operations: 20_000,
      upload_tier: 'Cool',
    },
    next_run: { run_id: 'dry', records: 100_000 },
  };

  it('compares what is archived with what it would cost live, and what moving it cost', () => {
    const report = costReport(inputs, PRICES);
    // Live: 2 GiB at $0.25.
    expect(report.live.usd_per_month).toBe(0.5);
    // Archive: the blob $0.002 and the index 0.5 GiB at $0.25 = $0.125.
    expect(report.archive.index.usd_per_month).toBe(0.125);
    expect(report.archive.usd_per_month).toBeCloseTo(0.127, 12);
    // Left live, the archived records' 1 GiB would cost $0.25: the saving is $0.123 a month.
    expect(report.if_left_live).toEqual({ bytes: GIB, usd_per_month: 0.25 });
    expect(report.saving_usd_per_month).toBeCloseTo(0.123, 12);
    expect(report.archived_cost_share_of_live).toBeCloseTo(0.508, 12);
    // Moving: 5M RU serverless $1.25, provisioned 5M / 3,600 / 100 × $0.008 = $0.1111…; plus
    // 20,000 writes in Cool at $0.10 per 10,000 = $0.20.
    expect(report.moving.usd?.serverless).toBeCloseTo(1.45, 12);
    expect(report.moving.usd?.provisioned).toBeCloseTo(0.2 + 1 / 9, 12);
    // The 500,000 records moved save 0.123 / 1M × 500k = $0.0615 a month.
    expect(report.moving.payback_months.serverless).toBeCloseTo(1.45 / 0.0615, 9);
    expect(report.moving.payback_months.provisioned).toBeCloseTo((0.2 + 1 / 9) / 0.0615, 9);
    // The next run moves a fifth as many records as the runs counted.
    expect(report.next_run).toMatchObject({ run_id: 'dry', records: 100_000, request_units: 1_000_000 });
    expect(report.next_run?.usd?.serverless).toBeCloseTo(0.29, 12);
    expect(report.next_run?.usd?.provisioned).toBeCloseTo((0.2 + 1 / 9) / 5, 12);
  });

  it('says when there is no saving to repay the move, and leaves unbilled request units unpriced', () => {
    const tiny = costReport(
      {
        ...inputs,
        archive: {
          ...inputs.archive,
          records: 3,
          record_bytes: 900,
          // One segment of three small records still bills 128 KiB in Cool.
          blobs: storageCost([{ size: 400, tier: 'Cool' }], PRICES.blob),
        },
        index: { entries: 3, bytes: 1_900, bytes_from: 'sampled', store: 'Cosmos DB' },
        moving: { ...inputs.moving, records: 3 },
      },
      PRICES,
    );
    expect(tiny.archive.blobs.by_tier.Cool?.billed_bytes).toBe(131_072);
    expect(tiny.saving_usd_per_month).toBeLessThan(0);
    expect(tiny.archived_cost_share_of_live).toBeGreaterThan(1);
    expect(tiny.moving.payback_months).toEqual({ serverless: null, provisioned: null });
    expect(tiny.notes.join(' ')).toContain('sampled documents');

    const embedded = costReport(
      {
        ...inputs,
        index: { ...inputs.index, store: 'SQLite', bytes_from: 'counted' },
        moving: { ...inputs.moving, request_units: null },
        archive: { ...inputs.archive, tiers_from: 'lifecycle policy' },
      },
      PRICES,
    );
    expect(embedded.moving.usd).toBeNull();
    expect(embedded.moving.payback_months).toEqual({ serverless: null, provisioned: null });
    expect(embedded.next_run).toMatchObject({ records: 100_000, request_units: null, usd: null });
    expect(embedded.notes.join(' ')).toMatch(/SQLite file.*lifecycle policy|lifecycle policy.*SQLite file/s);
  });

  it('prices a blob-native index as blobs in their tier, not as Cosmos DB storage', () => {
    const blobIndex = costReport(
      { ...inputs, index: { ...inputs.index, store: 'Blob Storage', tier: 'Cool', bytes_from: 'counted' } },
      PRICES,
    );
    // Half a GiB at Cool's list price, against Cosmos DB's.
    expect(blobIndex.archive.index.usd_per_month).toBeCloseTo(0.5 * PRICES.blob.storagePerGbMonth.Cool, 10);
    expect(blobIndex.archive.index.usd_per_month).toBeLessThan(
      costReport(inputs, PRICES).archive.index.usd_per_month,
    );
    expect(blobIndex.notes.join(' ')).toContain('priced as blobs in the Cool tier it keeps them in');
  });
});
