#!/usr/bin/env node
// What listing one customer's archived history costs through GET /billing's listing, against
// reading the same records one by one by id, in the same run (issue 16): N records of one customer
// spread over 12 creation months of segments, among as many of other customers, all archived
// (segment layout). Prints, for each index kind, the time and the requests each way makes per
// record: archive store operations (member reads, tier looks) and, on the Azure backend, Cosmos DB
// requests. Each measurement starts in a fresh process state (new services, so no member cache is
// warm), and the by-id reads go in creation order, the order the listing gives.
//
//   npm run build && node bench/cross-tier-listing.mjs [--records 10000] [--others 10000]
//                                                      [--backend embedded|azure] [--page 1000]
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { wholeNumber } from './bench-args.mjs';
import { invoiceOfSize } from './bench-records.mjs';
import { archiveAll, measuring, servicesOver } from './bench-services.mjs';
import { benchStores } from './bench-stores.mjs';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '10000' },
    others: { type: 'string', default: '10000' },
    backend: { type: 'string', default: 'embedded' },
    page: { type: 'string', default: '1000' },
  },
});
const recordCount = wholeNumber(values.records, '--records');
const otherCount = wholeNumber(values.others, '--others');
const pageSize = wholeNumber(values.page, '--page');
const backend = values.backend;
if (backend !== 'embedded' && backend !== 'azure') throw new Error('--backend is embedded or azure');

const CUSTOMER = 'cust-bench';
const DAY_MS = 86_400_000;
const logger = pino({ level: 'silent' });
const { freshStores, cosmosAgent, stop } = await benchStores(backend, 'listing');

/**
 * The records: the customer's spread evenly over the 12 months before the last 100 days (past ARCHIVAL_DAYS_THRESHOLD), the
 * others' over the same time.
 * @param {Date} now
 */
function recordsAt(now) {
  const docs = [];
  const span = 365 * DAY_MS;
  for (let i = 0; i < recordCount + otherCount; i++) {
    const ours = i < recordCount;
    const createdMs =
      now.getTime() -
      100 * DAY_MS -
      Math.floor(((ours ? i : i - recordCount) / (ours ? recordCount : otherCount)) * span);
    const createdAt = new Date(createdMs).toISOString();
    const doc = invoiceOfSize(i, now, 1);
    docs.push({
      ...doc,
      customer_id: ours ? CUSTOMER : `cust-${String(i % 400).padStart(5, '0')}`,
      created_at: createdAt,
      updated_at: createdAt,
    });
  }
  return docs;
}

try {
  const now = new Date();
  console.log(
    `${recordCount} records of customer ${CUSTOMER} over 12 months among ${otherCount} of other customers, 1 KB each, all archived, ${backend} backend, segment layout, pages of ${pageSize}, node ${process.version}, ${now.toISOString()}`,
  );
  const docs = recordsAt(now);
  /** @type {Record<string, string | number>[]} */
  const rows = [];
  for (const index of ['native', 'blob']) {
    const stores = await freshStores();
    const env = {
      ...stores.env,
      ARCHIVE_LAYOUT: 'segment',
      BATCH_SIZE: '1000',
      LOG_LEVEL: 'silent',
      ...(index === 'blob' && { ARCHIVE_INDEX: 'blob' }),
    };
    const open = servicesOver(env, cosmosAgent, logger);
    try {
      await archiveAll(open, docs, cosmosAgent);

      // The listing, page after page, as GET /billing?customer_id= pages it.
      /** @type {string[]} */
      const listed = [];
      const listing = await open();
      try {
        const measure = measuring(listing.services, recordCount);
        let after;
        for (;;) {
          const page = await listing.services.listing.page(
            { customerId: CUSTOMER },
            { limit: pageSize, after },
          );
          for (const item of page.items) {
            if (item.source !== 'archive' || !('doc' in item.read))
              throw new Error(`${item.key.id} was not read from the archive`);
            listed.push(item.key.id);
          }
          if (!page.next) break;
          after = page.next;
        }
        if (listed.length !== recordCount) throw new Error(`listed ${listed.length} of ${recordCount}`);
        rows.push({ index, how: `listing, pages of ${pageSize}`, ...measure() });
      } finally {
        await listing.services.close();
      }

      // The same records one by one by id, in the listing's order: with the member cache (the
      // default), and without, as reads of records nobody read lately are.
      for (const cacheMb of [undefined, '0']) {
        const byId = await open(cacheMb === undefined ? {} : { ARCHIVE_READ_CACHE_MB: cacheMb });
        try {
          const measure = measuring(byId.services, recordCount);
          for (const id of listed) {
            const view = await byId.services.records.get(id);
            if (view.source !== 'archive') throw new Error(`${id} was not read from the archive`);
          }
          rows.push({
            index,
            how: `by id, one by one${cacheMb === undefined ? '' : `, ARCHIVE_READ_CACHE_MB=${cacheMb}`}`,
            ...measure(),
          });
        } finally {
          await byId.services.close();
        }
      }
    } finally {
      await stores.remove();
    }
  }
  console.table(rows);
  for (const index of ['native', 'blob']) {
    const [list, one, uncached] = rows.filter((row) => row.index === index);
    if (list && one)
      console.log(
        `${index} index: the listing took ${(Number(list.seconds) / Number(one.seconds)).toFixed(2)}× the time of reads by id, with ${(Number(list['store ops/record']) / Math.max(Number(one['store ops/record']), 1e-9)).toFixed(3)}× their store operations${uncached ? ` (${(Number(list['store ops/record']) / Math.max(Number(uncached['store ops/record']), 1e-9)).toFixed(3)}× those of reads by id without the member cache)` : ''}`,
      );
  }
} finally {
  await stop();
}
