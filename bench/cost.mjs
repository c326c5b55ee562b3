#!/usr/bin/env node
// What an archived record costs, measured: archives the same records once per layout and record
// size, one run each, and prints per archived record the bytes left in every place (live document,
// archive index, segment or record blob, manifest, and what Cool/Cold/Archive bill with their
// 128 KiB minimum per blob), the Cosmos DB requests and request units the run spent, the archive
// store operations, and records archived per second.
//
//   npm run build && node bench/cost.mjs [--records 100000] [--sizes 0.3,1,4] [--layouts segment,record]
//                                        [--backend embedded|azure] [--batch-size 100] [--indexes native,blob]
//                                        [--after-days 100]
//
// --indexes native,blob runs each case on the backend's own index (SQLite, Cosmos DB) and on
// ARCHIVE_INDEX=blob; "share of live" is the cost model's archived_cost_share_of_live right after
// the run (blobs in their upload tier, before the lifecycle policy cools them).
//
// --after-days N prices the archive again as it stands N days later under infra/blob-lifecycle-policy.json:
// on Azurite the policy is applied (`lifecycle simulate`), on the embedded backend the cost model
// gives each blob the tier the policy would by then. "share after" is that second figure.
//
// --backend azure starts Azurite and the Cosmos DB test server on loopback (as the tests do). The
// test server charges 1 RU for every request, so the RU it reports only count requests; the
// "modelled RU" column prices the run's operations with Cosmos DB's published charges instead
// (https://learn.microsoft.com/azure/cosmos-db/understand-request-unit-consumption: a 1 KB point
// read 1.00 RU, a 1 KB write 4.95, 2 KB 1.04 / 6.29, 4 KB 1.14 / 6.67; a delete priced as a write,
// a batch as the sum of its operations, a query as a point read of each document it returns).
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createAdapters, createServices } from '../dist/composition-root.js';
import { loadConfig } from '../dist/config.js';
import { loadLifecyclePolicy, policyForContainer } from '../dist/lifecycle/lifecycle-policy.js';
import { invoiceOfSize } from './bench-records.mjs';
import { benchStores, seedCosmos } from './bench-stores.mjs';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Cool, Cold and Archive bill every blob as at least this many bytes. */
const MIN_BILLABLE_BYTES = 128 * 1024;
/** Published RU per operation by document size in KB (see the header). @type {[number, number][]} */
const READ_RU = [
  [1, 1.0],
  [2, 1.04],
  [4, 1.14],
];
/** @type {[number, number][]} */
const WRITE_RU = [
  [1, 4.95],
  [2, 6.29],
  [4, 6.67],
];
/** The system properties Cosmos DB adds to every stored document (`_rid`, `_self`, `_etag`, `_attachments`, `_ts`). */
const COSMOS_SYSTEM_BYTES = 160;

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '100000' },
    sizes: { type: 'string', default: '0.3,1,4' },
    layouts: { type: 'string', default: 'segment,record' },
    backend: { type: 'string', default: 'embedded' },
    'batch-size': { type: 'string', default: '100' },
    indexes: { type: 'string', default: 'native' },
    'after-days': { type: 'string' },
  },
});
const recordCount = Number(values.records);
const sizes = values.sizes.split(',').map(Number);
const layouts = values.layouts.split(',');
const backend = values.backend;
const batchSize = values['batch-size'];
const indexes = values.indexes.split(',');
if (indexes.some((kind) => kind !== 'native' && kind !== 'blob'))
  throw new Error('--indexes are native and blob');
if (!Number.isInteger(recordCount) || recordCount < 1) throw new Error('--records takes a whole number ≥ 1');
if (sizes.some((kb) => !(kb > 0 && kb <= 60))) throw new Error('--sizes are KB between 0 and 60');
if (layouts.some((layout) => layout !== 'segment' && layout !== 'record'))
  throw new Error('--layouts are segment and record');
if (backend !== 'embedded' && backend !== 'azure') throw new Error('--backend is embedded or azure');
const afterDays = values['after-days'] === undefined ? undefined : Number(values['after-days']);
if (afterDays !== undefined && !(Number.isInteger(afterDays) && afterDays >= 1))
  throw new Error('--after-days takes a whole number ≥ 1');

const logger = pino({ level: 'silent' });
const lifecyclePolicyFile = new URL('../infra/blob-lifecycle-policy.json', import.meta.url);

/** @typedef {import('../dist/domain/billing-record.js').RecordDocument} RecordDocument */
/** @typedef {import('../dist/composition-root.js').BackendAdapters} BackendAdapters */
/** @typedef {import('../dist/config.js').Config} Config */
/** @typedef {import('../dist/domain/usage.js').Usage} Usage */
/** @typedef {{ env: Record<string, string>, remove: () => Promise<void> }} Stores */

