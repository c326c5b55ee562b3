import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { StoreUnavailableError } from '../domain/errors.js';
import { printable } from '../domain/printable.js';
import { isRole, type Identity, type Role } from './roles.js';

export interface TokenSettings {
  issuer: string;
  audience: string;
  jwksUrl: string;
}

/** Signing algorithms Entra ID and other OpenID providers use; `none` and shared secrets never pass. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'];

/** Why a token was refused, in one sentence for the 401 and the audit trail; never the token. */
export class TokenRefused extends Error {
  override name = 'TokenRefused';
}

/**
 * Validates bearer JWTs (Microsoft Entra ID access tokens, or any OpenID provider's) against one
 * issuer, audience and JWKS. jose caches the key set and fetches it again when a token names a key
 * it has not seen, which is how signing-key rotation reaches us.
 */
export class TokenVerifier {
  private readonly keys: JWTVerifyGetKey;

  constructor(private readonly settings: TokenSettings) {
    const remote = createRemoteJWKSet(new URL(settings.jwksUrl), {
      timeoutDuration: 5_000,
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
    });
    // The issuer's key set failing to arrive (timeout, 5xx, not JSON) is our side failing, not the
    // caller's token: 503, never 401. Only "no such key" is about the token.
    this.keys = async (header, token) => {
      try {
        return await remote(header, token);
      } catch (error) {
        if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys)
          throw error;
        throw StoreUnavailableError.failed('identity provider', 'fetching the signing keys', error);
      }
    };
  }

  /** The token's identity; TokenRefused when it is not valid here. */
  async verify(token: string): Promise<Identity> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: ALGORITHMS,
        clockTolerance: 60,
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      throw new TokenRefused(refusal(error), { cause: error });
    }
    const id = text(payload.oid) ?? payload.sub;
    if (!id) throw new TokenRefused('the token names no subject (oid or sub)');
    const claimed: unknown = payload.roles;
    const roles = new Set<Role>(
      Array.isArray(claimed) ? claimed.filter((r): r is Role => typeof r === 'string' && isRole(r)) : [],
    );
    return {
      id: `token:${id}`,
      name: displayName(text(payload.name) ?? text(payload.preferred_username)),
      kind: 'token',
      roles,
      expiresAt: typeof payload.exp === 'number' ? new Date(payload.exp * 1000) : undefined,
    };
  }
}

/** The name shown in a hold's `by` and the audit trail: it comes from the token's issuer, not from us. */
function displayName(name: string | undefined): string | undefined {
  return name === undefined ? undefined : printable(name, 128);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function refusal(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'nbf':
        return 'the token is not valid yet';
      case 'iss':
        return 'the token was issued by another issuer';
      case 'aud':
        return 'the token is meant for another audience';
      default:
        return `the token's ${error.claim} claim is not acceptable`;
    }
  }
  if (error instanceof errors.JWKSNoMatchingKey)
    return 'the token is signed with a key the issuer does not publish';
  if (error instanceof errors.JOSEAlgNotAllowed)
    return 'the token is signed with an algorithm this server does not accept';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the token signature does not verify';
  return 'the token is not a valid signed JWT';
}
