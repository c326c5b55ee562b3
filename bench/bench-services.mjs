// The service as the benches that measure it through `createServices` open it: a fresh process
// state over given stores, those stores filled and archived, and what a measured piece of work
// took and asked of the stores.
import { performance } from 'node:perf_hooks';
import { createAdapters, createServices } from '../dist/composition-root.js';
import { loadConfig } from '../dist/config.js';
import { seedCosmos } from './bench-stores.mjs';

/**
 * Opens the services over `env`, each call a fresh process state over the same stores (no member
 * cache warm); `more` adds to the env for that call.
 * @param {Record<string, string>} env
 * @param {import('node:https').Agent | undefined} cosmosAgent
 * @param {import('pino').Logger} logger
 */
export function servicesOver(env, cosmosAgent, logger) {
  return async (/** @type {Record<string, string>} */ more = {}) => {
    const config = loadConfig({ ...env, ...more });
    const built = createAdapters(config.backend, cosmosAgent ? { cosmosAgent } : {});
    return { config, built, services: await createServices(config, logger, { backend: built }) };
  };
}

/**
 * Puts `docs` in the live store (straight into Cosmos DB on the Azure backend) and archives them
 * all in one run, in services opened for it and closed after.
 * @param {ReturnType<typeof servicesOver>} open
 * @param {import('../dist/domain/billing-record.js').RecordDocument[]} docs
 * @param {import('node:https').Agent | undefined} cosmosAgent
 */
export async function archiveAll(open, docs, cosmosAgent) {
  const first = await open();
  try {
    if (first.config.backend.kind === 'azure') {
      if (!cosmosAgent) throw new Error('the Azure backend needs the Cosmos DB agent');
      await seedCosmos(first.config.backend.cosmos, docs, cosmosAgent);
    } else for (const doc of docs) await first.built.adapters.live.create(doc);
    const run = await first.services.archiver.runOnce();
    if (run.status !== 'succeeded' || run.archived !== docs.length)
      throw new Error(`the run did not archive everything: ${JSON.stringify(run).slice(0, 2000)}`);
  } finally {
    await first.services.close();
  }
}

/**
 * Starts measuring the services' time and requests; the function it returns ends the measurement
 * and gives the figures for `records` records handled meanwhile.
 * @param {import('../dist/composition-root.js').Services} services
 * @param {number} records
 */
export function measuring(services, records) {
  const before = services.usage.totals();
  const started = performance.now();
  return () => {
    const seconds = (performance.now() - started) / 1000;
    const after = services.usage.totals();
    const store = after.archive_store.operations - before.archive_store.operations;
    const cosmos = after.cosmos.requests - before.cosmos.requests;
    const kinds = Object.entries(after.archive_store.by_kind)
      .map(([kind, n]) => [kind, n - (before.archive_store.by_kind[kind] ?? 0)])
      .filter(([, n]) => Number(n) > 0)
      .map(([kind, n]) => `${kind} ${n}`)
      .join(', ');
    return {
      seconds: Number(seconds.toFixed(2)),
      'records/s': Math.round(records / seconds),
      'store ops/record': Number((store / records).toFixed(4)),
      'cosmos requests/record': Number((cosmos / records).toFixed(4)),
      'store ops': kinds,
    };
  };
}
