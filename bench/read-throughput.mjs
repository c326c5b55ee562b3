#!/usr/bin/env node
// How fast the API reads one record by id, live and archived, against a bare Fastify route that
// returns the same bytes, all in the same run on this machine (issue 16 asks archived reads to
// reach 25% of the bare route's requests a second). The built server runs on the embedded backend
// with N archived records (segment layout) and M live ones; the bare route runs in a process of
// its own, as the server does. autocannon drives each for the same time with the same connections,
// picking a random id per request.
//
//   npm run build && node bench/read-throughput.mjs [--archived 10000] [--live 2000] [--seconds 10]
//                                                   [--connections 10] [--kb 1]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { pino } from 'pino';
import { createAdapters, createServices } from '../dist/composition-root.js';
import { loadConfig } from '../dist/config.js';
import { newRecordDocument } from '../dist/domain/billing-record.js';
import { sampleRecord } from '../dist/services/sample-records.js';
import { freePort } from '../scripts/local-azure.mjs';
import { createKey, startServer } from '../test/helpers/soak/processes.mjs';
import { wholeNumber } from './bench-args.mjs';
import { invoiceOfSize } from './bench-records.mjs';
import { benchStores } from './bench-stores.mjs';

const { values } = parseArgs({
  options: {
    archived: { type: 'string', default: '10000' },
    live: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
    kb: { type: 'string', default: '1' },
  },
});
const archivedCount = wholeNumber(values.archived, '--archived');
const liveCount = wholeNumber(values.live, '--live');
const seconds = wholeNumber(values.seconds, '--seconds');
const connections = wholeNumber(values.connections, '--connections');
const kb = Number(values.kb);
if (!(kb > 0)) throw new Error('--kb is a positive number');

const serverPath = fileURLToPath(new URL('../dist/server.js', import.meta.url));
const cliPath = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

/** A bare Fastify route answering `body` for any id, in a process of its own. */
async function startBareRoute(/** @type {string} */ body) {
  const port = await freePort();
  const source = `
    import Fastify from 'fastify';
    const app = Fastify({ logger: false });
    const body = ${JSON.stringify(body)};
    app.get('/billing/:id', (request, reply) => reply.type('application/json').send(body));
    await app.listen({ host: '127.0.0.1', port: ${port} });
    process.stdout.write('listening\\n');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (/** @type {Buffer} */ chunk) => {
      if (chunk.toString().includes('listening')) resolve(undefined);
    });
    child.on('exit', (code) => {
      reject(new Error(`the bare route exited with ${String(code)}`));
    });
  });
  return {
    base: `http://127.0.0.1:${port}`,
    stop: () => {
      child.kill('SIGTERM');
    },
  };
}

/**
 * Requests a second and latency reading random ids of `ids` from `base` for `duration` seconds.
 * @param {string} base
 * @param {readonly string[]} ids
 * @param {Record<string, string>} headers
 */
async function load(base, ids, headers, duration = seconds) {
  let failed = 0;
  const result = await autocannon({
    url: base,
    connections,
    duration,
    headers,
    requests: [
      {
        setupRequest: (request) => ({
          ...request,
          method: 'GET',
          path: `/billing/${ids[Math.floor(Math.random() * ids.length)] ?? ''}`,
        }),
        onResponse: (status) => {
          if (status !== 200) failed += 1;
        },
      },
    ],
  });
  if (failed > 0 || result.non2xx > 0 || result.errors > 0)
    throw new Error(`${base}: ${failed} answers were not 200, ${result.errors} errors`);
  return {
    'requests/s': Math.round(result.requests.average),
    'p50 ms': result.latency.p50,
    'p99 ms': result.latency.p99,
  };
}

const { freshStores, stop } = await benchStores('embedded', 'reads');
const stores = await freshStores();
try {
  const now = new Date();
  console.log(
    `${archivedCount} archived and ${liveCount} live records of ${kb} KB, embedded backend, segment layout, ${connections} connections for ${seconds} s each, node ${process.version}, ${now.toISOString()}`,
  );
  const config = loadConfig({
    ...stores.env,
    ARCHIVE_LAYOUT: 'segment',
    BATCH_SIZE: '1000',
    LOG_LEVEL: 'silent',
  });
  const built = createAdapters(config.backend);
  const services = await createServices(config, pino({ level: 'silent' }), { backend: built });
  /** @type {string[]} */
  const archivedIds = [];
  /** @type {string[]} */
  const liveIds = [];
  try {
    for (let i = 0; i < archivedCount; i++) {
      const doc = invoiceOfSize(i, now, kb);
      archivedIds.push(doc.id);
      await built.adapters.live.create(doc);
    }
    const run = await services.archiver.runOnce();
    if (run.archived !== archivedCount) throw new Error(`archived ${run.archived} of ${archivedCount}`);
    for (let i = 0; i < liveCount; i++) {
      const doc = newRecordDocument(
        {
          ...sampleRecord(archivedCount + i, now, 1),
          metadata: { pad: 'x'.repeat(Math.max(0, kb * 1024 - 400)) },
        },
        now,
      );
      liveIds.push(doc.id);
      await built.adapters.live.create(doc);
    }
  } finally {
    await services.close();
  }

  const reader = await createKey(cliPath, 'bench-reader', 'reader');
  const headers = { authorization: `Bearer ${reader.key}` };
  // Without the member cache: every read fetches and decompresses its member, as a read of a
  // record whose member nobody read lately does.
  const uncached = await startServer(serverPath, {
    ...stores.env,
    API_KEYS: reader.entry,
    ARCHIVE_READ_CACHE_MB: '0',
  });
  /** @type {Record<string, string | number>} */
  let withoutCache;
  try {
    await load(uncached.base, archivedIds, headers, 2);
    withoutCache = {
      route: 'GET /billing/{id}, archived, ARCHIVE_READ_CACHE_MB=0',
      ...(await load(uncached.base, archivedIds, headers)),
    };
  } finally {
    await uncached.stop();
  }
  const server = await startServer(serverPath, { ...stores.env, API_KEYS: reader.entry });
  try {
    const sample = await fetch(`${server.base}/billing/${archivedIds[0] ?? ''}`, { headers });
    if (sample.headers.get('x-record-source') !== 'archive')
      throw new Error('the first record is not archived');
    const bare = await startBareRoute(await sample.text());
    try {
      // A warm-up of each over the same random ids, so the first measured second is no JIT's (and
      // the member cache has begun to fill, as a server's does).
      for (const [base, ids] of /** @type {const} */ ([
        [bare.base, archivedIds],
        [server.base, liveIds],
        [server.base, archivedIds],
      ]))
        await load(base, ids, headers, 2);
      const rows = [
        { route: 'bare Fastify route, same bytes', ...(await load(bare.base, archivedIds, headers)) },
        { route: 'GET /billing/{id}, live', ...(await load(server.base, liveIds, headers)) },
        {
          route: `GET /billing/{id}, archived, ARCHIVE_READ_CACHE_MB=${process.env.ARCHIVE_READ_CACHE_MB ?? '32 (default)'}`,
          ...(await load(server.base, archivedIds, headers)),
        },
        withoutCache,
      ];
      const bareRate = Number(rows[0]?.['requests/s'] ?? 1);
      console.table(
        rows.map((row) => ({
          ...row,
          'share of bare': `${((Number(row['requests/s']) / bareRate) * 100).toFixed(0)}%`,
        })),
      );
    } finally {
      bare.stop();
    }
  } finally {
    await server.stop();
  }
} finally {
  await stores.remove();
  await stop();
}
