import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { RecordDocument } from '../domain/billing-record.js';
import type { CreationKey } from '../domain/creation-order.js';
import type { ListedPage, ListedRecord } from '../services/record-listing.js';
import { PAGE_MAX_BYTES, toEntityTag } from './record-reply.js';

/** Top-level fields of the record an item keeps; undefined keeps them all. */
export type Projection = readonly string[] | undefined;

/**
 * One listed record as JSON: where it lives, its version tag as the ETag header gives it, and the
 * record exactly as stored (archived bytes are sent as read, once verified), or only the fields
 * asked for. An archived record whose blob is in the Archive tier, and not rehydrated, comes
 * without its body: `rehydration_required`, and whether a rehydration is under way.
 */
export function listedItemJson(item: ListedRecord, fields: Projection): string {
  const etag = JSON.stringify(`"${toEntityTag(item.etag)}"`);
  if (item.source === 'live')
    return `{"source":"live","etag":${etag},"record":${recordJson(item.doc, fields)}}`;
  const head = `{"source":"archive","tier":${JSON.stringify(item.tier)},"etag":${etag}`;
  const { read } = item;
  if ('bytes' in read) {
    const record = fields ? recordJson(read.doc, fields) : read.bytes.toString('utf8');
    return `${head},"rehydration_required":false,"record":${record}}`;
  }
  const { id, customer_id, created_at } = item.entry;
  const known = `"id":${JSON.stringify(id)},"customer_id":${JSON.stringify(customer_id)},"created_at":${JSON.stringify(created_at)}`;
  if ('unreadable' in read)
    return `${head},"rehydration_required":false,"unreadable":"${read.unreadable}",${known}}`;
  return `${head},"rehydration_required":true,"rehydrating":${String(read.rehydrating)},${known}}`;
}

/**
 * A page as `{ items, next_cursor }`: items in order until the next would pass `maxBytes` (always
 * at least one), `next_cursor` then continuing after the last item sent.
 */
export function listingPageBody(
  page: ListedPage,
  fields: Projection,
  cursorOf: (key: CreationKey) => string,
  maxBytes = PAGE_MAX_BYTES,
): string {
  const items: string[] = [];
  let bytes = 0;
  let next = page.next;
  for (const item of page.items) {
    const json = listedItemJson(item, fields);
    const size = Buffer.byteLength(json);
    if (items.length > 0 && bytes + size > maxBytes) {
      next = page.items[items.length - 1]?.key;
      break;
    }
    items.push(json);
    bytes += size;
  }
  return `{"items":[${items.join(',')}],"next_cursor":${next ? JSON.stringify(cursorOf(next)) : 'null'}}`;
}

/** The last line of a whole export: a reader that does not find it knows the export broke off. */
export function exportEndLine(records: number): string {
  return `{"complete":true,"records":${records}}\n`;
}

function recordJson(doc: RecordDocument, fields: Projection): string {
  if (!fields) return JSON.stringify(doc);
  // The id always, so a projected item still says which record it is; own fields only, in the
  // order asked (fromEntries keeps a field named __proto__ a field).
  const kept = fields.includes('id') ? fields : ['id', ...fields];
  return JSON.stringify(
    Object.fromEntries(kept.filter((field) => Object.hasOwn(doc, field)).map((field) => [field, doc[field]])),
  );
}

/** Sends JSON already serialized (records exactly as stored), past any response schema. */
export function sendJson(reply: FastifyReply, body: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(body);
}

/** Streams NDJSON lines; an error midway ends the response unfinished, which the client sees. */
export function sendNdjson(reply: FastifyReply, lines: Readable): FastifyReply {
  return reply.type('application/x-ndjson; charset=utf-8').send(lines);
}
