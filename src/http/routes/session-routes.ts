import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { Authenticator } from '../../auth/authenticator.js';
import { SESSION_COOKIE } from '../../auth/browser-sessions.js';
import type { Identity } from '../../auth/roles.js';
import { ValidationError } from '../../domain/errors.js';
import { callerOf } from '../access.js';
import { errorResponses } from '../schemas.js';

const tags = ['session'];

const SessionSchema = Type.Object(
  {
    identity: Type.Object({
      id: Type.String({ description: 'key:<name>, token:<oid>, or anonymous when AUTH_DISABLED is set' }),
      name: Type.Union([Type.String(), Type.Null()]),
      roles: Type.Array(Type.String()),
    }),
    csrf_token: Type.Union([Type.String(), Type.Null()], {
      description:
        'send it as X-CSRF-Token with every change a browser session makes; null when the caller is not a browser session',
    }),
    expires_at: Type.Union([Type.String(), Type.Null()], {
      description: 'when the session (or the token that proved the caller) ends; null for an API key',
    }),
  },
  {
    examples: [
      {
        identity: { id: 'key:ops-dashboard', name: null, roles: ['reader'] },
        csrf_token: 'k3Q2n8yXWv0qk9sT1bH0cJd4mPz6LrAe',
        expires_at: '2026-12-01T17:00:00.000Z',
      },
    ],
  },
);

export interface SessionRoutesOptions {
  authenticator: Authenticator;
}

/**
 * Browser sessions for the console: signing in with an API key or a token sets an HttpOnly,
 * Secure, SameSite=Strict cookie, and every change made with it must echo its CSRF token.
 */
export const sessionRoutes: FastifyPluginAsyncTypebox<SessionRoutesOptions> = (app, { authenticator }) => {
  app.post(
    '/session',
    {
      config: { access: 'reader', audit: 'session.open' },
      schema: {
        tags,
        summary: 'Sign a browser in: the API key or token in the Authorization header opens a session cookie',
        description:
          'Answers with the session and sets the `__Host-billing-archive-session` cookie (HttpOnly, Secure, SameSite=Strict). The credential must come in a header: a session cannot open another.',
        response: {
          200: {
            ...SessionSchema,
            description: 'Signed in: Set-Cookie carries the session; send csrf_token with each change',
          },
          ...errorResponses(400, 401, 403, 429),
        },
      },
    },
    async (request, reply) => {
      if (request.browserSession)
        throw new ValidationError(
          'sign in with an API key or a token in the Authorization header: a session cannot open another',
        );
      const identity = callerOf(request);
      if (authenticator.disabled) return sessionView(identity, null);
      const { token, session } = await authenticator.openSession(identity, request.keyFingerprint);
      setSessionCookie(reply, token, session.expiresAt);
      return sessionView(session.identity, session.csrf);
    },
  );

  app.get(
    '/session',
    {
      config: { access: 'reader' },
      schema: {
        tags,
        summary: 'Who the caller is, and the CSRF token of its browser session',
        response: {
          200: { ...SessionSchema, description: 'The caller, and its session if it is a browser' },
          ...errorResponses(401, 403, 429),
        },
      },
    },
    (request) => sessionView(callerOf(request), request.browserSession?.csrf ?? null),
  );

  app.delete(
    '/session',
    {
      config: { access: 'reader', audit: 'session.close' },
      schema: {
        tags,
        summary:
          'Sign the browser out: the session cookie is cleared (with a session, X-CSRF-Token is needed)',
        response: { 204: Type.Null({ description: 'signed out' }), ...errorResponses(401, 403, 429) },
      },
    },
    async (_request, reply) => {
      void reply.clearCookie(SESSION_COOKIE, cookieOptions());
      return reply.code(204).send(null);
    },
  );

  return Promise.resolve();
};

function sessionView(identity: Identity, csrf: string | null) {
  return {
    identity: { id: identity.id, name: identity.name ?? null, roles: [...identity.roles] },
    csrf_token: csrf,
    expires_at: identity.expiresAt?.toISOString() ?? null,
  };
}

export function setSessionCookie(reply: FastifyReply, token: string, expires: Date): void {
  void reply.setCookie(SESSION_COOKIE, token, { ...cookieOptions(), expires });
}

/** What the `__Host-` prefix demands (Secure, Path=/, no Domain), and no script or other site may use it. */
function cookieOptions() {
  return { path: '/', httpOnly: true, secure: true, sameSite: 'strict' as const };
}
