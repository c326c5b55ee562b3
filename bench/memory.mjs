#!/usr/bin/env node
// What an archival run keeps in memory: seeds N records of about --kb KB into fresh embedded stores,
// then runs `billing-archive archive` in its own process (as a worker would) and prints its peak RSS
// and peak heap use. The run is also made under a V8 heap cap (--heap-mb) to show it fits there.
//
//   npm run build && node bench/memory.mjs [--counts 10000,100000,1000000] [--kb 1]
//                                          [--segment-records 50000] [--heap-mb 0]
//
// --segment-records takes several values (5000,20000,50000) to show how the heap an open segment
// needs grows with SEGMENT_MAX_RECORDS; --heap-mb 0 leaves V8's default heap limit.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createAdapters } from '../dist/composition-root.js';
import { loadConfig } from '../dist/config.js';
import { invoiceOfSize } from './bench-records.mjs';

const { values } = parseArgs({
  options: {
    counts: { type: 'string', default: '10000,100000,1000000' },
    kb: { type: 'string', default: '1' },
    'segment-records': { type: 'string', default: '50000' },
    'heap-mb': { type: 'string', default: '0' },
  },
});
const counts = values.counts.split(',').map(Number);
const kb = Number(values.kb);
const segmentRecords = values['segment-records'].split(',').map(Number);
const heapMb = Number(values['heap-mb']);
if (counts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--counts are whole numbers ≥ 1');
if (!(kb > 0 && kb <= 60)) throw new Error('--kb is between 0 and 60');
if (segmentRecords.some((n) => !Number.isInteger(n) || n < 1))
  throw new Error('--segment-records are whole numbers ≥ 1');
if (!Number.isInteger(heapMb) || heapMb < 0) throw new Error('--heap-mb is a whole number ≥ 0');

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const PRELOAD = fileURLToPath(new URL('./peak-memory.mjs', import.meta.url));
const MB = 1024 * 1024;

/**
 * Creates `count` invoices in the embedded live store under `dir`, a thousand per transaction's worth.
 * @param {string} dir
 * @param {number} count
 */
async function seed(dir, count) {
  const config = loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent' });
  const built = createAdapters(config.backend, {});
  await built.adapters.live.init();
  try {
    const now = new Date();
    for (let i = 0; i < count; i += 1) await built.adapters.live.create(invoiceOfSize(i, now, kb));
  } finally {
    await built.adapters.live.close();
    await built.release();
  }
}

/**
 * One `billing-archive archive` in its own process; its run summary and peak memory.
 * @param {string} dir
 * @param {number} maxRecords
 * @returns {Promise<{ code: number | null, archived: number, seconds: number, maxRssBytes: number, peakHeapUsedBytes: number }>}
 */
async function archive(dir, maxRecords) {
  const peakFile = join(dir, 'peak-memory.json');
  const args = [
    ...(heapMb > 0 ? [`--max-old-space-size=${heapMb}`] : []),
    '--import',
    PRELOAD,
    CLI,
    '--json',
    'archive',
  ];
  const child = spawn(process.execPath, args, {
    env: {
      PATH: process.env.PATH ?? '',
      DATA_DIR: dir,
      SEGMENT_MAX_RECORDS: String(maxRecords),
      LOG_LEVEL: 'silent',
      PEAK_MEMORY_FILE: peakFile,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.on('data', (chunk) => (stdout += String(chunk)));
  const started = performance.now();
  /** @type {number | null} */
  const code = await new Promise((resolve) => {
    child.on('close', resolve);
  });
  const seconds = (performance.now() - started) / 1000;
  /** @type {{ archived?: number }} */
  let run = {};
  try {
    /** @type {unknown} */
    const parsed = JSON.parse(stdout);
    run = /** @type {{ archived?: number }} */ (parsed);
  } catch {
    // A run that ran out of heap prints no summary; its exit code says so.
  }
  /** @type {unknown} */
  const measured = JSON.parse(
    await readFile(peakFile, 'utf8').catch(() => '{"maxRssBytes":0,"peakHeapUsedBytes":0}'),
  );
  const peak = /** @type {{ maxRssBytes: number, peakHeapUsedBytes: number }} */ (measured);
  return { code, archived: run.archived ?? 0, seconds, ...peak };
}

const rows = [];
console.log(
  `${kb} KB records, embedded backend, ${heapMb > 0 ? `heap capped at ${heapMb} MB` : "V8's default heap limit"}, node ${process.version}, ${new Date().toISOString()}`,
);
for (const count of counts) {
  for (const maxRecords of segmentRecords) {
    const dir = await mkdtemp(join(tmpdir(), 'billing-archive-memory-'));
    try {
      const seedStarted = performance.now();
      await seed(dir, count);
      console.log(`  seeded ${count} records in ${((performance.now() - seedStarted) / 1000).toFixed(0)} s`);
      const result = await archive(dir, maxRecords);
      rows.push({
        records: count,
        SEGMENT_MAX_RECORDS: maxRecords,
        exit: result.code,
        archived: result.archived,
        seconds: Math.round(result.seconds),
        'peak RSS MB': Math.round(result.maxRssBytes / MB),
        'peak heap MB': Math.round(result.peakHeapUsedBytes / MB),
      });
      console.log(`  ${JSON.stringify(rows.at(-1))}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
console.table(rows);
