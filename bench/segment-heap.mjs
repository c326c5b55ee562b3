#!/usr/bin/env node --expose-gc
// The memory an open segment holds: adds N invoices of about --kb KB to a SegmentBuilder, as a run's
// open segment would hold them, and prints the JS heap it keeps after a full collection (each
// record's manifest facts) beside the size of the sealed segment (the compressed members it holds
// outside the JS heap, plus at most one open member of 64 KiB).
//
//   npm run build && node --expose-gc bench/segment-heap.mjs [--records 5000,20000,50000] [--kb 0.3,1,4]
import { parseArgs } from 'node:util';
import { canonicalBytes, sha256Hex } from '../dist/domain/billing-record.js';
import { factsOf, SegmentBuilder } from '../dist/domain/segment-format.js';
import { invoiceOfSize } from './bench-records.mjs';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '5000,20000,50000' },
    kb: { type: 'string', default: '0.3,1,4' },
  },
});
const counts = values.records.split(',').map(Number);
const sizes = values.kb.split(',').map(Number);
const gc = /** @type {(() => void) | undefined} */ (globalThis.gc);
if (!gc) throw new Error('run with node --expose-gc');
if (counts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--records are whole numbers ≥ 1');
if (sizes.some((kb) => !(kb > 0 && kb <= 60))) throw new Error('--kb are between 0 and 60');

/** The JS heap in use after a full collection. */
function settledHeap() {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

const MB = 1024 * 1024;
const now = new Date();

/**
 * One builder of `count` invoices of `kb` KB, measured; in a function of its own, so that nothing
 * of it outlives the call when the next one measures.
 * @param {number} kb
 * @param {number} count
 */
function measure(kb, count) {
  const before = settledHeap();
  const builder = new SegmentBuilder();
  for (let i = 0; i < count; i += 1) {
    const doc = invoiceOfSize(i, now, kb);
    const bytes = canonicalBytes(doc);
    builder.add(bytes, { ...factsOf(doc), sha256: sha256Hex(bytes) });
  }
  const heap = settledHeap() - before;
  const { bytes, manifestBytes } = builder.seal('segments/created=2026-01/bench-0001.ndjson.gz', {
    runId: 'bench',
    archivedAt: now.toISOString(),
  });
  return {
    'record KB': kb,
    records: count,
    'JS heap MB': Math.round((heap / MB) * 10) / 10,
    'JS heap B per record': Math.round(heap / count),
    'sealed segment MB': Math.round((bytes.length / MB) * 10) / 10,
    'manifest KB': Math.round(manifestBytes.length / 1024),
  };
}

const rows = [];
for (const kb of sizes) for (const count of counts) rows.push(measure(kb, count));
console.log(`node ${process.version}, ${new Date().toISOString()}`);
console.table(rows);