/**
 * `recordCount` invoices of about `kb` KB.
 * @param {number} kb
 * @returns {RecordDocument[]}
 */
function makeDocs(kb) {
  const now = new Date();
  return Array.from({ length: recordCount }, (_, i) => invoiceOfSize(i, now, kb));
}

/**
 * Interpolated published charge for a document of `bytes`.
 * @param {[number, number][]} table
 * @param {number} bytes
 */
function ru(table, bytes) {
  const kb = Math.max(1, bytes / 1024);
  let [lastKb, lastRu] = table[0] ?? [1, 1];
  if (kb <= lastKb) return lastRu;
  for (const [atKb, atRu] of table.slice(1)) {
    if (kb <= atKb) return lastRu + ((atRu - lastRu) * (kb - lastKb)) / (atKb - lastKb);
    [lastKb, lastRu] = [atKb, atRu];
  }
  return lastRu * (kb / lastKb);
}

/**
 * @param {BackendAdapters} built
 * @param {RecordDocument[]} docs
 * @param {{ endpoint: string, key?: string | undefined, database: string, container: string } | false} cosmos
 */
async function seed(built, docs, cosmos) {
  if (!cosmos) {
    for (const doc of docs) await built.adapters.live.create(doc);
    return;
  }
  if (!azureAgent) throw new Error('the Azure backend needs the Cosmos DB agent');
  await seedCosmos(cosmos, docs, azureAgent);
}

/**
 * Bytes of the archive index: its documents as Cosmos DB stores them, or the SQLite file.
 * @param {BackendAdapters} built
 * @param {Config} config
 * @param {string | undefined} dataDir
 */
async function indexBytes(built, config, dataDir) {
  if (config.backend.kind === 'embedded') {
    let bytes = 0;
    for (const suffix of ['', '-wal']) {
      bytes += await stat(join(dataDir ?? '.', `archive-index.sqlite${suffix}`)).then(
        (s) => s.size,
        () => 0,
      );
    }
    return bytes;
  }
  let bytes = 0;
  /** @type {string | undefined} */
  let afterId;
  for (;;) {
    const page = await built.adapters.index.list({ limit: 1000, ...(afterId && { afterId }) });
    // The document as the adapter writes it (the etag is a system property, counted below).
    for (const entry of page)
      bytes +=
        Buffer.byteLength(JSON.stringify({ ...entry, etag: undefined, type: 'entry' })) + COSMOS_SYSTEM_BYTES;
    if (page.length < 1000) return bytes;
    afterId = page.at(-1)?.id;
  }
}

/**
 * @param {string} layout
 * @param {string} indexKind
 * @param {number} kb
 * @param {RecordDocument[]} docs
 * @param {() => Promise<Stores>} freshStores
 */
