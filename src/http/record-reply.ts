import type { FastifyReply } from 'fastify';
import { ValidationError } from '../domain/errors.js';
import type { IfMatch, RecordView } from '../services/record-service.js';

/**
 * Sends a record exactly as stored: pre-serialized with JSON.stringify, so no response schema can
 * drop or coerce a field of a document imported from elsewhere. An archived record goes as the
 * bytes read, which are its canonical bytes once verified: no second serialization.
 */
export function sendRecord(reply: FastifyReply, view: RecordView, status = 200): FastifyReply {
  return reply
    .code(status)
    .header('ETag', `"${toEntityTag(view.etag)}"`)
    .header('X-Record-Source', view.source)
    .type('application/json; charset=utf-8')
    .send(view.bytes ?? JSON.stringify(view.doc));
}

/**
 * A page of records stops growing past this many bytes of JSON, so no `limit` builds an answer of
 * gigabytes (a thousand documents written by other systems may be 2 MB each); `next_cursor` then
 * continues from the last record sent.
 */
export const PAGE_MAX_BYTES = 8 * 1024 * 1024;

/** Store etags that are not valid HTTP entity-tag characters (Cosmos DB quotes its own) travel encoded. */
const ENCODED = 'b64.';
const ENTITY_TAG_CHARS = /^[\x21\x23-\x7e]+$/;

export function toEntityTag(etag: string): string {
  return ENTITY_TAG_CHARS.test(etag) && !etag.startsWith(ENCODED)
    ? etag
    : `${ENCODED}${Buffer.from(etag, 'utf8').toString('base64url')}`;
}

/** The store etag an If-Match header names: '*', or one strong or weak entity tag. */
export function parseIfMatch(header: string | undefined): IfMatch {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (value === '*') return '*';
  const match = /^(?:W\/)?"([^"]*)"$/.exec(value) ?? /^([^",\s]+)$/.exec(value);
  if (!match?.[1]) {
    throw new ValidationError(`If-Match must be * or one etag as returned in the ETag header (got ${value})`);
  }
  const tag = match[1];
  return tag.startsWith(ENCODED) ? Buffer.from(tag.slice(ENCODED.length), 'base64url').toString('utf8') : tag;
}
