#!/usr/bin/env node
// The blob-native archive index (ARCHIVE_INDEX=blob, issue 15) against the SQLite index, on the
// embedded backend, in the same run: N entries put in batches (as runs commit them), then random
// look-ups by id, cold (a fresh process's index: empty cache) and warm. Prints bytes per entry,
// store operations and bytes written per entry while loading, and look-up latency (p50/p99) with
// the store reads each one took.
//
//   npm run build && node bench/blob-index.mjs [--entries 100000] [--batch 1000] [--lookups 2000]
//                                              [--backend embedded|azure]
//
// --backend azure puts the blob index in Azurite and compares it with the Cosmos DB index on the
// Cosmos DB test server (both on loopback, started as the tests start them).
import { randomInt, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { BlobArchiveIndex } from '../dist/adapters/blob-index/blob-archive-index.js';
import { FilesystemArchiveStore } from '../dist/adapters/filesystem/filesystem-archive-store.js';
import { SqliteArchiveIndex } from '../dist/adapters/sqlite/sqlite-archive-index.js';
import { createAdapters } from '../dist/composition-root.js';
import { loadConfig } from '../dist/config.js';
import { wholeNumber } from './bench-args.mjs';
import { benchStores } from './bench-stores.mjs';
import { entryOf } from './bench-entries.mjs';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '1000' },
    lookups: { type: 'string', default: '2000' },
    shards: { type: 'string', default: '16' },
    backend: { type: 'string', default: 'embedded' },
  },
});
const backend = values.backend;
if (backend !== 'embedded' && backend !== 'azure') throw new Error('--backend is embedded or azure');
const entryCount = wholeNumber(values.entries, '--entries');
const batchSize = wholeNumber(values.batch, '--batch');
const lookupCount = wholeNumber(values.lookups, '--lookups');
const shards = wholeNumber(values.shards, '--shards');

/** Counts the store operations and bytes an index makes. */
class CountingStore {
  /** @param {import("../dist/ports/archive-store.js").ArchiveStore} store */
  constructor(store) {
    this.store = store;
    this.reads = 0;
    this.writes = 0;
    this.written = 0;
    this.deletes = 0;
  }
  init() {
    return this.store.init();
  }
  close() {
    return this.store.close();
  }
  /** @param {string} name @param {Uint8Array} bytes @param {import('../dist/ports/archive-store.js').BlobFacts} facts */
  putIfAbsent(name, bytes, facts) {
    this.writes += 1;
    this.written += bytes.length;
    return this.store.putIfAbsent(name, bytes, facts);
  }
  /** @param {string} name @param {import('../dist/ports/archive-store.js').ByteRange} [range] */
  get(name, range) {
    this.reads += 1;
    return this.store.get(name, range);
  }
  /** @param {string} name */
  delete(name) {
    this.deletes += 1;
    return this.store.delete(name);
  }
  /** @param {string} prefix */
  list(prefix) {
    return this.store.list(prefix);
  }
  ping() {
    return this.store.ping();
  }
}

/** p50 and p99 of the look-up times, in ms. */
function percentiles(/** @type {number[]} */ times) {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (/** @type {number} */ q) =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: Number(at(0.5).toFixed(3)), p99: Number(at(0.99).toFixed(3)) };
}

/** Looks up random ids one at a time; returns latencies, and store reads per look-up when counted. */
async function lookUps(
  /** @type {import('../dist/ports/archive-index.js').ArchiveIndex} */ index,
  /** @type {string[]} */ ids,
  /** @type {CountingStore | undefined} */ counting,
) {
  const times = [];
  const readsBefore = counting?.reads ?? 0;
  for (let i = 0; i < lookupCount; i++) {
    const id = ids[randomInt(ids.length)] ?? '';
    const started = performance.now();
    const entry = await index.get(id);
    times.push(performance.now() - started);
    if (entry?.id !== id) throw new Error(`look-up of ${id} found ${entry?.id ?? 'nothing'}`);
  }
  const reads = counting ? (counting.reads - readsBefore) / lookupCount : undefined;
  return { ...percentiles(times), reads };
}

