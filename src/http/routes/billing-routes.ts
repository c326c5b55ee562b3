import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { NewRecordInputSchema, ReplacementInputSchema } from '../../domain/billing-record.js';
import { describeIdentity, grants } from '../../auth/roles.js';
import type { CreationKey } from '../../domain/creation-order.js';
import { decodeCursor, encodeCursor } from '../../domain/listing-cursor.js';
import type { RecordHistory } from '../../services/record-history.js';
import type { RecordListing } from '../../services/record-listing.js';
import type { RecordService } from '../../services/record-service.js';
import { callerOf } from '../access.js';
import { holdFor } from '../redaction.js';
import { listingPageBody, sendJson, sendNdjson } from '../listing-reply.js';
import { ListedItemSchema, ListingQuerySchema, listingQueryOf, ndjsonLines } from '../listing-query.js';
import { parseIfMatch, sendRecord } from '../record-reply.js';
import {
  ErrorSchema,
  errorResponses,
  HistorySchema,
  HoldRequestSchema,
  HoldSchema,
  HoldViewSchema,
  IdParamsSchema,
  RecordSchema,
} from '../schemas.js';

const tags = ['billing'];
const errors = { 400: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 412: ErrorSchema };
const ifMatchHeader = Type.Object({ 'if-match': Type.Optional(Type.String()) });

