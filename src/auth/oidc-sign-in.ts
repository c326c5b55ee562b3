import { createHash, randomBytes } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { isLoopbackUrl } from '../config.js';
import { StoreUnavailableError } from '../domain/errors.js';
import { printable } from '../domain/printable.js';
import type { Identity } from './roles.js';
import { TokenRefused, type TokenVerifier } from './token-verifier.js';

export interface OidcSignInSettings {
  /** The provider's issuer (AUTH_JWT_ISSUER): its discovery document is read from there. */
  issuer: string;
  clientId: string;
  /** A confidential client's secret; without one the client is public and PKCE alone binds the code. */
  clientSecret: string | undefined;
  /** Where the provider sends the browser back: this server's /login/entra/callback. */
  redirectUrl: string;
  scope: string;
  /** RFC 8707 resource indicator, for providers that name the API so rather than by scope. */
  resource: string | undefined;
}

/**
 * What the callback must check, kept in the browser between the redirect and its return. Lax, not
 * Strict: the return is a navigation from the provider's site, which a Strict cookie would miss.
 */
export const SIGN_IN_COOKIE = '__Host-billing-archive-sign-in';
export const SIGN_IN_MINUTES = 10;
const PENDING_AUDIENCE = 'billing-archive-sign-in';

/** Why a sign-in by redirect ended without a session: a code the sign-in page explains, and a sentence for the audit trail. */
export class SignInFailed extends Error {
  override name = 'SignInFailed';
  constructor(
    readonly reason: 'expired' | 'denied' | 'refused' | 'no-role',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Sign-in by redirect to an OpenID provider (Microsoft Entra ID): the authorization code flow with
 * PKCE, state and nonce (openid-client). The access token it yields is judged by the same
 * TokenVerifier as a bearer token, so a browser signed in so has exactly the roles the token gives.
 */
export class OidcSignIn {
  private configuration: Promise<oidc.Configuration> | undefined;
  private readonly key: Uint8Array;

  constructor(
    private readonly settings: OidcSignInSettings,
    private readonly tokens: TokenVerifier,
    sessionSecret: string | undefined,
  ) {
    // Its own key, apart from the sessions': a pending sign-in can never pass for a session.
    this.key =
      sessionSecret === undefined
        ? randomBytes(32)
        : createHash('sha256').update(`sign-in\0${sessionSecret}`, 'utf8').digest();
  }

  /** Where to send the browser, and the cookie value holding what its return must match. */
  async begin(next: string): Promise<{ url: string; pending: string }> {
    const config = await this.provider();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.settings.redirectUrl,
      scope: this.settings.scope,
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...(this.settings.resource !== undefined && { resource: this.settings.resource }),
    });
    const pending = await new SignJWT({ verifier, state, nonce, next })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setAudience(PENDING_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${SIGN_IN_MINUTES}m`)
      .sign(this.key);
    return { url: url.href, pending };
  }

  /**
   * The identity the provider vouched for, from the query the browser came back with and the
   * pending cookie; SignInFailed when anything does not match or the token grants no role here.
   */
  async finish(
    callbackQuery: string,
    pending: string | undefined,
  ): Promise<{ identity: Identity; next: string }> {
    const checks = await this.pending(pending);
    const current = new URL(this.settings.redirectUrl);
    current.search = callbackQuery;
    const refusedBy = current.searchParams.get('error');
    if (refusedBy !== null) {
      const why = current.searchParams.get('error_description');
      throw new SignInFailed(
        'denied',
        `the identity provider did not sign the user in: ${printable(refusedBy, 64)}${why ? ` (${printable(why, 300)})` : ''}`,
      );
    }
    const config = await this.provider();
    let accessToken: string;
    try {
      const tokens = await oidc.authorizationCodeGrant(
        config,
        current,
        {
          pkceCodeVerifier: checks.verifier,
          expectedState: checks.state,
          expectedNonce: checks.nonce,
        },
        this.settings.resource === undefined ? undefined : { resource: this.settings.resource },
      );
      accessToken = tokens.access_token;
    } catch (error) {
      if (notTheUsers(error))
        throw StoreUnavailableError.failed(
          'identity provider',
          'redeeming the sign-in code',
          new Error(reasonOf(error), { cause: error }),
        );
      throw new SignInFailed(
        'refused',
        `the identity provider's answer did not pass its checks: ${reasonOf(error)}`,
      );
    }
    let identity: Identity;
    try {
      identity = await this.tokens.verify(accessToken);
    } catch (error) {
      if (error instanceof TokenRefused)
        throw new SignInFailed(
          'refused',
          `the access token the sign-in gave is not accepted: ${error.message}`,
        );
      throw error;
    }
    if (identity.roles.size === 0)
      throw new SignInFailed(
        'no-role',
        `${identity.id} signed in but holds no billing-archive role: an admin assigns one on the app registration`,
      );
    return { identity, next: checks.next };
  }

  private async pending(
    token: string | undefined,
  ): Promise<{ verifier: string; state: string; nonce: string; next: string }> {
    const expired = () =>
      new SignInFailed(
        'expired',
        `the sign-in was not started from this browser, or took longer than ${SIGN_IN_MINUTES} minutes`,
      );
    if (token === undefined) throw expired();
    try {
      const { payload } = await jwtVerify(token, this.key, {
        audience: PENDING_AUDIENCE,
        algorithms: ['HS256'],
        requiredClaims: ['exp'],
      });
      const { verifier, state, nonce, next } = payload;
      if (
        typeof verifier !== 'string' ||
        typeof state !== 'string' ||
        typeof nonce !== 'string' ||
        typeof next !== 'string'
      )
        throw expired();
      return { verifier, state, nonce, next };
    } catch (error) {
      if (error instanceof errors.JOSEError) throw expired();
      throw error;
    }
  }

  /** The provider's metadata, discovered once; a failed discovery is tried again on the next sign-in. */
  private provider(): Promise<oidc.Configuration> {
    const { issuer, clientId, clientSecret } = this.settings;
    const loopback = issuer.startsWith('http://') && isLoopbackUrl(issuer);
    this.configuration ??= oidc
      .discovery(
        new URL(issuer),
        clientId,
        clientSecret,
        clientSecret === undefined ? oidc.None() : oidc.ClientSecretPost(clientSecret),
        // eslint-disable-next-line @typescript-eslint/no-deprecated -- plain http for a loopback issuer only (config refuses it elsewhere)
        { timeout: 10, ...(loopback && { execute: [oidc.allowInsecureRequests] }) },
      )
      .catch((error: unknown) => {
        this.configuration = undefined;
        throw StoreUnavailableError.failed('identity provider', 'reading its discovery document', error);
      });
    return this.configuration;
  }
}

