import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Authenticator } from '../../auth/authenticator.js';
import type { Identity } from '../../auth/roles.js';
import { SIGN_IN_COOKIE, SIGN_IN_MINUTES, SignInFailed, type OidcSignIn } from '../../auth/oidc-sign-in.js';
import { SIGN_IN_CALLBACK_PATH } from '../../config.js';
import type { AuditLog } from '../../services/audit-log.js';
import { errorResponses } from '../schemas.js';
import { setSessionCookie } from './session-routes.js';

const tags = ['session'];

export interface SignInRoutesOptions {
  authenticator: Authenticator;
  signIn: OidcSignIn;
  audit: AuditLog;
}

const REDIRECT = (description: string) => Type.Null({ description, headers: { Location: Type.String() } });

/**
 * The console's sign-in by redirect to Microsoft Entra ID (any OpenID provider): /login/entra sends
 * the browser there, and the provider sends it back to the callback, which opens the same session
 * cookie as the sign-in form. Both are public: nobody is signed in yet.
 */
export const signInRoutes: FastifyPluginAsyncTypebox<SignInRoutesOptions> = (
  app,
  { authenticator, signIn, audit },
) => {
  app.get(
    '/login/entra',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'Sign a browser in at Microsoft Entra ID: a redirect there (authorization code with PKCE)',
        security: [],
        querystring: Type.Object({
          next: Type.Optional(
            Type.String({ maxLength: 2000, description: 'a page of this server to go to once signed in' }),
          ),
        }),
        response: {
          303: REDIRECT(
            'To the identity provider, a short-lived cookie holding what its answer must match; or back to /login?failed=unavailable when the provider cannot be reached',
          ),
          ...errorResponses(400, 429),
        },
      },
    },
    async (request, reply) => {
      void reply.header('Cache-Control', 'no-store');
      let started;
      try {
        started = await signIn.begin(localPath(request.query.next));
      } catch (error) {
        // The provider's discovery document did not arrive: say so on the sign-in page, not in JSON.
        request.log.error({ err: error }, 'sign-in by redirect could not start');
        return reply.redirect('/login?failed=unavailable', 303);
      }
      const { url, pending } = started;
      void reply.setCookie(SIGN_IN_COOKIE, pending, { ...pendingCookie(), maxAge: SIGN_IN_MINUTES * 60 });
      return reply.redirect(url, 303);
    },
  );

  app.get(
    SIGN_IN_CALLBACK_PATH,
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'Where Microsoft Entra ID sends the browser back: opens the browser session',
        description:
          'Answers a page that goes on to the page asked for (a redirect would carry no SameSite=Strict cookie after the trip through the provider); a failed sign-in goes back to /login, which says why.',
        security: [],
        querystring: Type.Object({}, { additionalProperties: true }),
        response: {
          200: {
            description: 'Signed in: Set-Cookie carries the session; the page goes on to the page asked for',
            content: { 'text/html': { schema: Type.String() } },
          },
          303: REDIRECT('Not signed in: back to /login?failed=…, which explains'),
          ...errorResponses(429),
        },
      },
    },
    async (request, reply) => {
      void reply.header('Cache-Control', 'no-store');
      void reply.clearCookie(SIGN_IN_COOKIE, pendingCookie());
      const url = request.raw.url ?? '';
      const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
      let signedIn;
      try {
        signedIn = await signIn.finish(query, request.cookies[SIGN_IN_COOKIE]);
      } catch (error) {
        // Every way it can end is audited, and the browser is told on the sign-in page, not in JSON.
        const failure = error instanceof SignInFailed ? error : undefined;
        const why = failure?.message ?? (error instanceof Error ? error.message : String(error));
        if (failure) request.log.warn({ reason: failure.reason, detail: why }, 'sign-in by redirect refused');
        else request.log.error({ err: error }, 'sign-in by redirect could not be completed');
        await record(request, undefined, { why, outcome: failure ? 'unauthenticated' : 'failed' });
        return reply.redirect(`/login?failed=${failure?.reason ?? 'unavailable'}`, 303);
      }
      const { identity, next } = signedIn;
      const { token, session } = await authenticator.openSession(identity, undefined);
      setSessionCookie(reply, token, session.expiresAt);
      await record(request, identity);
      return reply.type('text/html; charset=utf-8').send(goOnTo(next));
    },
  );

  /**
   * The attempt, in the caller's name once signed in; a failed one is anonymous, whatever session
   * the browser already had (a public route reads it, but this attempt is not that session's).
   */
  async function record(
    request: FastifyRequest,
    identity: Identity | undefined,
    failed?: { why: string; outcome: 'unauthenticated' | 'failed' },
  ): Promise<void> {
    await audit.record({
      actor: identity?.id ?? 'anonymous',
      actor_name: identity?.name,
      action: 'session.open',
      outcome: failed?.outcome ?? 'succeeded',
      request_id: request.id,
      client: request.ip,
      detail: failed
        ? `signing in at the identity provider failed: ${failed.why}`
        : 'signed in at the identity provider',
    });
  }

  return Promise.resolve();
};

/** Lax: the browser sends it on the provider's redirect back, a top-level navigation from another site. */
function pendingCookie() {
  return { path: '/', httpOnly: true, secure: true, sameSite: 'lax' as const };
}

/**
 * A page of this server, never another site: parsed as a browser would navigate to it (which drops
 * tabs and newlines), then judged by its origin, as the sign-in form judges it.
 */
export function localPath(next: string | undefined): string {
  const origin = 'https://this-server.invalid';
  try {
    const url = new URL(next ?? '/', origin);
    // A path can still begin '//' ('/.//evil.example' resolves so), which names another host.
    return url.origin === origin ? `/${url.pathname.replace(/^[/\\]+/, '')}${url.search}` : '/';
  } catch {
    return '/';
  }
}

/**
 * A page that navigates on by itself. The session cookie is SameSite=Strict, and a redirect at the
 * end of a trip that began on the provider's site would be sent without it.
 */
function goOnTo(path: string): string {
  const href = path.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta http-equiv="refresh" content="0; url=${href}" />
    <title>Signed in · billing-archive</title>
  </head>
  <body><p>Signed in. <a href="${href}">Go on</a>.</p></body>
</html>
`;
}
