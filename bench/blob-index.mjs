#!/usr/bin/env node
// The blob-native archive index (ARCHIVE_INDEX=blob, issue 15) against the SQLite index, on the
// embedded backend, in the same run: N entries put in batches (as runs commit them), then random
// look-ups by id, cold (a fresh process's index: empty cache) and warm. Prints bytes per entry,
// store operations and bytes written per entry while loading, and look-up latency (p50/p99) with
// the store reads each one took.
//
//   npm run build && node bench/blob-index.mjs [--entries 100000] [--batch 1000] [--lookups 2000]
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { BlobArchiveIndex } from '../dist/adapters/blob-index/blob-archive-index.js';
import { FilesystemArchiveStore } from '../dist/adapters/filesystem/filesystem-archive-store.js';
import { SqliteArchiveIndex } from '../dist/adapters/sqlite/sqlite-archive-index.js';
import { wholeNumber } from './bench-args.mjs';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '1000' },
    lookups: { type: 'string', default: '2000' },
    shards: { type: 'string', default: '16' },
  },
});
const entryCount = wholeNumber(values.entries, '--entries');
const batchSize = wholeNumber(values.batch, '--batch');
const lookupCount = wholeNumber(values.lookups, '--lookups');
const shards = wholeNumber(values.shards, '--shards');

/** Counts the store operations and bytes an index makes. */
class CountingStore {
  /** @param {FilesystemArchiveStore} store */
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

/** Records one archival run archives here: a run seals one segment per creation month. */
const RUN_RECORDS = 20_000;
/**
 * The `n`th archived entry, as the segment layout stores it: runs of 20,000 records, each writing
 * one segment per creation month, so entries name few distinct blobs (600 at 1M entries), as real
 * segments of up to 50,000 records do.
 * @returns {import('../dist/ports/archive-index.js').ArchiveEntry}
 */
function entryOf(/** @type {string} */ id, /** @type {number} */ n) {
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

const dir = await mkdtemp(join(tmpdir(), 'bench-blob-index-'));
try {
  console.log(
    `${entryCount} entries in batches of ${batchSize}, ${shards} shards, ${lookupCount} look-ups, node ${process.version}, ${new Date().toISOString()}`,
  );
  const ids = Array.from({ length: entryCount }, () => randomUUID());
  const batches = [];
  for (let i = 0; i < ids.length; i += batchSize)
    batches.push(ids.slice(i, i + batchSize).map((id, j) => entryOf(id, i + j)));

  const counting = new CountingStore(new FilesystemArchiveStore(join(dir, 'archive')));
  await counting.init();
  const blob = new BlobArchiveIndex(counting, { shards, cacheBytes: 32 * 1024 * 1024 });
  await blob.init();
  let started = performance.now();
  for (const batch of batches) await blob.putMany(batch);
  const blobLoadS = (performance.now() - started) / 1000;
  const loading = { writes: counting.writes, written: counting.written, deletes: counting.deletes };
  const storage = await blob.storage();

  const sqlite = new SqliteArchiveIndex(join(dir, 'index.sqlite'));
  await sqlite.init();
  started = performance.now();
  for (const batch of batches) await sqlite.putMany(batch);
  const sqliteLoadS = (performance.now() - started) / 1000;
  const sqliteStorage = await sqlite.storage();

  // Cold: a fresh index over the same files, as a new process (or replica) starts.
  const cold = new BlobArchiveIndex(counting, { shards, cacheBytes: 32 * 1024 * 1024 });
  await cold.init();
  const blobCold = await lookUps(cold, ids, counting);
  const blobWarm = await lookUps(cold, ids, counting);
  const sqliteLookups = await lookUps(sqlite, ids, undefined);

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
      index: 'SQLite',
      'bytes an entry': Number((sqliteStorage.bytes / entryCount).toFixed(1)),
      'load s': Number(sqliteLoadS.toFixed(1)),
      'warm p50 ms': sqliteLookups.p50,
      'warm p99 ms': sqliteLookups.p99,
    },
  ]);
  await cold.close();
  await blob.close();
  await sqlite.close();
  await counting.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
