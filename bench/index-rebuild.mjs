#!/usr/bin/env node
// How long `verify --repair --rebuild-index` keeps archived records unavailable, against a plain
// `verify` of the same archive in the same run: N records of about 1 KB archived into segments on
// ARCHIVE_INDEX=blob, then a verify (the baseline: it reads every segment as the rebuild does), the
// rebuild, and a verify of the rebuilt index. Prints each one's time, records a second, archive
// store operations per 1,000 records, and the heap the process held after each (the rebuild keeps
// the copy it chose of every record until all are seen).
//
//   npm run build && node --expose-gc bench/index-rebuild.mjs [--records 100000] [--backend embedded|azure]
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createAdapters, createServices } from '../dist/composition-root.js';
import { loadConfig } from '../dist/config.js';
import { wholeNumber } from './bench-args.mjs';
import { invoiceOfSize } from './bench-records.mjs';
import { benchStores, seedCosmos } from './bench-stores.mjs';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '100000' },
    backend: { type: 'string', default: 'embedded' },
  },
});
const recordCount = wholeNumber(values.records, '--records');
const backend = values.backend;
if (backend !== 'embedded' && backend !== 'azure') throw new Error('--backend is embedded or azure');

const logger = pino({ level: 'silent' });
const { freshStores, cosmosAgent, stop } = await benchStores(backend, 'rebuild');
const stores = await freshStores();
try {
  console.log(
    `${recordCount} records of 1 KB, ${backend} backend, segment layout, ARCHIVE_INDEX=blob, node ${process.version}, ${new Date().toISOString()}`,
  );
  const config = loadConfig({
    ...stores.env,
    ARCHIVE_INDEX: 'blob',
    ARCHIVE_LAYOUT: 'segment',
    BATCH_SIZE: '1000',
    LOG_LEVEL: 'silent',
  });
  const built = createAdapters(config.backend, cosmosAgent ? { cosmosAgent } : {});
  const services = await createServices(config, logger, { backend: built });
  try {
    const now = new Date();
    const docs = Array.from({ length: recordCount }, (_, i) => invoiceOfSize(i, now, 1));
    if (config.backend.kind === 'azure') {
      if (!cosmosAgent) throw new Error('the Azure backend needs the Cosmos DB agent');
      await seedCosmos(config.backend.cosmos, docs, cosmosAgent);
    } else for (const doc of docs) await built.adapters.live.create(doc);
    const run = await services.archiver.runOnce();
    if (run.status !== 'succeeded' || run.archived !== recordCount)
      throw new Error(`the run did not archive everything: ${JSON.stringify(run).slice(0, 2000)}`);

    /** @type {{ what: string, seconds: number, [column: string]: string | number }[]} */
    const rows = [];
    /**
     * @param {string} what
     * @param {import('../dist/services/verifier.js').VerifyOptions} options
     */
    const timed = async (what, options) => {
      const before = services.usage.totals();
      const started = performance.now();
      const report = await services.verifier.verify(options);
      const seconds = (performance.now() - started) / 1000;
      const after = services.usage.totals();
      globalThis.gc?.();
      if (!report.ok) throw new Error(`${what} found the archive not whole: ${JSON.stringify(report)}`);
      rows.push({
        what,
        seconds: Number(seconds.toFixed(1)),
        'records/s': Math.round(recordCount / seconds),
        'entries rebuilt': report.repaired.entries_rebuilt,
        'store ops /1k': Number(
          (((after.archive_store.operations - before.archive_store.operations) / recordCount) * 1000).toFixed(
            1,
          ),
        ),
        'store ops by kind': Object.entries(after.archive_store.by_kind)
          .map(([kind, n]) => `${kind} ${n - (before.archive_store.by_kind[kind] ?? 0)}`)
          .join(', '),
        'heap MiB after': Math.round(process.memoryUsage().heapUsed / 2 ** 20),
        'peak RSS MiB': Math.round(process.resourceUsage().maxRSS / 1024),
      });
    };
    await timed('verify (baseline)', {});
    await timed('verify --repair --rebuild-index', { repair: true, rebuildIndex: true });
    await timed('verify after', {});
    console.table(rows);
    const [baseline, rebuild] = rows;
    if (baseline && rebuild)
      console.log(
        `the rebuild took ${(rebuild.seconds / baseline.seconds).toFixed(2)}× a plain verify; archived records answered 503 meanwhile`,
      );
    if (!globalThis.gc) console.log('(run with node --expose-gc for heap figures after a collection)');
  } finally {
    await services.close();
  }
} finally {
  await stores.remove();
  await stop();
}