export const billingRoutes: FastifyPluginAsyncTypebox<{
  records: RecordService;
  listing: RecordListing;
  history: RecordHistory;
}> = (app, { records, listing, history }) => {
  app.post(
    '/billing',
    {
      config: { access: 'writer', audit: 'record.create' },
      schema: {
        tags,
        summary: 'Create a billing record',
        body: NewRecordInputSchema,
        response: { 201: RecordSchema, 400: ErrorSchema, 409: ErrorSchema, 413: ErrorSchema },
      },
    },
    async (request, reply) => {
      const view = await records.create(request.body);
      void reply.header('Location', `/billing/${encodeURIComponent(view.doc.id)}`);
      return sendRecord(reply, view, 201);
    },
  );

  app.get(
    '/billing',
    {
      config: { access: 'reader' },
      schema: {
        tags,
        summary: 'List live and archived records together, in creation order, paged by cursor',
        description:
          'Filters: customer_id, status, created_from (inclusive) and created_to (exclusive), RFC 3339. Each item says where the record lives (source), and for archived ones the blob tier; a record in the Archive tier comes without its body (rehydration_required) unless rehydrate=true starts its rehydration. fields=a,b keeps those fields of each record; format=ndjson streams every matching record, one item a line, instead of one page.',
        querystring: ListingQuerySchema,
        response: {
          200: Type.Object({
            items: Type.Array(ListedItemSchema),
            next_cursor: Type.Union([Type.String(), Type.Null()]),
          }),
          400: ErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const { limit, cursor, rehydrate, format } = request.query;
      const { query, filters } = listingQueryOf(request.query);
      const fields = request.query.fields?.split(',');
      const cursorOf = (key: CreationKey) => encodeCursor(key, filters);
      const after = cursor === undefined ? undefined : decodeCursor(cursor, filters);
      if (format === 'ndjson')
        return sendNdjson(
          reply,
          Readable.from(ndjsonLines(listing, query, { limit, after, rehydrate }, fields)),
        );
      const page = await listing.page(query, { limit, after, rehydrate });
      return sendJson(reply, listingPageBody(page, fields, cursorOf));
    },
  );

  app.get(
    '/billing/:id',
    {
      config: { access: 'reader' },
      schema: {
        tags,
        summary: 'Read a record, live or archived (X-Record-Source says which)',
        params: IdParamsSchema,
        response: { 200: RecordSchema, 202: ErrorSchema, 404: ErrorSchema, 410: ErrorSchema },
      },
    },
    async (request, reply) => sendRecord(reply, await records.get(request.params.id)),
  );

  app.put(
    '/billing/:id',
    {
      config: { access: 'writer', audit: 'record.update' },
      schema: {
        tags,
        summary: 'Replace a record; an archived record comes back live with the change',
        params: IdParamsSchema,
        headers: ifMatchHeader,
        body: ReplacementInputSchema,
        response: { 200: RecordSchema, ...errors },
      },
    },
    async (request, reply) => {
      const ifMatch = parseIfMatch(request.headers['if-match']);
      return sendRecord(reply, await records.replace(request.params.id, request.body, ifMatch));
    },
  );

  app.delete(
    '/billing/:id',
    {
      config: { access: 'writer', audit: 'record.delete' },
      schema: {
        tags,
        summary: 'Delete a record, live or archived',
        params: IdParamsSchema,
        headers: ifMatchHeader,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await records.delete(request.params.id, parseIfMatch(request.headers['if-match']));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/billing/:id/legal-hold',
    {
      config: { access: 'reader' },
      schema: {
        tags,
        summary: 'Whether a record is under legal hold, and every change to its hold',
        params: IdParamsSchema,
        response: { 200: HoldViewSchema, 404: ErrorSchema },
      },
    },
    async (request) => holdFor(callerOf(request), await records.legalHold(request.params.id)),
  );

  app.get(
    '/billing/:id/history',
    {
      config: { access: 'reader' },
      schema: {
        tags,
        summary:
          "What happened to a record, oldest first: its times, its archival, its hold's changes, the audit trail's entries",
        description:
          'Who made each audited change is shown to admins; who placed or lifted a hold and why, to admins and the legal role. A deleted record keeps its history.',
        params: IdParamsSchema,
        response: { 200: HistorySchema, ...errorResponses(400, 401, 403, 404, 429, 503) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      return history.of(request.params.id, {
        showActors: grants(caller.roles, 'admin'),
        showHoldDetails: grants(caller.roles, 'admin') || grants(caller.roles, 'legal'),
      });
    },
  );

  app.get(
    '/legal-holds',
    {
      config: { access: 'reader' },
      schema: {
        tags,
        summary: 'The legal holds in force, by record id',
        description: 'Who placed each hold and why is shown to admins and the legal role.',
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
          after: Type.Optional(IdParamsSchema.properties.id),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(HoldSchema),
            next_after: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errorResponses(400, 401, 403, 429, 503),
        },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const page = await history.holdsInForce(request.query.limit, request.query.after);
      const open = grants(caller.roles, 'admin') || grants(caller.roles, 'legal');
      return open
        ? page
        : { ...page, items: page.items.map((hold) => ({ ...hold, by: '(hidden)', reason: '(hidden)' })) };
    },
  );

  app.put(
    '/billing/:id/legal-hold',
    {
      config: {
        access: 'legal',
        audit: (request) =>
          (request.body as { held?: unknown } | undefined)?.held === false
            ? 'legal_hold.lift'
            : 'legal_hold.place',
      },
      schema: {
        tags,
        summary: 'Place (held: true) or lift (held: false) a legal hold; audited with the caller and reason',
        description:
          'A held record cannot be deleted (409 legal_hold) and is kept past RETENTION_DAYS, live or archived. Repeating a request changes nothing. A hold asked for while the record is being deleted waits for the delete: 404 once the record is gone, 409 deletion_in_progress if the delete still stands after the wait.',
        params: IdParamsSchema,
        body: HoldRequestSchema,
        response: { 200: HoldViewSchema, 400: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (request) =>
      records.setLegalHold(request.params.id, { ...request.body, by: describeIdentity(callerOf(request)) }),
  );

  app.post(
    '/restore/:id',
    {
      config: { access: 'operator', audit: 'record.restore' },
      schema: {
        tags,
        summary: 'Move an archived record back to the live store',
        params: IdParamsSchema,
        response: { 200: RecordSchema, 404: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (request, reply) => sendRecord(reply, await records.restore(request.params.id)),
  );

  return Promise.resolve();
};
