#!/usr/bin/env node
// Does archival take latency from live traffic, and does ARCHIVAL_MAX_RU_PER_SECOND give it back?
// On the Azure stand-ins (Azurite and the Cosmos DB test server, on loopback), the built server
// answers GET /billing/{id} for recent records to concurrent readers, in three phases on fresh
// stores each: idle; while an archival run (the built CLI, a separate process as a worker would be)
// moves the old records; and while the same run keeps within a budget of a share of the request
// units a second the unbudgeted run spent. Prints read latency percentiles and rates per phase,
// against idle, and each run's pace.
//
//   npm run build && node bench/live-latency.mjs [--records 8000] [--live 2000] [--readers 8]
//                                                [--budget-share 0.25] [--idle-seconds 20] [--kb 1]
//
// The test server charges 1 RU a request (a bulk request of 100 operations included), so the budget
// there is one of requests a second; on Cosmos DB it is of real request units. Beyond ~10,000 old
// records the test server's eligible-records query outlasts the SDK's 10 s timeout while readers run.
import { createHistogram, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { newRecordDocument } from '../dist/domain/billing-record.js';
import { sampleRecord } from '../dist/services/sample-records.js';
import { parseJson } from '../test/helpers/soak/json.mjs';
import { createKey, runCli, startServer } from '../test/helpers/soak/processes.mjs';
import { invoiceOfSize } from './bench-records.mjs';
import { benchStores, seedCosmos } from './bench-stores.mjs';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '8000' },
    live: { type: 'string', default: '2000' },
    readers: { type: 'string', default: '8' },
    'budget-share': { type: 'string', default: '0.25' },
    'idle-seconds': { type: 'string', default: '20' },
    kb: { type: 'string', default: '1' },
  },
});

/**
 * @param {string} flag
 * @param {(value: number) => boolean} valid
 * @param {string} says
 */
function option(flag, valid, says) {
  const value = Number(values[/** @type {keyof typeof values} */ (flag)]);
  if (!valid(value)) throw new Error(`--${flag} takes ${says}`);
  return value;
}
const whole = (/** @type {number} */ n) => Number.isInteger(n) && n >= 1;
const archivedCount = option('records', whole, 'a whole number ≥ 1');
const liveCount = option('live', whole, 'a whole number ≥ 1');
const readers = option('readers', whole, 'a whole number ≥ 1');
const budgetShare = option('budget-share', (n) => n > 0 && n < 1, 'a share between 0 and 1');
const idleSeconds = option('idle-seconds', (n) => n > 0, 'seconds > 0');
const kb = option('kb', (n) => n > 0 && n <= 60, 'KB between 0 and 60');

const serverPath = fileURLToPath(new URL('../dist/server.js', import.meta.url));
const cliPath = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

/**
 * @typedef {object} Reads
 * @property {number} count answered 200
 * @property {number} failed any other answer, or none
 * @property {number} seconds
 * @property {import('node:perf_hooks').RecordableHistogram} micros latency of the answered ones
 */

/**
 * @typedef {object} RunFigures
 * @property {number} archived
 * @property {number} seconds
 * @property {number} requestUnits
 * @property {number} throttledSeconds
 */

/**
 * Readers asking for random ids until `until` settles; then their figures.
 * @param {string} base
 * @param {string} key
 * @param {string[]} ids
 * @param {Promise<unknown>} until
 * @returns {Promise<Reads>}
 */
async function readWhile(base, key, ids, until) {
  let stop = false;
  const micros = createHistogram();
  let count = 0;
  let failed = 0;
  const started = performance.now();
  const reader = async () => {
    while (!stop) {
      const id = ids[Math.floor(Math.random() * ids.length)] ?? '';
      const sent = performance.now();
      try {
        const response = await fetch(`${base}/billing/${id}`, {
          headers: { authorization: `Bearer ${key}` },
        });
        await response.arrayBuffer();
        if (response.status === 200) {
          micros.record(Math.max(1, Math.round((performance.now() - sent) * 1000)));
          count += 1;
        } else failed += 1;
      } catch {
        failed += 1;
      }
    }
  };
  const running = Array.from({ length: readers }, reader);
  try {
    await until;
  } finally {
    stop = true;
    await Promise.all(running);
  }
  return { count, failed, seconds: (performance.now() - started) / 1000, micros };
}

/**
 * The built CLI's archival run, with `env` added; its figures from the summary it prints.
 * @param {Record<string, string>} env
 * @returns {Promise<RunFigures>}
 */
