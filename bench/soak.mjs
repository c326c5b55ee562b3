#!/usr/bin/env node
// A concurrency soak: the built server over HTTP on real stores, with writers, readers, restores,
// archival runs, compaction and verify all at once for minutes, after a baseline of writers and
// readers alone. Then the load stops and the model check runs: every record reads back exactly as
// its last acknowledged write left it (a write answered with an error or not at all: as before it
// or as it wrote), deleted ones are 404, none is both live and archived after a final archival
// run, and verify is clean. Prints operations per second by kind, every answer that was not a
// success, and the check; exits 1 when the check fails.
//
//   npm run build && node bench/soak.mjs [--duration 5m] [--baseline 30s] [--backend embedded|azure]
//                                        [--writers 4] [--readers 2] [--population 2000]
//
// The duration may also come from SOAK_DURATION (e.g. 90s, 5m). --backend azure starts Azurite and
// the Cosmos DB test server on loopback (as the tests do).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatSoakReport } from '../test/helpers/soak/report.mjs';
import { runSoak } from '../test/helpers/soak/workload.mjs';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: process.env.SOAK_DURATION ?? '5m' },
    baseline: { type: 'string', default: '30s' },
    backend: { type: 'string', default: 'embedded' },
    writers: { type: 'string', default: '4' },
    readers: { type: 'string', default: '2' },
    population: { type: 'string', default: '2000' },
  },
});

/**
 * "90s", "5m" or a number of seconds, as milliseconds.
 * @param {string} text
 * @param {string} flag
 */
function duration(text, flag) {
  const match = /^(\d+(?:\.\d+)?)(s|m)?$/.exec(text.trim());
  if (!match) throw new Error(`${flag} takes seconds or minutes, as 90s or 5m (got ${text})`);
  return Number(match[1]) * (match[2] === 'm' ? 60_000 : 1000);
}

/**
 * @param {string} text
 * @param {string} flag
 */
function count(text, flag) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${flag} takes a whole number ≥ 1 (got ${text})`);
  return value;
}

const backend = values.backend;
if (backend !== 'embedded' && backend !== 'azure') throw new Error('--backend is embedded or azure');
const durationMs = duration(values.duration, '--duration');
const baselineMs = duration(values.baseline, '--baseline');

/** @type {Record<string, string>} */
let env;
/** @type {() => Promise<void>} */
let cleanUp;
if (backend === 'embedded') {
  const dir = await mkdtemp(join(tmpdir(), 'billing-archive-soak-'));
  env = { DATA_DIR: dir };
  cleanUp = () => rm(dir, { recursive: true, force: true });
} else {
  const { startLocalAzure } = await import('../scripts/local-azure.mjs');
  const azure = await startLocalAzure();
  const name = randomBytes(4).toString('hex');
  env = {
    COSMOS_ENDPOINT: azure.cosmosEndpoint,
    COSMOS_KEY: azure.cosmosKey,
    COSMOS_DATABASE: `soak-${name}`,
    BLOB_CONNECTION_STRING: azure.blobConnectionString,
    BLOB_CONTAINER: `soak-${name}`,
    AUDIT_BLOB_CONTAINER: `soak-audit-${name}`,
    // The server and the CLI trust the Cosmos DB test server's certificate the standard Node way.
    NODE_EXTRA_CA_CERTS: azure.caCertPath,
  };
  cleanUp = azure.stop;
}

try {
  console.log(
    `soak on the ${backend} backend, node ${process.version}: ${values.writers} writers, ${values.readers} readers, about ${values.population} records`,
  );
  const started = Date.now();
  const result = await runSoak({
    env,
    serverPath: fileURLToPath(new URL('../dist/server.js', import.meta.url)),
    cliPath: fileURLToPath(new URL('../dist/cli.js', import.meta.url)),
    durationMs,
    baselineMs,
    writers: count(values.writers, '--writers'),
    readers: count(values.readers, '--readers'),
    population: count(values.population, '--population'),
    progress: (line) => {
      console.log(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${line}`);
    },
  });
  console.log(formatSoakReport(result));
  console.log(`final check took until ${((Date.now() - started) / 1000).toFixed(0)} s`);
  process.exitCode = result.check.ok ? 0 : 1;
} finally {
  await cleanUp();
}
