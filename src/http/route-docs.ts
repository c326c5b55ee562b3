import type { FastifyInstance, RouteOptions } from 'fastify';
import { errorResponses, isErrorStatus, type ErrorStatus } from './schemas.js';

type Responses = Record<string, unknown>;

/** Routes the rate limit lets through (access.ts): a probe must never be turned away. */
const UNLIMITED = new Set(['/health']);

/**
 * The errors every route shares, added to its documented answers in one place, so no route can
 * forget one: 429 (the rate limit, all but /health), 401 and 403 (every route behind a role), 400
 * (anything that validates its input), 413 and 415 (a body too large or not JSON). A route's own
 * entry for a status it shares with these keeps its wording; a bare error schema gets the
 * status's description and example.
 */
export function sharedErrors(route: Pick<RouteOptions, 'url' | 'schema' | 'config'>): ErrorStatus[] {
  const schema = route.schema ?? {};
  const statuses: ErrorStatus[] = [];
  const validates = ['params', 'querystring', 'body', 'headers'].some((part) => part in schema);
  if (validates) statuses.push(400);
  if (route.config?.access !== 'public') statuses.push(401, 403);
  if (schema.body) statuses.push(413, 415);
  if (!UNLIMITED.has(route.url)) statuses.push(429);
  return statuses;
}

/** Completes each route's documented answers (before @fastify/swagger reads them). */
export function registerRouteDocs(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (!route.schema) return;
    const responses: Responses = { ...(route.schema.response as Responses | undefined) };
    for (const status of sharedErrors(route)) responses[status] ??= errorResponses(status)[status];
    for (const [status, schema] of Object.entries(responses)) {
      const code = Number(status);
      const described = typeof schema === 'object' && schema !== null && 'description' in schema;
      if (code < 400 || described) continue;
      if (!isErrorStatus(code))
        throw new Error(
          `route ${route.url} answers ${status}, which no error status in schemas.ts describes`,
        );
      responses[status] = errorResponses(code)[code];
    }
    route.schema.response = responses;
  });
}
