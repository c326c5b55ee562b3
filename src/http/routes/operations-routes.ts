import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Services } from '../../composition-root.js';

const tags = ['operations'];

export const operationsRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = (app, { services }) => {
  app.get(
    '/health',
    {
      schema: {
        tags,
        summary: 'The process is up',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    { schema: { tags, summary: 'Every store answers (503 names the one that does not)' } },
    async (_request, reply) => {
      const readiness = await services.readiness();
      return reply.code(readiness.ready ? 200 : 503).send(readiness);
    },
  );

  app.get('/stats', { schema: { tags, summary: 'Counts, run history and what archiving saves' } }, async () =>
    services.stats.stats(),
  );

  return Promise.resolve();
};