async function measure(layout, indexKind, kb, docs, freshStores) {
  const stores = await freshStores();
  try {
    const config = loadConfig({
      ...stores.env,
      ARCHIVE_LAYOUT: layout,
      BATCH_SIZE: batchSize,
      LOG_LEVEL: 'silent',
      ...(indexKind === 'blob' && { ARCHIVE_INDEX: 'blob' }),
    });
    const blobIndex = config.backend.archiveIndex.kind === 'blob';
    // Moved on by --after-days once the run is priced, so the archive is priced again as it ages.
    let offsetMs = 0;
    const clock = () => new Date(Date.now() + offsetMs);
    const built = createAdapters(config.backend, { ...(azureAgent && { cosmosAgent: azureAgent }), clock });
    const services = await createServices(config, logger, { backend: built, clock });
    /** @type {{ layout: string, kb: number, seconds: number, recordsPerSecond: number, liveBytes: number, blobs: { segment: number, manifest: number, record: number, billed: number, count: number }, usage: Usage, modelledRu: number | undefined, indexBytes: number, share: number | null, shareAfter: number | null | undefined }} */
    let result;
    try {
      await seed(built, docs, config.backend.kind === 'azure' && config.backend.cosmos);
      const started = performance.now();
      const run = await services.archiver.runOnce();
      const seconds = (performance.now() - started) / 1000;
      if (run.status !== 'succeeded' || run.archived !== docs.length)
        throw new Error(
          `${layout}: the run did not archive everything: ${JSON.stringify(run).slice(0, 2000)}`,
        );
      const blobs = { segment: 0, manifest: 0, record: 0, billed: 0, count: 0 };
      for (const prefix of ['segments/', 'manifests/', 'records/']) {
        for await (const blob of built.adapters.store.list(prefix)) {
          blobs.count += 1;
          blobs.billed += Math.max(blob.size, MIN_BILLABLE_BYTES);
          if (blob.name.startsWith('manifests/')) blobs.manifest += blob.size;
          else if (blob.name.startsWith('segments/')) blobs.segment += blob.size;
          else blobs.record += blob.size;
        }
      }
      const liveBytes = docs.reduce((sum, doc) => sum + Buffer.byteLength(JSON.stringify(doc)), 0);
      const index = blobIndex
        ? (await built.adapters.index.storage()).bytes
        : config.backend.kind === 'azure'
          ? await indexBytes(built, config, undefined)
          : undefined;
      const usage = run.usage;
      if (!usage) throw new Error('the run counted no usage');
      const pointReads = Object.entries(usage.cosmos.by_kind)
        .filter(([kind]) => kind.endsWith('/read'))
        .reduce((sum, [, calls]) => sum + calls.requests, 0);
      const entryBytes = index === undefined ? 0 : index / docs.length;
      const meanDoc = liveBytes / docs.length;
      // A blob-native index writes no Cosmos DB document for an entry.
      const modelledRu =
        ru(READ_RU, meanDoc) +
        (blobIndex ? 0 : ru(WRITE_RU, entryBytes)) +
        ru(WRITE_RU, meanDoc) +
        (pointReads / docs.length) * 1;
      const share = (await services.cost.report({ fresh: true })).archived_cost_share_of_live;
      let shareAfter;
      if (afterDays !== undefined) {
        offsetMs = afterDays * DAY_MS;
        if (services.simulateLifecycle) {
          const container =
            config.backend.kind === 'azure' ? config.backend.blob.container : 'billing-archive';
          const policy = policyForContainer(await loadLifecyclePolicy(lifecyclePolicyFile), container);
          await services.simulateLifecycle({ policy, days: 0, dryRun: false });
        }
        shareAfter = (await services.cost.report({ fresh: true })).archived_cost_share_of_live;
      }
      result = {
        layout,
        kb,
        seconds,
        recordsPerSecond: docs.length / seconds,
        liveBytes: meanDoc,
        blobs,
        usage,
        modelledRu: config.backend.kind === 'azure' ? modelledRu : undefined,
        indexBytes: index ?? 0,
        share,
        shareAfter,
      };
    } finally {
      await services.close();
    }
    if (config.backend.kind === 'embedded' && !blobIndex)
      result.indexBytes = await indexBytes(built, config, stores.env.DATA_DIR);
    return result;
  } finally {
    await stores.remove();
  }
}

const { freshStores, cosmosAgent: azureAgent, stop: stopAzure } = await benchStores(backend, 'cost');

try {
  console.log(
    `${recordCount} records per run, BATCH_SIZE ${batchSize}, ${backend} backend, node ${process.version}, ${new Date().toISOString()}`,
  );
  const rows = [];
  for (const kb of sizes) {
    const docs = makeDocs(kb);
    for (const layout of layouts)
      for (const indexKind of indexes) {
        const r = await measure(layout, indexKind, kb, docs, freshStores);
        const per = (/** @type {number} */ value) => value / recordCount;
        const round = (/** @type {number} */ value, digits = 1) => Number(value.toFixed(digits));
        rows.push({
          size: `${kb} KB`,
          layout: r.layout,
          index: indexKind,
          'live B': Math.round(r.liveBytes),
          'index B': Math.round(per(r.indexBytes)),
          'data B': Math.round(per(r.blobs.segment + r.blobs.record)),
          'manifest B': Math.round(per(r.blobs.manifest)),
          'manifest/data': r.blobs.segment ? round(r.blobs.manifest / r.blobs.segment, 2) : '-',
          'billed B (cool+)': Math.round(per(r.blobs.billed)),
          'cosmos req': round(per(r.usage.cosmos.requests), 3),
          'RU (server)': round(per(r.usage.cosmos.request_units), 2),
          'RU (modelled)': r.modelledRu === undefined ? '-' : round(r.modelledRu, 2),
          'store ops /1k': round(per(r.usage.archive_store.operations) * 1000, 1),
          'records/s': Math.round(r.recordsPerSecond),
          'share of live %': r.share === null ? '-' : round(r.share * 100, 2),
          ...(afterDays !== undefined && {
            [`share after ${afterDays} d %`]: r.shareAfter == null ? '-' : round(r.shareAfter * 100, 2),
          }),
        });
        console.log(
          `  ${kb} KB ${layout} ${indexKind}: ${JSON.stringify({ cosmos: r.usage.cosmos.by_kind, store: r.usage.archive_store.by_kind })}`,
        );
      }
  }
  console.log('per archived record:');
  console.table(rows);
} finally {
  await stopAzure();
}
