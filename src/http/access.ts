import { isRunId } from '../domain/archival-runs.js';
import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Authenticator } from '../auth/authenticator.js';
import { CSRF_HEADER, csrfMatches, SESSION_COOKIE, type BrowserSession } from '../auth/browser-sessions.js';
import { grants, type Identity, type Role } from '../auth/roles.js';
import type { HttpLimits } from '../config.js';
import { isValidRecordId } from '../domain/billing-record.js';
import { ForbiddenError, RateLimitedError, UnauthenticatedError } from '../domain/errors.js';
import type { AuditOutcome } from '../ports/audit-trail.js';
import type { AuditLog } from '../services/audit-log.js';

/** Who may call a route: a role, or anybody (`public`: only /health and /ready). */
export type Access = Role | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Required on every route: registering one without it fails at start. */
    access?: Access;
    /** The audit action of a route that changes something, e.g. `record.create`, or how to tell it from the request. */
    audit?: string | ((request: FastifyRequest) => string);
    /** A console page: a browser that is not signed in is sent to the sign-in form instead of a 401. */
    page?: boolean;
  }
  interface FastifyRequest {
    /** The caller, once authenticated; undefined for an anonymous call to a public route. */
    identity?: Identity;
    /** The signed-in browser's session, when the caller authenticated with the session cookie. */
    browserSession?: BrowserSession;
    /** The API key that proved the identity, named without its secret, for opening a session. */
    keyFingerprint?: string;
  }
}

/** Methods that change nothing: a browser session needs no CSRF token for them. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const WWW_AUTHENTICATE = 'Bearer realm="billing-archive"';

/** The identity a route handler runs for; only routes that need a role call it. */
export function callerOf(request: FastifyRequest): Identity {
  if (!request.identity) throw new Error(`${request.url} reached its handler with no identity`);
  return request.identity;
}

/**
 * Authentication, authorisation, rate limits and the audit trail of changes, for every route.
 * Order per request: identify (onRequest) → rate limit, keyed by identity or by client address
 * (route onRequest) → refuse with 401/403 (preParsing, so an anonymous body is never parsed) →
 * the handler → audit (onSend, before the answer leaves).
 */
export async function registerAccess(
  app: FastifyInstance,
  options: { authenticator: Authenticator; audit: AuditLog; limits: HttpLimits },
): Promise<void> {
  const { authenticator, audit, limits } = options;
  const refusals = new WeakMap<FastifyRequest, { reason: string; presented: boolean }>();
  // An error answered below 400 (202 rehydrating) still changed nothing: the audit must not say it did.
  const failures = new WeakMap<FastifyRequest, Error>();

  app.addHook('onRoute', (route) => {
    if (route.config?.access === undefined)
      throw new Error(`route ${String(route.method)} ${route.url} declares no access role`);
  });

  // Parses the Cookie header before the hook below reads the session from it; signs nothing.
  await app.register(cookie);

  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config.access;
    if (access === undefined) return;
    const header = request.headers['x-api-key'];
    const credentials = {
      authorization: request.headers.authorization,
      apiKey: Array.isArray(header) ? header.join(',') : header,
      session: request.cookies[SESSION_COOKIE],
    };
    if (access === 'public') {
      // A public route answers whatever the credential: an unreachable identity provider makes
      // the caller anonymous here, not the probe fail.
      const result = await authenticator.authenticate(credentials).catch(() => undefined);
      if (result?.ok) request.identity = result.identity;
      return;
    }
    const result = await authenticator.authenticate(credentials);
    if (result.ok) {
      request.identity = result.identity;
      request.browserSession = result.session;
      request.keyFingerprint = result.keyFingerprint;
    } else refusals.set(request, result);
  });

  await app.register(rateLimit, {
    global: true,
    keyGenerator: (request) => (request.identity ? `id:${request.identity.id}` : `ip:${request.ip}`),
    // A configured 0 turns the limit off: no caller reaches a billion requests a minute.
    max: (request) =>
      (request.identity ? limits.perIdentityPerMinute : limits.anonymousPerMinute) || 1_000_000_000,
    timeWindow: 60_000,
    // Liveness probes are never limited; /ready asks every store, so it is, like any anonymous call.
    allowList: (request) => request.routeOptions.url === '/health',
    errorResponseBuilder: (_request, context) =>
      new RateLimitedError(
        `too many requests: at most ${context.max} a minute, try again in ${Math.ceil(context.ttl / 1000)} s`,
      ),
  });

  app.addHook('preParsing', async (request, reply) => {
    const access = request.routeOptions.config.access;
    if (access === undefined || access === 'public') return;
    const refusal = refusals.get(request);
    if ((refusal || !request.identity) && request.routeOptions.config.page && acceptsHtml(request))
      return reply.redirect(`/login?next=${encodeURIComponent(request.url)}`, 303);
    if (refusal || !request.identity) {
      void reply.header(
        'WWW-Authenticate',
        refusal?.presented ? `${WWW_AUTHENTICATE}, error="invalid_token"` : WWW_AUTHENTICATE,
      );
      throw new UnauthenticatedError(refusal?.reason ?? 'this route needs an API key or a bearer token');
    }
    // The cookie rides along with any request the browser makes, a cross-site form's too; the
    // token does not, so a change made with the cookie alone is refused.
    if (
      request.browserSession &&
      !SAFE_METHODS.has(request.method) &&
      !csrfMatches(request.browserSession, headerText(request, CSRF_HEADER))
    )
      throw new ForbiddenError(
        'a change made with a browser session needs its X-CSRF-Token header (from GET /session), which a request from another site cannot send',
      );
    if (!grants(request.identity.roles, access))
      throw new ForbiddenError(`this needs the ${access} role, which ${request.identity.id} does not have`);
  });

  app.addHook('onError', (request, _reply, error, done) => {
    failures.set(request, error);
    done();
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const { access, audit: auditAs } = request.routeOptions.config;
    if (access !== undefined && access !== 'public') void reply.header('Cache-Control', 'no-store');
    const status = reply.statusCode;
    const presented = refusals.get(request)?.presented === true;
    if (!auditAs && !(status === 401 && presented) && status !== 403) return payload;
    const action = typeof auditAs === 'function' ? auditAs(request) : auditAs;
    const failed = failures.get(request);
    await audit.record({
      actor: request.identity?.id ?? 'anonymous',
      actor_name: request.identity?.name,
      action: status === 401 && presented ? 'auth.failed' : (action ?? 'access.denied'),
      outcome: outcomeOf(status, failed !== undefined),
      status,
      record_id: recordIdOf(request, reply),
      run_id: runIdOf(request, payload),
      request_id: request.id,
      client: request.ip,
      detail: status >= 400 || failed ? errorSentence(payload) : undefined,
    });
    return payload;
  });
}

