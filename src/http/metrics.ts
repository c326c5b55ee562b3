import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StatsService } from '../services/stats-service.js';
import type { UsageTally } from '../services/usage-tally.js';

const RECORD_COUNT_TTL_MS = 60_000;

/** Prometheus metrics for one app: its own registry, so several apps in one process never collide. */
export function registerMetrics(app: FastifyInstance, stats: StatsService, usage: UsageTally): void {
  const registry = new Registry();
  // Counting is a scan on Cosmos DB: scrapes every few seconds share one count a minute.
  let counted: { at: number; counts: Promise<{ live: number; archive: number }> } | undefined;
  const recordCounts = (): Promise<{ live: number; archive: number }> => {
    if (!counted || Date.now() - counted.at > RECORD_COUNT_TTL_MS) {
      const counts = stats.recordCounts();
      counted = { at: Date.now(), counts };
      counts.catch(() => (counted = undefined));
    }
    return counted.counts;
  };
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'billing_archive_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'billing_archive_http_request_duration_seconds',
    help: 'HTTP request latency by method and route',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'billing_archive_records',
    help: 'Billing records by where they live',
    labelNames: ['location'],
    registers: [registry],
    async collect() {
      const counts = await recordCounts();
      this.set({ location: 'live' }, counts.live);
      this.set({ location: 'archive' }, counts.archive);
    },
  });

  registerUsage(registry, usage);

  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    done();
  });

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics',
        response: {
          200: {
            description: 'The metrics in the Prometheus text format',
            content: {
              'text/plain': {
                schema: Type.String(),
                example:
                  '# TYPE billing_archive_records gauge\nbilling_archive_records{location="live"} 1200\n',
              },
            },
          },
        },
      },
      config: { access: 'operator' },
    },
    async (_request, reply) => {
      return reply.type(registry.contentType).send(await registry.metrics());
    },
  );
}

/** What this process asked of the stores that bill per request, read from the tally at each scrape. */
function registerUsage(registry: Registry, usage: UsageTally): void {
  new Counter({
    name: 'billing_archive_cosmos_requests_total',
    help: 'Cosmos DB network requests (retries and query pages included) by container and operation',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [kind, calls] of Object.entries(usage.totals().cosmos.by_kind))
        this.inc({ kind }, calls.requests);
    },
  });
  new Counter({
    name: 'billing_archive_cosmos_request_units_total',
    help: 'Request units Cosmos DB charged, by container and operation',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [kind, calls] of Object.entries(usage.totals().cosmos.by_kind))
        this.inc({ kind }, calls.request_units);
    },
  });
  new Counter({
    name: 'billing_archive_archive_store_operations_total',
    help: 'Archive store operations (Blob Storage, or the archive directory counted alike) by kind',
    labelNames: ['operation'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [operation, count] of Object.entries(usage.totals().archive_store.by_kind))
        this.inc({ operation }, count);
    },
  });
}
