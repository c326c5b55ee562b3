#!/usr/bin/env node
// Archives the same records once per archive layout, side by side in one run, and prints for each:
// records archived per second, blob write operations and stored (and Cool-tier billed) bytes per
// 1,000 records, and the latency of reading one archived record through the service. Then the
// segment layout's ratios against the record layout, against the targets of issue 5.
//
//   npm run build && node bench/layouts.mjs [--records 20000] [--reads 1000] [--batch-size 100]
//                                           [--backend embedded|azure]
//
// --backend azure starts Azurite and the Cosmos DB test server on loopback (as the tests do).
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createAdapters, createServices } from '../dist/composition-root.js';
import { loadConfig } from '../dist/config.js';
import { newRecordDocument } from '../dist/domain/billing-record.js';
import { sampleRecord } from '../dist/services/sample-records.js';
import { benchStores } from './bench-stores.mjs';

const TARGETS = { speedup: 20, fewerWrites: 500 };
/** Cool, Cold and Archive bill every blob as at least this many bytes. */
const MIN_BILLABLE_BYTES = 128 * 1024;
const LAYOUTS = /** @type {const} */ (['record', 'segment']);

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '20000' },
    reads: { type: 'string', default: '1000' },
    backend: { type: 'string', default: 'embedded' },
    'batch-size': { type: 'string', default: '100' },
  },
});
const recordCount = Number(values.records);
const readCount = Number(values.reads);
const backend = values.backend;
const batchSize = values['batch-size'];
if (!Number.isInteger(recordCount) || recordCount < 1 || !Number.isInteger(readCount) || readCount < 1)
  throw new Error('--records and --reads take whole numbers ≥ 1');
if (backend !== 'embedded' && backend !== 'azure') throw new Error('--backend is embedded or azure');

const logger = pino({ level: 'silent' });

/** The same records for every layout: a year of creation dates, all past the archival threshold. */
function makeDocs() {
  const now = new Date();
  return Array.from({ length: recordCount }, (_, i) =>
    newRecordDocument(sampleRecord(i, now, 100 + (i % 365)), now),
  );
}

/**
 * Counts what reaches the archive store. Instrumentation only: every call goes to the real store.
 * @param {import('../dist/ports/archive-store.js').ArchiveStore} store
 */
function counted(store) {
  const tally = { writes: 0, bytes: 0, manifestBytes: 0, billed: 0 };
  /** @type {import('../dist/ports/archive-store.js').ArchiveStore} */
  const wrapped = {
    init: () => store.init(),
    close: () => store.close(),
    putIfAbsent: async (name, bytes, facts) => {
      const result = await store.putIfAbsent(name, bytes, facts);
      tally.writes += 1;
      tally.bytes += bytes.length;
      if (name.startsWith('manifests/')) tally.manifestBytes += bytes.length;
      tally.billed += Math.max(bytes.length, MIN_BILLABLE_BYTES);
      return result;
    },
    get: (name, range) => store.get(name, range),
    delete: (name) => store.delete(name),
    list: (prefix) => store.list(prefix),
    ping: () => store.ping(),
    tiers: store.tiers,
  };
  return { store: wrapped, tally };
}

/** @param {number[]} sorted @param {number} p */
function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/**
 * @param {'record' | 'segment'} layout
 * @param {ReturnType<typeof makeDocs>} docs
 * @param {() => Promise<{ env: Record<string, string>, remove: () => Promise<void> }>} freshStores
 */
async function measure(layout, docs, freshStores) {
  const stores = await freshStores();
  try {
    const config = loadConfig({
      ...stores.env,
      ARCHIVE_LAYOUT: layout,
      BATCH_SIZE: batchSize,
      LOG_LEVEL: 'silent',
    });
    const built = createAdapters(config.backend, azureAgent ? { cosmosAgent: azureAgent } : {});
    const { store, tally } = counted(built.adapters.store);
    const services = await createServices(config, logger, {
      backend: { ...built, adapters: { ...built.adapters, store } },
    });
    try {
      for (const doc of docs) await built.adapters.live.create(doc);
      const started = performance.now();
      const run = await services.archiver.runOnce();
      const seconds = (performance.now() - started) / 1000;
      if (run.status !== 'succeeded' || run.archived !== docs.length)
        throw new Error(`${layout}: the run did not archive everything: ${JSON.stringify(run)}`);
      const latencies = [];
      for (let i = 0; i < readCount; i++) {
        const id = docs[randomInt(docs.length)]?.id ?? '';
        const t0 = performance.now();
        const view = await services.records.get(id);
        latencies.push(performance.now() - t0);
        if (view.source !== 'archive') throw new Error(`${layout}: ${id} was not read from the archive`);
      }
      latencies.sort((a, b) => a - b);
      const perThousand = 1000 / docs.length;
      return {
        layout,
        recordsPerSecond: docs.length / seconds,
        seconds,
        writesPer1000: tally.writes * perThousand,
        storedBytesPer1000: tally.bytes * perThousand,
        manifestBytesPer1000: tally.manifestBytes * perThousand,
        billedBytesPer1000: tally.billed * perThousand,
        readP50: percentile(latencies, 50),
        readP95: percentile(latencies, 95),
      };
    } finally {
      await services.close();
    }
  } finally {
    await stores.remove();
  }
}

const { freshStores, cosmosAgent: azureAgent, stop: stopAzure } = await benchStores(backend, 'bench');

try {
  const docs = makeDocs();
  const bytes = docs.reduce((sum, doc) => sum + Buffer.byteLength(JSON.stringify(doc)), 0);
  console.log(
    `${docs.length} records (${Math.round(bytes / docs.length)} bytes each on average), BATCH_SIZE ${batchSize}, ${readCount} reads, ${backend} backend, node ${process.version}`,
  );
  const results = [];
  for (const layout of LAYOUTS) results.push(await measure(layout, docs, freshStores));
  console.table(
    results.map((r) => ({
      layout: r.layout,
      'records/s': Math.round(r.recordsPerSecond),
      'run s': Number(r.seconds.toFixed(2)),
      'blob writes /1k': Number(r.writesPer1000.toFixed(2)),
      'stored KiB /1k': Math.round(r.storedBytesPer1000 / 1024),
      'of which manifests': Math.round(r.manifestBytesPer1000 / 1024),
      'Cool-billed KiB /1k': Math.round(r.billedBytesPer1000 / 1024),
      'read p50 ms': Number(r.readP50.toFixed(2)),
      'read p95 ms': Number(r.readP95.toFixed(2)),
    })),
  );
  const [record, segment] = results;
  if (record && segment) {
    const speedup = segment.recordsPerSecond / record.recordsPerSecond;
    const fewerWrites = record.writesPer1000 / segment.writesPer1000;
    const verdict = (/** @type {number} */ value, /** @type {number} */ target) =>
      `${value.toFixed(1)}× (target ≥ ${target}×: ${value >= target ? 'met' : 'NOT met'})`;
    console.log(`segment vs record: archiving ${verdict(speedup, TARGETS.speedup)}`);
    console.log(`segment vs record: blob writes ${verdict(fewerWrites, TARGETS.fewerWrites)} fewer`);
    console.log(
      `segment vs record: stored bytes ${(record.storedBytesPer1000 / segment.storedBytesPer1000).toFixed(1)}× fewer, Cool-billed bytes ${(record.billedBytesPer1000 / segment.billedBytesPer1000).toFixed(0)}× fewer`,
    );
  }
} finally {
  await stopAzure();
}
