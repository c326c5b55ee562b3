#!/usr/bin/env node
// What a bulk restore job costs (issue 16), against restoring the same number of records one by
// one (`POST /restore/{id}`'s path), in the same run: two customers of N records each, spread over
// 12 creation months of segments, among as many records of other customers, all archived
// (segment layout). One customer's records come back through a restore job (`restore --customer`),
// the other's one by one in creation order. Prints the time, records a second, and the requests
// each way makes per record: archive store operations and, on the Azure backend, Cosmos DB
// requests. Each way starts in a fresh process state (new services: no member cache is warm).
//
//   npm run build && node bench/bulk-restore.mjs [--records 5000] [--others 5000]
//                                                [--backend embedded|azure]
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { wholeNumber } from './bench-args.mjs';
import { invoiceOfSize } from './bench-records.mjs';
import { archiveAll, measuring, servicesOver } from './bench-services.mjs';
import { benchStores } from './bench-stores.mjs';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '5000' },
    others: { type: 'string', default: '5000' },
    backend: { type: 'string', default: 'embedded' },
  },
});
const recordCount = wholeNumber(values.records, '--records');
const otherCount = wholeNumber(values.others, '--others');
const backend = values.backend;
if (backend !== 'embedded' && backend !== 'azure') throw new Error('--backend is embedded or azure');

const BULK = 'cust-bulk';
const ONE_BY_ONE = 'cust-one';
const DAY_MS = 86_400_000;
const logger = pino({ level: 'silent' });
const { freshStores, cosmosAgent, stop } = await benchStores(backend, 'restore');

/**
 * Both customers' records spread evenly over the 12 months before the last 100 days, and the
 * others' over the same time.
 * @param {Date} now
 */
function recordsAt(now) {
  const docs = [];
  const span = 365 * DAY_MS;
  const total = 2 * recordCount + otherCount;
  for (let i = 0; i < total; i++) {
    const customer = i < recordCount ? BULK : i < 2 * recordCount ? ONE_BY_ONE : undefined;
    const k = i % recordCount;
    const createdMs =
      now.getTime() -
      100 * DAY_MS -
      Math.floor((customer ? k / recordCount : (i - 2 * recordCount) / otherCount) * span);
    const createdAt = new Date(createdMs).toISOString();
    docs.push({
      ...invoiceOfSize(i, now, 1),
      customer_id: customer ?? `cust-${String(i % 400).padStart(5, '0')}`,
      created_at: createdAt,
      updated_at: createdAt,
    });
  }
  return docs;
}

try {
  const now = new Date();
  console.log(
    `${recordCount} records each of ${BULK} and ${ONE_BY_ONE} over 12 months among ${otherCount} of other customers, 1 KB each, all archived, ${backend} backend, segment layout, node ${process.version}, ${now.toISOString()}`,
  );
  const docs = recordsAt(now);
  const stores = await freshStores();
  const env = { ...stores.env, ARCHIVE_LAYOUT: 'segment', BATCH_SIZE: '1000', LOG_LEVEL: 'silent' };
  const open = servicesOver(env, cosmosAgent, logger);
  /** @type {Record<string, string | number>[]} */
  const rows = [];
  try {
    await archiveAll(open, docs, cosmosAgent);

    // A restore job over one customer, as `restore --customer` runs it.
    const bulk = await open();
    try {
      const measure = measuring(bulk.services, recordCount);
      const stored = await bulk.services.bulkRestore.create({ query: { customer_id: BULK }, by: 'bench' });
      const job = await bulk.services.bulkRestore.runHere(stored);
      if (job.status !== 'succeeded' || job.counts.restored !== recordCount)
        throw new Error(`the job did not restore everything: ${JSON.stringify(job.counts)}`);
      rows.push({ how: 'restore job (restore --customer)', ...measure() });
    } finally {
      await bulk.services.close();
    }

    // The other customer's records one by one, in creation order, as POST /restore/{id} does.
    const single = await open();
    try {
      const ids = docs.filter((doc) => doc.customer_id === ONE_BY_ONE).map((doc) => doc.id);
      ids.reverse();
      const measure = measuring(single.services, recordCount);
      for (const id of ids) await single.services.records.restore(id);
      rows.push({ how: 'one by one (POST /restore/{id})', ...measure() });
    } finally {
      await single.services.close();
    }
  } finally {
    await stores.remove();
  }
  console.table(rows);
  const [job, one] = rows;
  if (job && one)
    console.log(
      `the restore job took ${(Number(job.seconds) / Number(one.seconds)).toFixed(2)}× the time of restores one by one, with ${(Number(job['store ops/record']) / Math.max(Number(one['store ops/record']), 1e-9)).toFixed(3)}× their store operations and ${(Number(job['cosmos requests/record']) / Math.max(Number(one['cosmos requests/record']), 1e-9)).toFixed(3)}× their Cosmos DB requests`,
    );
} finally {
  await stop();
}
