#!/usr/bin/env node
// What an entry of the blob-native archive index costs in its file format (issue 15): encodes N
// random entries (UUID ids, segment locations over --blobs segments, --runs runs, --customers
// customers, creation times over a year) into one index file per block size, and prints bytes per
// entry, what a look-up reads (one block), encoding time per entry, decoding time per block, and
// the heap a decoded entry takes (what the index's block cache must budget for).
//
//   npm run build && node --expose-gc bench/index-file.mjs [--entries 100000] [--blocks 256,512,1024]
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { decodeIndexBlock, encodeIndexFile } from '../dist/domain/index-file.js';
import { wholeNumber } from './bench-args.mjs';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '100000' },
    blocks: { type: 'string', default: '256,512,1024' },
    blobs: { type: 'string', default: '300' },
    runs: { type: 'string', default: '60' },
    customers: { type: 'string', default: '400' },
  },
});
const entryCount = wholeNumber(values.entries, '--entries');
const blockSizes = values.blocks.split(',').map((size) => wholeNumber(size, '--blocks'));
const runCount = wholeNumber(values.runs, '--runs');
const blobCount = wholeNumber(values.blobs, '--blobs');
const customerCount = wholeNumber(values.customers, '--customers');

const runs = Array.from({ length: runCount }, (_, i) => ({
  id: `2026${String((i % 12) + 1).padStart(2, '0')}01T080000000Z-${randomBytes(4).toString('hex')}`,
  at: new Date(Date.UTC(2026, 0, 1 + i, 8)).toISOString(),
}));
const blobs = Array.from(
  { length: blobCount },
  (_, i) =>
    `segments/created=2025-${String((i % 12) + 1).padStart(2, '0')}/${runs[i % runCount]?.id ?? ''}-${String(i).padStart(4, '0')}.ndjson.gz`,
);

/** @type {import('../dist/domain/index-file.js').IndexFileItem[]} */
const items = Array.from({ length: entryCount }, () => {
  const id = randomUUID();
  const run = runs[randomInt(runCount)] ?? { id: '', at: '' };
  const size = randomInt(300, 1200);
  return {
    id,
    version: 1,
    entry: {
      id,
      customer_id: `cust-${String(randomInt(1, customerCount + 1)).padStart(5, '0')}`,
      created_at: new Date(
        Date.UTC(
          2025,
          randomInt(12),
          randomInt(1, 29),
          randomInt(24),
          randomInt(60),
          randomInt(60),
          randomInt(1000),
        ),
      ).toISOString(),
      location: {
        layout: 'segment',
        blob: blobs[randomInt(blobCount)] ?? '',
        offset: randomInt(0, 40_000_000),
        length: randomInt(15_000, 30_000),
        line: { offset: randomInt(0, 65_000), length: size },
      },
      sha256: randomBytes(32).toString('hex'),
      size,
      archived_at: run.at,
      run_id: run.id,
    },
  };
});

console.log(
  `${entryCount} entries, ${blobCount} blobs, ${runCount} runs, ${customerCount} customers, node ${process.version}, ${new Date().toISOString()}`,
);
const rows = blockSizes.map((itemsPerBlock) => {
  let started = performance.now();
  const file = encodeIndexFile(items, { generation: 1, shard: 0, itemsPerBlock });
  const encodeMs = performance.now() - started;
  const sample = file.footer.blocks.slice(0, 50);
  started = performance.now();
  for (const block of sample)
    decodeIndexBlock(
      file.bytes.subarray(block.offset, block.offset + block.length),
      block,
      file.footer,
      'bench',
    );
  const decodeMs = (performance.now() - started) / sample.length;
  const heapBytes = decodedHeapPerItem(file, sample);
  const blockBytes = file.footerOffset / file.footer.blocks.length;
  return {
    'entries a block': itemsPerBlock,
    'bytes an entry': Number((file.bytes.length / entryCount).toFixed(1)),
    'footer bytes': file.bytes.length - file.footerOffset,
    'block bytes (a look-up reads)': Math.round(blockBytes),
    'encode µs an entry': Number(((encodeMs / entryCount) * 1000).toFixed(1)),
    'decode ms a block': Number(decodeMs.toFixed(2)),
    'heap bytes a decoded entry': heapBytes === undefined ? 'needs --expose-gc' : Math.round(heapBytes),
  };
});
console.table(rows);

/**
 * Heap held by decoded blocks, per item: the blocks decoded again and kept, with collections
 * before both measures. Undefined without --expose-gc.
 * @param {import('../dist/domain/index-file.js').EncodedIndexFile} file
 * @param {import('../dist/domain/index-file.js').IndexFileBlock[]} blocks
 */
function decodedHeapPerItem(file, blocks) {
  const gc = /** @type {(() => void) | undefined} */ (globalThis.gc);
  if (!gc) return undefined;
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = blocks.map((block) =>
    decodeIndexBlock(
      file.bytes.subarray(block.offset, block.offset + block.length),
      block,
      file.footer,
      'bench',
    ),
  );
  gc();
  const held = process.memoryUsage().heapUsed - before;
  return held / kept.reduce((sum, items) => sum + items.length, 0);
}
