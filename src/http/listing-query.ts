import { Type, type Static } from 'typebox';
import { StatusSchema } from '../domain/billing-record.js';
import type { CursorFilters } from '../domain/listing-cursor.js';
import { ValidationError } from '../domain/errors.js';
import { timeBound } from '../domain/time-bounds.js';
import { PROBLEM } from '../domain/schema-validator.js';
import type { PageRequest, RecordListing, RecordQuery } from '../services/record-listing.js';
import { exportEndLine, listedItemJson, type Projection } from './listing-reply.js';
import { RecordSchema } from './schemas.js';

const FIELD_NAME = '[A-Za-z0-9_]{1,64}';
const TIME = {
  maxLength: 64,
  [PROBLEM]: 'must be an RFC 3339 date-time such as 2025-01-01T00:00:00Z',
};

/** `GET /billing`'s query: unknown parameters are refused (the old `after` would otherwise loop on page one). */
export const ListingQuerySchema = Type.Object(
  {
    limit: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 100,
      description: 'records a page holds at most',
    }),
    cursor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 16384, description: 'next_cursor of the previous page' }),
    ),
    customer_id: Type.Optional(
      Type.String({ minLength: 1, maxLength: 128, description: "only this customer's records" }),
    ),
    status: Type.Optional({ ...StatusSchema, description: 'only records in this status' }),
    created_from: Type.Optional(Type.String({ ...TIME, description: 'inclusive, RFC 3339' })),
    created_to: Type.Optional(Type.String({ ...TIME, description: 'exclusive, RFC 3339' })),
    rehydrate: Type.Boolean({ default: false, description: 'start rehydrating Archive-tier records listed' }),
    fields: Type.Optional(
      Type.String({
        pattern: `^${FIELD_NAME}(,${FIELD_NAME}){0,63}$`,
        [PROBLEM]: 'must be field names separated by commas, such as id,amount,status',
        description: 'keep only these fields of each record, such as id,amount,status',
      }),
    ),
    format: Type.Union([Type.Literal('json'), Type.Literal('ndjson')], {
      default: 'json',
      description: 'json: one page; ndjson: every matching record, one item a line',
    }),
  },
  { additionalProperties: false },
);

export type ListingQuery = Static<typeof ListingQuerySchema>;

/** One item of a listing (documentation only: items are sent pre-serialized). */
export const ListedItemSchema = Type.Object(
  {
    source: Type.Union([Type.Literal('live'), Type.Literal('archive')]),
    etag: Type.String({ description: 'as the ETag header gives it, for If-Match' }),
    tier: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'archived: the blob tier' })),
    rehydration_required: Type.Optional(Type.Boolean()),
    rehydrating: Type.Optional(Type.Boolean()),
    record: Type.Optional(RecordSchema),
  },
  { additionalProperties: true },
);

/** The listing's filters, with times read as instants, and the same filters as the cursor binds them. */
export function listingQueryOf(query: ListingQuery): { query: RecordQuery; filters: CursorFilters } {
  const problems: string[] = [];
  const createdFrom = timeBound('query parameter created_from', query.created_from, problems);
  const createdBefore = timeBound('query parameter created_to', query.created_to, problems);
  if (createdFrom !== undefined && createdBefore !== undefined && createdFrom >= createdBefore)
    problems.push('query parameter created_from must be before created_to');
  // An export would start rehydrating every Archive-tier blob it meets, in one request.
  if (query.rehydrate && query.format === 'ndjson')
    problems.push(
      'query parameter rehydrate=true works on pages only: page with format=json to rehydrate what you list',
    );
  if (problems.length > 0) throw new ValidationError(problems);
  return {
    query: { customerId: query.customer_id, status: query.status, createdFrom, createdBefore },
    filters: {
      customer_id: query.customer_id,
      status: query.status,
      created_from: createdFrom,
      created_to: createdBefore,
    },
  };
}

/** Every matching record, page after page, one item a line: an export that never holds more than a page. */
export async function* ndjsonLines(
  listing: RecordListing,
  query: RecordQuery,
  request: PageRequest,
  fields: Projection,
): AsyncIterable<string> {
  let after = request.after;
  let records = 0;
  for (;;) {
    const page = await listing.page(query, { ...request, after });
    if (page.items.length > 0) yield `${page.items.map((item) => listedItemJson(item, fields)).join('\n')}\n`;
    records += page.items.length;
    if (!page.next) break;
    after = page.next;
  }
  yield exportEndLine(records);
}
