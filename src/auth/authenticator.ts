import type { AuthSettings } from '../config.js';
import { ApiKeyRing } from './api-keys.js';
import { ROLES, type Identity } from './roles.js';
import { TokenRefused, TokenVerifier } from './token-verifier.js';

/** What the caller sent, as the HTTP edge reads it. */
export interface Credentials {
  authorization?: string | undefined;
  apiKey?: string | undefined;
}

export type Authentication =
  | { ok: true; identity: Identity }
  /** `presented`: a credential was sent and failed (audited), rather than none sent at all. */
  | { ok: false; reason: string; presented: boolean };

const EVERYTHING: Identity = { id: 'anonymous', kind: 'auth-disabled', roles: new Set(ROLES) };
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Turns what a request carries into an identity: an API key, an Entra ID token, or nothing. */
export class Authenticator {
  private readonly keys: ApiKeyRing;
  private readonly tokens: TokenVerifier | undefined;

  constructor(private readonly settings: AuthSettings) {
    this.keys = new ApiKeyRing(settings.apiKeys);
    this.tokens = settings.token && new TokenVerifier(settings.token);
  }

  async authenticate(credentials: Credentials): Promise<Authentication> {
    if (this.settings.disabled) return { ok: true, identity: EVERYTHING };
    const { authorization, apiKey } = credentials;
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
    if (secret === undefined || secret === '')
      return { ok: false, presented: false, reason: 'this route needs an API key or a bearer token' };
    const byKey = this.keys.identify(secret);
    if (byKey) return { ok: true, identity: byKey };
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
}
