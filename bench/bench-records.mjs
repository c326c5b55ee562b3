// Realistic billing records of a chosen size for the benches: sample invoices whose metadata carries
// line items (products, quantities, prices, periods) until the document reaches the size, so they
// compress like real invoices rather than like padding.
import { randomInt } from 'node:crypto';
import { newRecordDocument } from '../dist/domain/billing-record.js';
import { sampleRecord } from '../dist/services/sample-records.js';

const PRODUCTS = [
  'Pro plan',
  'Team plan',
  'Storage add-on',
  'Support contract',
  'API overage',
  'Seat licences',
];
const REGIONS = ['westeurope', 'northeurope', 'eastus', 'westus2', 'southeastasia'];

/**
 * Invoice number `index` of about `kb` KB of JSON, created 100 to 464 days before `now` (13 creation
 * months, all past the archival threshold).
 * @param {number} index
 * @param {Date} now
 * @param {number} kb
 * @returns {import('../dist/domain/billing-record.js').RecordDocument}
 */
export function invoiceOfSize(index, now, kb) {
  const target = Math.round(kb * 1024);
  const input = sampleRecord(index, now, 100 + (index % 365));
  /** @type {object[]} */
  const lines = [];
  const doc = () => newRecordDocument({ ...input, metadata: { ...input.metadata, lines } }, now);
  for (;;) {
    const next = {
      sku: `SKU-${randomInt(1000, 9999)}`,
      product: PRODUCTS[randomInt(PRODUCTS.length)],
      region: REGIONS[randomInt(REGIONS.length)],
      quantity: randomInt(1, 500),
      unit_price: randomInt(1, 100_000) / 100,
      period: `2026-${String(randomInt(1, 13)).padStart(2, '0')}`,
    };
    if (Buffer.byteLength(JSON.stringify(doc())) + Buffer.byteLength(JSON.stringify(next)) > target) break;
    lines.push(next);
  }
  return doc();
}
