import { randomUUID } from 'node:crypto';
import helmet from '@fastify/helmet';
import { fastifyRequestContext } from '@fastify/request-context';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { Authenticator } from '../auth/authenticator.js';
import type { Services } from '../composition-root.js';
import type { Config } from '../config.js';
import { createCoercingAjv, createStrictAjv } from '../domain/schema-validator.js';
import { registerAccess } from './access.js';
import { registerStrictJsonBodies } from './json-body.js';
import { answerClientError, registerErrorHandlers } from './error-handler.js';
import { registerMetrics } from './metrics.js';
import { registerRouteDocs } from './route-docs.js';
import { OPENAPI_EXAMPLE } from './examples.js';
import { archiveRoutes } from './routes/archive-routes.js';
import { restoreRoutes } from './routes/restore-routes.js';
import { auditRoutes } from './routes/audit-routes.js';
import { billingRoutes } from './routes/billing-routes.js';
import { consoleRoutes } from './routes/console-routes.js';
import { operationsRoutes } from './routes/operations-routes.js';
import { sessionRoutes } from './routes/session-routes.js';
import { signInRoutes } from './routes/sign-in-routes.js';

const BODY_LIMIT_BYTES = 1024 * 1024;
/**
 * Every request's id is made here, never taken from the caller: it names one request in the logs
 * and the audit trail, which a caller could otherwise make name another's.
 */
function requestIdOf(): string {
  return randomUUID();
}

/**
 * Builds the HTTP app over the services; it never listens (server.ts owns the process) and it
 * never closes the services (whoever created them does).
 */
export async function buildApp(
  services: Services,
  logger: FastifyBaseLogger,
  config: Pick<Config, 'auth' | 'http'>,
): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger,
    genReqId: requestIdOf,
    bodyLimit: BODY_LIMIT_BYTES,
    // A client has this long to send a whole request (slow-loris); an idle socket is dropped after
    // the connection timeout, which is long because POST /archive/sync answers when its run ends.
    requestTimeout: config.http.requestTimeoutMs,
    connectionTimeout: config.http.connectionTimeoutMs,
    trustProxy:
      typeof config.http.trustProxy === 'number' ? hopsOf(config.http.trustProxy) : config.http.trustProxy,
    // Long enough that an over-long record id reaches our own validation and gets its 400.
    routerOptions: { maxParamLength: 1024 },
    // Errors raised before routing (bad URL, oversized header) leave as the same JSON shape.
    clientErrorHandler: answerClientError,
    frameworkErrors: (error, _request, reply) => {
      const json = reply as unknown as FastifyReply;
      void json.code(error.statusCode ?? 400).send({ error: 'bad_request', message: error.message });
    },
  });
  // Only JSON bodies: anything else answers 415 instead of reaching validation as text.
  app.removeContentTypeParser('text/plain');
  registerStrictJsonBodies(app);

  // Bodies are checked strictly (no "12" for 12, no silently dropped fields); query strings and
  // path parameters arrive as text and are coerced.
  const strict = createStrictAjv();
  const coercing = createCoercingAjv();
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? strict.compile(schema) : coercing.compile(schema),
  );

  registerErrorHandlers(app);
  // The request id follows the request into the services' log lines, and back to the caller.
  await app.register(fastifyRequestContext, { defaultStoreValues: (request) => ({ requestId: request.id }) });
  app.addHook('onSend', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  // HTTP never sends a fragment: a '#' in the request target is an id the client did not encode,
  // and the router would act on the part before it, which names another record.
  app.addHook('onRequest', async (request, reply) => {
    if (request.raw.url?.includes('#'))
      return reply.code(400).send({
        error: 'bad_request',
        message: "the request target holds '#', which HTTP never sends; percent-encode it as %23",
      });
  });
  await app.register(helmet, { global: true });
  const authenticator = new Authenticator(config.auth);
  await registerAccess(app, {
    authenticator,
    audit: services.audit,
    limits: config.http,
  });
  registerRouteDocs(app);
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'billing-archive',
        version: '0.1.0',
        description: 'Billing records, live or archived, through one API',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An API key or a Microsoft Entra ID token' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
      security: [{ bearer: [] }, { apiKey: [] }],
    },
  });
  registerMetrics(app, services.stats, services.usage);

  await app.register(billingRoutes, {
    records: services.records,
    listing: services.listing,
    history: services.history,
  });
  await app.register(archiveRoutes, {
    archiver: services.archiver,
    records: services.records,
    verifier: services.verifier,
  });
  await app.register(restoreRoutes, { bulkRestore: services.bulkRestore });
  await app.register(operationsRoutes, {
    services,
    statsCacheSeconds: config.http.statsCacheSeconds,
    authDisabled: config.auth.disabled,
  });
  await app.register(auditRoutes, { audit: services.audit });
  await app.register(sessionRoutes, { authenticator });
  const signIn = authenticator.redirectSignIn;
  if (signIn) await app.register(signInRoutes, { authenticator, signIn, audit: services.audit });
  await app.register(consoleRoutes, { redirectSignIn: signIn !== undefined });
  app.get(
    '/openapi.json',
    {
      config: { access: 'reader' },
      schema: {
        tags: ['operations'],
        summary: 'This document: the OpenAPI 3 description of every route',
        response: {
          200: {
            description: 'The OpenAPI document',
            type: 'object',
            additionalProperties: true,
            examples: [OPENAPI_EXAMPLE],
          },
        },
      },
    },
    () => app.swagger(),
  );
  return app;
}

/** Trust the nearest `hops` proxies: the client is the address that many hops back in X-Forwarded-For. */
function hopsOf(hops: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < hops;
}
