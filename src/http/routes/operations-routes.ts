import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { grants } from '../../auth/roles.js';
import type { Services } from '../../composition-root.js';
import { READY_EXAMPLE, STATS_EXAMPLE } from '../examples.js';
import { runFor } from '../redaction.js';
import { documented, ErrorSchema } from '../schemas.js';

const tags = ['operations'];
/** Whether every store answers; `stores` (each one's state and error) goes to admins only. */
const readiness = Type.Object({ ready: Type.Boolean() }, { additionalProperties: true });

export interface OperationsRoutesOptions {
  services: Services;
  /** How long one /stats answer is shared: counting is a scan on Cosmos DB. */
  statsCacheSeconds: number;
  /** Said by /health when AUTH_DISABLED is set, so nobody mistakes the deployment for a protected one. */
  authDisabled: boolean;
}

export const operationsRoutes: FastifyPluginAsyncTypebox<OperationsRoutesOptions> = (
  app,
  { services, statsCacheSeconds, authDisabled },
) => {
  app.get(
    '/health',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'The process is up',
        security: [],
        response: {
          200: documented(
            Type.Object({
              status: Type.Literal('ok'),
              auth: Type.Optional(Type.Literal('disabled')),
            }),
            'Up; auth: disabled says AUTH_DISABLED is set',
            { status: 'ok' },
          ),
        },
      },
    },
    () => ({ status: 'ok' as const, ...(authDisabled && { auth: 'disabled' as const }) }),
  );

  app.get(
    '/ready',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'Every store answers (503 when one does not; which one and why, to admins only)',
        security: [],
        response: {
          200: documented(readiness, 'Every store answers; an admin also sees each store', READY_EXAMPLE),
          503: documented(readiness, 'A store does not answer; an admin sees which and why', {
            ready: false,
            stores: {
              ...READY_EXAMPLE.stores,
              store: { ok: false, error: 'connect ECONNREFUSED 10.0.3.4:443' },
            },
          }),
        },
      },
    },
    async (request, reply) => {
      const readiness = await services.readiness();
      const admin = request.identity !== undefined && grants(request.identity.roles, 'admin');
      return reply.code(readiness.ready ? 200 : 503).send(admin ? readiness : { ready: readiness.ready });
    },
  );

  let cached: { at: number; stats: ReturnType<Services['stats']['stats']> } | undefined;
  app.get(
    '/stats',
    {
      config: { access: 'reader' },
      schema: {
        tags,
        summary:
          'Counts, run history, and what the archive costs a month and saves (shared for STATS_CACHE_SECONDS)',
        response: {
          200: documented(
            Type.Object({}, { additionalProperties: true }),
            'Live and archived counts and bytes, the archive by month, the runs, the cost model (docs/API.md describes each field)',
            STATS_EXAMPLE,
          ),
          503: ErrorSchema,
        },
      },
    },
    async (request) => {
      if (!cached || Date.now() - cached.at >= statsCacheSeconds * 1000) {
        const stats = services.stats.stats();
        cached = { at: Date.now(), stats };
        stats.catch(() => (cached = undefined));
      }
      const stats = await cached.stats;
      return { ...stats, last_run: stats.last_run && runFor(request.identity, stats.last_run) };
    },
  );

  return Promise.resolve();
};
