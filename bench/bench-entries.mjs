// Archive index entries for the benches, laid out as the segment layout lays them: what the index
// stores of an archived record, without the record.
import { randomBytes, randomInt } from 'node:crypto';

/** Records one archival run archives here: a run seals one segment per creation month. */
const RUN_RECORDS = 20_000;
/**
 * The `n`th archived entry, as the segment layout stores it: runs of 20,000 records, each writing
 * one segment per creation month, so entries name few distinct blobs (600 at 1M entries), as real
 * segments of up to 50,000 records do.
 * @returns {import('../dist/ports/archive-index.js').ArchiveEntry}
 */
export function entryOf(/** @type {string} */ id, /** @type {number} */ n) {
  const runNumber = Math.floor(n / RUN_RECORDS);
  const month = randomInt(12);
  const run = `2026${String((runNumber % 12) + 1).padStart(2, '0')}01T080000000Z-${runNumber}`;
  const size = randomInt(300, 1200);
  return {
    id,
    customer_id: `cust-${String(randomInt(1, 401)).padStart(5, '0')}`,
    created_at: new Date(Date.UTC(2025, month, randomInt(1, 29), randomInt(24), randomInt(60))).toISOString(),
    location: {
      layout: 'segment',
      blob: `segments/created=2025-${String(month + 1).padStart(2, '0')}/${run}-0000.ndjson.gz`,
      offset: randomInt(0, 40_000_000),
      length: randomInt(15_000, 30_000),
      line: { offset: randomInt(0, 65_000), length: size },
    },
    sha256: randomBytes(32).toString('hex'),
    size,
    archived_at: new Date(Date.UTC(2026, 0, 1 + (runNumber % 300), 8)).toISOString(),
    run_id: run,
  };
}
