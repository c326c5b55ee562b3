import type { AuthSettings } from '../config.js';
import { ApiKeyRing } from './api-keys.js';
import { BrowserSessions, type BrowserSession } from './browser-sessions.js';
import { OidcSignIn } from './oidc-sign-in.js';
import { ROLES, type Identity } from './roles.js';
import { TokenRefused, TokenVerifier } from './token-verifier.js';

/** What the caller sent, as the HTTP edge reads it. */
export interface Credentials {
  authorization?: string | undefined;
  apiKey?: string | undefined;
  /** The browser session cookie; read only when no Authorization or X-API-Key is sent. */
  session?: string | undefined;
}

export type Authentication =
  | {
      ok: true;
      identity: Identity;
      /** The caller is a signed-in browser, whose state-changing requests must echo its CSRF token. */
      session?: BrowserSession;
      /** Names the API key that proved the identity, for a session opened with it. */
      keyFingerprint?: string;
    }
  /** `presented`: a credential was sent and failed (audited), rather than none sent at all. */
  | { ok: false; reason: string; presented: boolean };

const EVERYTHING: Identity = { id: 'anonymous', kind: 'auth-disabled', roles: new Set(ROLES) };
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const HOUR_MS = 60 * 60 * 1000;

/** Turns what a request carries into an identity: an API key, an Entra ID token, a browser session, or nothing. */
export class Authenticator {
  private readonly keys: ApiKeyRing;
  private readonly tokens: TokenVerifier | undefined;
  private readonly sessions: BrowserSessions;
  /** The console's sign-in by redirect to the token issuer, where AUTH_OIDC_* configure it. */
  readonly redirectSignIn: OidcSignIn | undefined;

  constructor(private readonly settings: AuthSettings) {
    this.keys = new ApiKeyRing(settings.apiKeys);
    this.tokens = settings.token && new TokenVerifier(settings.token);
    this.redirectSignIn =
      this.tokens && settings.redirectSignIn
        ? new OidcSignIn(settings.redirectSignIn, this.tokens, settings.sessions.secret)
        : undefined;
    this.sessions = new BrowserSessions(
      settings.sessions.secret,
      settings.sessions.hours * HOUR_MS,
      (identity, fingerprint) =>
        identity.kind === 'api-key'
          ? fingerprint === undefined
            ? undefined
            : this.keys.standing(identity.id, fingerprint)
          : // A token's session ends with the token, and at once if tokens are no longer accepted.
            this.tokens && identity,
    );
  }

  get disabled(): boolean {
    return this.settings.disabled;
  }

  async authenticate(credentials: Credentials): Promise<Authentication> {
    if (this.settings.disabled) return { ok: true, identity: EVERYTHING };
    const { authorization, apiKey, session } = credentials;
    if (authorization !== undefined && apiKey !== undefined)
      return {
        ok: false,
        presented: true,
        reason: 'send one credential: Authorization or X-API-Key, not both',
      };
    let secret = apiKey;
    if (authorization !== undefined) {
      const bearer = /^Bearer +(\S+) *$/i.exec(authorization);
      if (!bearer?.[1])
        return {
          ok: false,
          presented: true,
          reason: 'the Authorization header must be "Bearer <key or token>"',
        };
      secret = bearer[1];
    }
    if ((secret === undefined || secret === '') && session !== undefined) {
      const signedIn = await this.sessions.read(session);
      return signedIn
        ? { ok: true, identity: signedIn.identity, session: signedIn }
        : {
            ok: false,
            presented: true,
            reason: 'the browser session has ended or is not valid: sign in again',
          };
    }
    if (secret === undefined || secret === '')
      return { ok: false, presented: false, reason: 'this route needs an API key or a bearer token' };
    const byKey = this.keys.match(secret);
    if (byKey) return { ok: true, identity: byKey.identity, keyFingerprint: byKey.fingerprint };
    if (this.tokens && JWT_SHAPE.test(secret)) {
      try {
        return { ok: true, identity: await this.tokens.verify(secret) };
      } catch (error) {
        if (error instanceof TokenRefused) return { ok: false, presented: true, reason: error.message };
        throw error;
      }
    }
    return { ok: false, presented: true, reason: 'the API key or token is not valid' };
  }

  /** Opens a browser session for a caller an API key or a token proved, for the sign-in form. */
  async openSession(
    identity: Identity,
    keyFingerprint: string | undefined,
  ): Promise<{ token: string; session: BrowserSession }> {
    return this.sessions.open(identity, keyFingerprint);
  }
}