async function archivalRun(env) {
  const result = await runCli(cliPath, ['archive'], { ...env, LOG_LEVEL: 'warn' });
  if (result.code !== 0) throw new Error(`archive exited with ${String(result.code)}: ${result.stderr}`);
  const run =
    /** @type {{ status: string, archived: number, started_at: string, finished_at: string | null, throttled_ms?: number, usage?: { cosmos: { request_units: number } } }} */ (
      parseJson(result.stdout)
    );
  if (run.status !== 'succeeded' || run.archived !== archivedCount)
    throw new Error(`the run did not archive every old record: ${result.stdout.slice(0, 2000)}`);
  if (!run.usage || !run.finished_at)
    throw new Error(`the run reported no usage or end: ${result.stdout.slice(0, 2000)}`);
  return {
    archived: run.archived,
    // The run's own time, without the CLI's start-up, so RU/s is what the run spent.
    seconds: (Date.parse(run.finished_at) - Date.parse(run.started_at)) / 1000,
    requestUnits: run.usage.cosmos.request_units,
    throttledSeconds: (run.throttled_ms ?? 0) / 1000,
  };
}

const { freshStores, cosmosAgent, stop } = await benchStores('azure', 'latency');
if (!cosmosAgent) throw new Error('the Azure stand-ins came without a Cosmos DB agent');
const agent = cosmosAgent;

/**
 * One phase on fresh stores: a server, old records to archive and recent ones to read, a warm-up,
 * then reads while `during` runs.
 * @param {string} apiKeys
 * @param {string} key
 * @param {(env: Record<string, string>) => Promise<RunFigures | undefined>} during
 */
async function phase(apiKeys, key, during) {
  const { env } = await freshStores();
  const server = await startServer(serverPath, { ...env, API_KEYS: apiKeys });
  try {
    const now = new Date();
    const old = Array.from({ length: archivedCount }, (_, i) => invoiceOfSize(i, now, kb));
    const recent = Array.from({ length: liveCount }, (_, i) =>
      newRecordDocument(sampleRecord(archivedCount + i, now, 1), now),
    );
    const cosmos = {
      endpoint: env.COSMOS_ENDPOINT ?? '',
      key: env.COSMOS_KEY,
      database: env.COSMOS_DATABASE ?? '',
      container: 'records',
    };
    await seedCosmos(cosmos, [...old, ...recent], agent);
    const ids = recent.map((doc) => doc.id);
    // Warm-up: connections, JIT, the server's caches.
    await readWhile(server.base, key, ids, new Promise((resolve) => setTimeout(resolve, 3000)));
    /** @type {RunFigures | undefined} */
    let run;
    const reads = await readWhile(
      server.base,
      key,
      ids,
      during(env).then((figures) => (run = figures)),
    );
    return { reads, run };
  } finally {
    await server.stop();
  }
}

try {
  console.log(
    `${archivedCount} records of ~${kb} KB archived, ${liveCount} recent ones read by ${readers} readers, node ${process.version}, ${new Date().toISOString()}`,
  );
  const reader = await createKey(cliPath, 'latency-reader', 'reader');
  const idle = await phase(reader.entry, reader.key, async () => {
    await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
    return undefined;
  });
  const unbudgeted = await phase(reader.entry, reader.key, archivalRun);
  if (!unbudgeted.run) throw new Error('the unbudgeted phase ran no archival run');
  const spentPerSecond = unbudgeted.run.requestUnits / unbudgeted.run.seconds;
  const budget = Math.max(1, Math.round(spentPerSecond * budgetShare));
  const budgeted = await phase(reader.entry, reader.key, (env) =>
    archivalRun({ ...env, ARCHIVAL_MAX_RU_PER_SECOND: String(budget) }),
  );

  const ms = (/** @type {number} */ micros) => Number((micros / 1000).toFixed(2));
  const idleP50 = idle.reads.micros.percentile(50);
  const idleP99 = idle.reads.micros.percentile(99);
  const rows = [
    ['idle', idle],
    ['archival run', unbudgeted],
    [`run, budget ${budget} RU/s`, budgeted],
  ].map(([name, figures]) => {
    const { reads, run } = /** @type {{ reads: Reads, run: RunFigures | undefined }} */ (figures);
    const p50 = reads.micros.percentile(50);
    const p99 = reads.micros.percentile(99);
    return {
      phase: name,
      seconds: Number(reads.seconds.toFixed(1)),
      'reads/s': Math.round(reads.count / reads.seconds),
      'p50 ms': ms(p50),
      'p90 ms': ms(reads.micros.percentile(90)),
      'p99 ms': ms(p99),
      'max ms': ms(reads.micros.max),
      'p50 ×idle': Number((p50 / idleP50).toFixed(2)),
      'p99 ×idle': Number((p99 / idleP99).toFixed(2)),
      'failed reads': reads.failed,
      'run records/s': run ? Math.round(run.archived / run.seconds) : '-',
      'run RU/s': run ? Number((run.requestUnits / run.seconds).toFixed(1)) : '-',
      'throttled s': run ? Number(run.throttledSeconds.toFixed(1)) : '-',
    };
  });
  console.table(rows);
} finally {
  agent.destroy();
  await stop();
}
