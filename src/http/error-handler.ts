import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionError, FastifyError, FastifyInstance } from 'fastify';
import { ArchivedOfflineError, DomainError, IndexRebuildingError } from '../domain/errors.js';
import { schemaProblems } from '../domain/schema-validator.js';
import { ERROR_CODES } from '../error-codes.js';

/** Fastify's own client errors, renamed to stable codes of ours. */
const FASTIFY_CODES: Record<string, { status: number; code: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'invalid_json' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'invalid_json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'invalid_content_length' },
};

const STORE_RETRY_AFTER_SECONDS = 5;
/** A rebuild takes minutes: asking again at once only loads the store it reads. */
const REBUILD_RETRY_AFTER_SECONDS = 60;

/** Every error leaves as JSON `{ error, message }`; 5xx details stay in the log. */
export function registerErrorHandlers(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    return reply
      .code(404)
      .send({ error: 'route_not_found', message: `no route for ${request.method} ${request.url}` });
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ArchivedOfflineError) {
      return reply
        .code(202)
        .header('Retry-After', String(error.retryAfterSeconds))
        .send({ error: error.code, message: error.message, retry_after_seconds: error.retryAfterSeconds });
    }
    if (error instanceof DomainError) {
      const status = ERROR_CODES[error.code]?.http;
      if (status !== undefined && status < 500) {
        return reply.code(status).send({ error: error.code, message: error.message, ...error.details });
      }
      if (error instanceof IndexRebuildingError)
        return reply
          .code(503)
          .header('Retry-After', String(REBUILD_RETRY_AFTER_SECONDS))
          .send({ error: error.code, message: error.message });
      request.log.error({ err: error, details: error.details }, `request failed: ${error.code}`);
      // A store that is down after our retries is worth asking again soon, not at once.
      if (status === 503) reply.header('Retry-After', String(STORE_RETRY_AFTER_SECONDS));
      return reply.code(status ?? 500).send({
        error: error.code,
        message: `${error.code === 'integrity_error' ? 'the stored copy failed its integrity check' : 'a store failed'}; see the server log for request ${request.id}`,
      });
    }
    if (error.validation) {
      const problems = schemaProblems(error.validation, error.validationContext ?? 'request');
      return reply.code(400).send({ error: 'validation_error', message: problems.join('; '), problems });
    }
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      // Fastify's own message only names the status.
      const type = request.headers['content-type'];
      return reply.code(415).send({
        error: 'unsupported_media_type',
        message: `the body must be JSON in UTF-8, sent with Content-Type: application/json (got ${type === undefined ? 'no Content-Type' : `'${type}'`})`,
      });
    }
    const known = FASTIFY_CODES[error.code];
    if (known) return reply.code(known.status).send({ error: known.code, message: error.message });
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send({ error: 'bad_request', message: error.message });
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send({
      error: 'internal_error',
      message: `internal error; see the server log for request ${request.id}`,
    });
  });
}

/**
 * Answers what never became a request (HTTP the parser could not read, a header section too
 * large, a request that did not arrive in time) in the same JSON shape, then closes the
 * connection, as Node and Fastify do: Fastify's own answer names only the status.
 */
export function answerClientError(error: ConnectionError & { reason?: unknown }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, body] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, { error: 'request_timeout', message: 'the request did not arrive whole in time' }]
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [
            431,
            { error: 'headers_too_large', message: 'the request headers are larger than the server reads' },
          ]
        : [
            400,
            {
              error: 'bad_request',
              message: `the request is not valid HTTP/1.1: ${typeof error.reason === 'string' ? error.reason : error.code}`,
            },
          ];
  const json = JSON.stringify(body);
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Length: ${Buffer.byteLength(json)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${json}`,
    );
  socket.destroy(error);
}