function acceptsHtml(request: FastifyRequest): boolean {
  return (
    (request.method === 'GET' || request.method === 'HEAD') && /text\/html/.test(request.headers.accept ?? '')
  );
}

function headerText(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** The record a request is about, only when it is a valid record id: callers choose the text. */
function recordIdOf(request: FastifyRequest, reply: FastifyReply): string | undefined {
  const params = request.params as { id?: unknown } | undefined;
  const body = request.body as { id?: unknown } | undefined;
  const location = reply.getHeader('location');
  const candidate =
    typeof params?.id === 'string'
      ? params.id
      : typeof location === 'string' && location.startsWith('/billing/')
        ? decodeURIComponent(location.slice('/billing/'.length))
        : body?.id;
  return typeof candidate === 'string' && isValidRecordId(candidate) ? candidate : undefined;
}

function outcomeOf(status: number, failed: boolean): AuditOutcome {
  if (status < 400) return failed ? 'refused' : 'succeeded';
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'denied';
  return status < 500 ? 'refused' : 'failed';
}

/** The run an archival request, or the job a restore request, started or refers to, from the answer's JSON. */
function runIdOf(request: FastifyRequest, payload: unknown): string | undefined {
  const url = request.routeOptions.url ?? '';
  // Not `/restore/:id`, which answers with a record: a record's own fields name no run.
  if (
    !(url.startsWith('/archive') || url === '/restore' || url.startsWith('/restore/jobs')) ||
    typeof payload !== 'string'
  )
    return undefined;
  try {
    const body = JSON.parse(payload) as { run_id?: unknown; job_id?: unknown };
    if (typeof body.run_id === 'string') return body.run_id;
    if (typeof body.job_id === 'string') return body.job_id;
  } catch {
    // Not JSON: the path may still name the run.
  }
  // A refused pause or resume answers without the run: the path names it, when it is a run id.
  const params = request.params as { run_id?: unknown; job_id?: unknown } | undefined;
  const named = params?.run_id ?? params?.job_id;
  return typeof named === 'string' && isRunId(named) ? named : undefined;
}

/** "code: message" of an error answer: never a record body (errors carry none). */
function errorSentence(payload: unknown): string | undefined {
  if (typeof payload !== 'string') return undefined;
  try {
    const body = JSON.parse(payload) as { error?: unknown; message?: unknown };
    return `${String(body.error)}: ${String(body.message)}`;
  } catch {
    return undefined;
  }
}
