import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AUDIT_OUTCOMES } from '../../ports/audit-trail.js';
import type { AuditLog } from '../../services/audit-log.js';
import { AUDIT_EXAMPLE } from '../examples.js';
import { documented } from '../schemas.js';

const AuditEntrySchema = Type.Object({
  at: Type.String(),
  actor: Type.String(),
  actor_name: Type.Optional(Type.String()),
  action: Type.String(),
  outcome: Type.String({ enum: [...AUDIT_OUTCOMES] }),
  status: Type.Optional(Type.Integer()),
  record_id: Type.Optional(Type.String()),
  run_id: Type.Optional(Type.String()),
  request_id: Type.Optional(Type.String()),
  client: Type.Optional(Type.String()),
  detail: Type.Optional(Type.String()),
});

export const auditRoutes: FastifyPluginAsyncTypebox<{ audit: AuditLog }> = (app, { audit }) => {
  app.get(
    '/audit',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['operations'],
        summary: 'The audit trail: every attempt to change something, oldest first, filtered and paged',
        querystring: Type.Object({
          record_id: Type.Optional(
            Type.String({ minLength: 1, maxLength: 128, description: 'only entries about this record' }),
          ),
          actor: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 256,
              description: 'only entries of this caller, such as key:ops',
            }),
          ),
          from: Type.Optional(Type.String({ format: 'date-time', description: 'inclusive' })),
          to: Type.Optional(Type.String({ format: 'date-time', description: 'exclusive' })),
          limit: Type.Integer({
            minimum: 1,
            maximum: 1000,
            default: 100,
            description: 'entries a page holds at most',
          }),
          cursor: Type.Optional(
            Type.String({ minLength: 1, maxLength: 1024, description: 'next_cursor of the previous page' }),
          ),
        }),
        response: {
          200: documented(
            Type.Object({
              items: Type.Array(AuditEntrySchema),
              next_cursor: Type.Union([Type.String(), Type.Null()]),
            }),
            'A page of entries, oldest first; next_cursor is null on the last page',
            AUDIT_EXAMPLE,
          ),
        },
      },
    },
    async (request) => {
      const { record_id: recordId, actor, from, to, limit, cursor } = request.query;
      const page = await audit.query({ recordId, actor, from, to, limit, cursor });
      return { items: page.items, next_cursor: page.nextCursor ?? null };
    },
  );
  return Promise.resolve();
};
