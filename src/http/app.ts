import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Services } from '../composition-root.js';
import { createCoercingAjv, createStrictAjv } from '../domain/schema-validator.js';
import { registerErrorHandlers } from './error-handler.js';
import { registerMetrics } from './metrics.js';
import { archiveRoutes } from './routes/archive-routes.js';
import { billingRoutes } from './routes/billing-routes.js';
import { operationsRoutes } from './routes/operations-routes.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Builds the HTTP app over the services; it never listens (server.ts owns the process) and it
 * never closes the services (whoever created them does).
 */
export async function buildApp(services: Services, logger: FastifyBaseLogger): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: BODY_LIMIT_BYTES,
    // Long enough that an over-long record id reaches our own validation and gets its 400.
    routerOptions: { maxParamLength: 1024 },
    // Errors raised before routing (bad URL, oversized header) leave as the same JSON shape.
    frameworkErrors: (error, _request, reply) => {
      const json = reply as unknown as FastifyReply;
      void json.code(error.statusCode ?? 400).send({ error: 'bad_request', message: error.message });
    },
  });
  // Only JSON bodies: anything else answers 415 instead of reaching validation as text.
  app.removeContentTypeParser('text/plain');

  // Bodies are checked strictly (no "12" for 12, no silently dropped fields); query strings and
  // path parameters arrive as text and are coerced.
  const strict = createStrictAjv();
  const coercing = createCoercingAjv();
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? strict.compile(schema) : coercing.compile(schema),
  );

  registerErrorHandlers(app);
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'billing-archive',
        version: '0.1.0',
        description: 'Billing records, live or archived, through one API',
      },
    },
  });
  registerMetrics(app, services.stats);

  const inFlight = new Set<Promise<unknown>>();
  app.addHook('onClose', async () => {
    await Promise.allSettled([...inFlight]);
  });

  await app.register(billingRoutes, { records: services.records });
  await app.register(archiveRoutes, { archiver: services.archiver, records: services.records, inFlight });
  await app.register(operationsRoutes, { services });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  return app;
}
