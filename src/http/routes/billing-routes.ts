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
import { holdFor, holdsFor, seesHoldDetails } from '../redaction.js';
import { listingPageBody, sendJson, sendNdjson } from '../listing-reply.js';
import { ListedItemSchema, ListingQuerySchema, listingQueryOf, ndjsonLines } from '../listing-query.js';
import { parseIfMatch, sendRecord } from '../record-reply.js';
import {
  documented,
  ErrorSchema,
  errorResponses,
  HistorySchema,
  HoldRequestSchema,
  HoldSchema,
  HoldViewSchema,
  IdParamsSchema,
  RecordSchema,
} from '../schemas.js';
import {
  HOLD_REQUEST_EXAMPLE,
  HOLD_VIEW_EXAMPLE,
  HOLDS_EXAMPLE,
  LISTING_EXAMPLE,
  NEW_RECORD_EXAMPLE,
  RECORD_EXAMPLE,
  REHYDRATING_EXAMPLE,
  REPLACEMENT_EXAMPLE,
} from '../examples.js';

const tags = ['billing'];
const errors = { 400: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 412: ErrorSchema };
const ifMatchHeader = Type.Object({
  'if-match': Type.Optional(
    Type.String({
      description: 'the ETag the record was read with: the change is refused (412) if it changed since',
    }),
  ),
});
const recordAnswer = (description: string) => documented(RecordSchema, description, RECORD_EXAMPLE);

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
        body: documented(
          NewRecordInputSchema,
          'The new record; id, currency, status and created_at are optional',
          NEW_RECORD_EXAMPLE,
        ),
        response: {
          201: recordAnswer('Created: the record as stored; Location names it, ETag is its version'),
          409: ErrorSchema,
        },
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
          200: documented(
            Type.Object({
              items: Type.Array(ListedItemSchema),
              next_cursor: Type.Union([Type.String(), Type.Null()]),
            }),
            'A page of records, live and archived, in creation order; next_cursor is null on the last page (format=ndjson streams application/x-ndjson instead)',
            LISTING_EXAMPLE,
          ),
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
        response: {
          200: recordAnswer('The record; X-Record-Source is live or archive, ETag its version'),
          202: documented(
            ErrorSchema,
            'Archived in the Archive tier: its rehydration is under way; Retry-After says when to ask again',
            REHYDRATING_EXAMPLE,
          ),
          404: ErrorSchema,
          410: ErrorSchema,
        },
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
        body: documented(
          ReplacementInputSchema,
          'The whole record with the changes; fields the API does not know are kept',
          REPLACEMENT_EXAMPLE,
        ),
        response: { 200: recordAnswer('The record as stored now, live, with its new ETag'), ...errors },
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
        response: { 204: Type.Null({ description: 'Deleted, wherever it was' }), ...errors },
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
        response: {
          200: documented(
            HoldViewSchema,
            'The hold in force (null when none) and every change to it',
            HOLD_VIEW_EXAMPLE,
          ),
          404: ErrorSchema,
        },
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
        response: {
          200: { ...HistorySchema, description: "The record's history, oldest first" },
          ...errorResponses(404, 503),
        },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      return history.of(request.params.id, {
        showActors: grants(caller.roles, 'admin'),
        showHoldDetails: seesHoldDetails(caller),
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
          limit: Type.Integer({
            minimum: 1,
            maximum: 1000,
            default: 100,
            description: 'holds a page lists at most',
          }),
          after: Type.Optional(IdParamsSchema.properties.id),
        }),
        response: {
          200: documented(
            Type.Object({
              items: Type.Array(HoldSchema),
              next_after: Type.Union([Type.String(), Type.Null()]),
            }),
            'A page of holds; next_after (null on the last page) goes in after for the next',
            HOLDS_EXAMPLE,
          ),
          ...errorResponses(503),
        },
      },
    },
    async (request) =>
      holdsFor(callerOf(request), await history.holdsInForce(request.query.limit, request.query.after)),
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
        body: documented(HoldRequestSchema, 'Place or lift, and why', HOLD_REQUEST_EXAMPLE),
        response: {
          200: documented(
            HoldViewSchema,
            'The hold as it stands now, and every change to it',
            HOLD_VIEW_EXAMPLE,
          ),
          404: ErrorSchema,
          409: ErrorSchema,
        },
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
        response: {
          200: recordAnswer('The record, live again, with restored_at'),
          404: ErrorSchema,
          409: ErrorSchema,
        },
      },
    },
    async (request, reply) => sendRecord(reply, await records.restore(request.params.id)),
  );

  return Promise.resolve();
};