/**
 * The archive store the blob index is kept in, and the backend's own index to compare it with.
 * @returns {Promise<{ store: import('../dist/ports/archive-store.js').ArchiveStore, native: import('../dist/ports/archive-index.js').ArchiveIndex, nativeName: string, release: () => Promise<void> }>}
 */
async function stores() {
  if (backend === 'embedded') {
    const dir = await mkdtemp(join(tmpdir(), 'bench-blob-index-'));
    return {
      store: new FilesystemArchiveStore(join(dir, 'archive')),
      native: new SqliteArchiveIndex(join(dir, 'index.sqlite')),
      nativeName: 'SQLite',
      release: () => rm(dir, { recursive: true, force: true }),
    };
  }
  const azure = await benchStores('azure', 'blobindex');
  const fresh = await azure.freshStores();
  const built = createAdapters(loadConfig({ ...fresh.env, LOG_LEVEL: 'silent' }).backend, {
    ...(azure.cosmosAgent && { cosmosAgent: azure.cosmosAgent }),
  });
  return {
    store: built.adapters.store,
    native: built.adapters.index,
    nativeName: 'Cosmos DB',
    release: async () => {
      await built.release();
      await azure.stop();
    },
  };
}

const { store, native, nativeName, release } = await stores();
try {
  console.log(
    `${entryCount} entries in batches of ${batchSize}, ${shards} shards, ${lookupCount} look-ups, ${backend} backend, node ${process.version}, ${new Date().toISOString()}`,
  );
  const ids = Array.from({ length: entryCount }, () => randomUUID());
  const batches = [];
  for (let i = 0; i < ids.length; i += batchSize)
    batches.push(ids.slice(i, i + batchSize).map((id, j) => entryOf(id, i + j)));

  const counting = new CountingStore(store);
  await counting.init();
  const blob = new BlobArchiveIndex(counting, { shards, cacheBytes: 32 * 1024 * 1024 });
  await blob.init();
  let started = performance.now();
  for (const batch of batches) await blob.putMany(batch);
  const blobLoadS = (performance.now() - started) / 1000;
  const loading = { writes: counting.writes, written: counting.written, deletes: counting.deletes };
  const storage = await blob.storage();

  await native.init();
  started = performance.now();
  for (const batch of batches) await native.putMany(batch);
  const nativeLoadS = (performance.now() - started) / 1000;
  const nativeStorage = await native.storage();

  // Cold: a fresh index over the same files, as a new process (or replica) starts.
  const cold = new BlobArchiveIndex(counting, { shards, cacheBytes: 32 * 1024 * 1024 });
  await cold.init();
  const blobCold = await lookUps(cold, ids, counting);
  const blobWarm = await lookUps(cold, ids, counting);
  const nativeLookups = await lookUps(native, ids, undefined);

  console.table([
    {
      index: 'blob (files in the archive store)',
      'bytes an entry': Number((storage.bytes / entryCount).toFixed(1)),
      'load s': Number(blobLoadS.toFixed(1)),
      'writes an entry': Number((loading.writes / entryCount).toFixed(4)),
      'bytes written an entry': Math.round(loading.written / entryCount),
      'cold p50 ms': blobCold.p50,
      'cold p99 ms': blobCold.p99,
      'cold reads a look-up': Number((blobCold.reads ?? 0).toFixed(2)),
      'warm p50 ms': blobWarm.p50,
      'warm p99 ms': blobWarm.p99,
      'warm reads a look-up': Number((blobWarm.reads ?? 0).toFixed(2)),
    },
    {
      index: nativeName,
      'bytes an entry': Number((nativeStorage.bytes / entryCount).toFixed(1)),
      'load s': Number(nativeLoadS.toFixed(1)),
      'warm p50 ms': nativeLookups.p50,
      'warm p99 ms': nativeLookups.p99,
    },
  ]);
  await cold.close();
  await blob.close();
  await native.close();
  await counting.close();
} finally {
  await release();
}
