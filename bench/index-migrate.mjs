#!/usr/bin/env node
// How long `billing-archive index migrate` takes, and what it asks of the stores: N entries in the
// backend's own index (SQLite, or Cosmos DB on the Azure stand-ins), then a first sync pass (the
// copy), a second (the check that finds nothing to change), and a finish pass from a process on
// ARCHIVE_INDEX=blob, or with `--then abandon` an abandon pass from a process on the old index.
// Prints each pass's time, entries a second, and archive store operations and Cosmos DB requests
// per 1,000 entries. The 10 s a finish or abandon first waits, for processes on the index it
// leaves behind to notice, is left out of the times: it is the same at any size.
//
//   npm run build && node bench/index-migrate.mjs [--entries 100000] [--backend embedded|azure] [--then finish|abandon]
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createAdapters, createServices } from '../dist/composition-root.js';
import { loadConfig } from '../dist/config.js';
import { wholeNumber } from './bench-args.mjs';
import { entryOf } from './bench-entries.mjs';
import { benchStores } from './bench-stores.mjs';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '100000' },
    backend: { type: 'string', default: 'embedded' },
    then: { type: 'string', default: 'finish' },
  },
});
const then = values.then;
if (then !== 'finish' && then !== 'abandon') throw new Error('--then is finish or abandon');
const entryCount = wholeNumber(values.entries, '--entries');
const backend = values.backend;
if (backend !== 'embedded' && backend !== 'azure') throw new Error('--backend is embedded or azure');
/** Entries put into the source index at a time. */
const SEED_BATCH = 1000;

const logger = pino({ level: 'silent' });
const { freshStores, cosmosAgent, stop } = await benchStores(backend, 'migrate');

/**
 * Services over the bench's stores, with or without ARCHIVE_INDEX=blob.
 * @param {Record<string, string>} env
 * @param {boolean} onBlob
 */
async function servicesOn(env, onBlob) {
  const config = loadConfig({ ...env, LOG_LEVEL: 'silent', ...(onBlob && { ARCHIVE_INDEX: 'blob' }) });
  const backendAdapters = createAdapters(config.backend, cosmosAgent ? { cosmosAgent } : {});
  return createServices(config, logger, { backend: backendAdapters, sleep: () => Promise.resolve() });
}

/**
 * One pass, timed, with the requests it made.
 * @param {import('../dist/composition-root.js').Services} services
 * @param {'sync' | 'finish' | 'abandon'} pass
 */
async function timedPass(services, pass) {
  const before = services.usage.totals();
  const started = performance.now();
  const report = await services.migrateIndex({ pass });
  const seconds = (performance.now() - started) / 1000;
  const after = services.usage.totals();
  const per1k = (/** @type {number} */ n) => Number(((n / entryCount) * 1000).toFixed(1));
  return {
    pass,
    seconds: Number(seconds.toFixed(1)),
    'entries/s': Math.round(entryCount / seconds),
    copied: report.tally.copied,
    withdrawn: report.tally.withdrawn,
    'store ops /1k': per1k(after.archive_store.operations - before.archive_store.operations),
    'cosmos requests /1k': per1k(after.cosmos.requests - before.cosmos.requests),
    'counts match': report.counts_match,
  };
}

const stores = await freshStores();
try {
  console.log(
    `${entryCount} entries, ${backend} backend, node ${process.version}, ${new Date().toISOString()}`,
  );
  const old = await servicesOn(stores.env, false);
  const rows = [];
  try {
    // The source index, filled directly: the bench times the migration, not archival.
    const seeded = performance.now();
    const built = createAdapters(loadConfig({ ...stores.env, LOG_LEVEL: 'silent' }).backend, {
      ...(cosmosAgent && { cosmosAgent }),
    });
    await built.adapters.index.init();
    for (let n = 0; n < entryCount; n += SEED_BATCH) {
      const batch = [];
      for (let i = n; i < Math.min(entryCount, n + SEED_BATCH); i++) batch.push(entryOf(randomUUID(), i));
      await built.adapters.index.putMany(batch);
    }
    await built.adapters.index.close();
    await built.release();
    console.log(`seeded the source index in ${((performance.now() - seeded) / 1000).toFixed(1)} s`);
    rows.push(await timedPass(old, 'sync'));
    rows.push(await timedPass(old, 'sync'));
    if (then === 'abandon') rows.push(await timedPass(old, 'abandon'));
  } finally {
    await old.close();
  }
  if (then === 'abandon') {
    console.table(rows);
  } else {
    const switched = await servicesOn(stores.env, true);
    try {
      rows.push(await timedPass(switched, 'finish'));
      const storage = await switched.cost.report({ fresh: true });
      console.log(
        `blob index after: ${storage.archive.index.entries} entries, ${(storage.archive.index.bytes / entryCount).toFixed(1)} bytes an entry`,
      );
    } finally {
      await switched.close();
    }
    console.table(rows);
  }
} finally {
  await stores.remove();
  await stop();
}