/** openid-client's message names the kind of fault; its cause says which check failed. */
function reasonOf(error: unknown): string {
  // The provider's own refusal (invalid_grant for a code spent or never issued) says most.
  if (error instanceof oidc.ResponseBodyError)
    return printable(`${error.error}${error.error_description ? `: ${error.error_description}` : ''}`, 300);
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  return cause && cause !== error.message ? `${error.message} (${cause})` : error.message;
}

/** The provider's OAuth errors that say its side or ours failed: the user's sign-in was fine. */
const PROVIDER_SIDE = new Set([
  'invalid_client',
  'unauthorized_client',
  'server_error',
  'temporarily_unavailable',
]);
const UNANSWERED = new Set([
  'OAUTH_RESPONSE_IS_NOT_CONFORM',
  'OAUTH_RESPONSE_IS_NOT_JSON',
  'OAUTH_TIMEOUT',
  'OAUTH_ABORT',
]);

/**
 * A provider that could not be reached, gave no OAuth answer, or refused this server (an expired
 * client secret is `invalid_client`): an operator's problem, not the user's.
 */
function notTheUsers(error: unknown): boolean {
  if (error instanceof TypeError) return true;
  if (error instanceof DOMException) return error.name === 'TimeoutError' || error.name === 'AbortError';
  if (error instanceof oidc.ResponseBodyError) return PROVIDER_SIDE.has(error.error);
  return error instanceof oidc.ClientError && error.code !== undefined && UNANSWERED.has(error.code);
}
