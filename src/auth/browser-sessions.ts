import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import { isRole, type Identity, type Role } from './roles.js';

/**
 * The browser session's cookie. `__Host-` makes the browser refuse it unless it is Secure, for the
 * whole origin (Path=/) and bound to this host (no Domain), so no sibling subdomain can plant one.
 */
export const SESSION_COOKIE = '__Host-billing-archive-session';
/** The header a session's state-changing requests carry its CSRF token in. */
export const CSRF_HEADER = 'x-csrf-token';

const ISSUER = 'billing-archive';
const AUDIENCE = 'billing-archive-browser-session';

/** A signed-in browser: who, until when, and the token its state-changing requests must echo. */
export interface BrowserSession {
  identity: Identity;
  /** Random per session; sent back in X-CSRF-Token, which a cross-site form cannot set. */
  csrf: string;
  expiresAt: Date;
}

/**
 * Whether the credential a session was opened with still stands: an API key removed from or
 * changed in API_KEYS ends its sessions at once, and the key's current roles apply.
 */
export type StandingCheck = (identity: Identity, keyFingerprint: string | undefined) => Identity | undefined;

/**
 * Browser sessions as signed tokens (HS256 JWTs) kept in an HttpOnly cookie. Nothing is stored on
 * the server: every server that shares SESSION_SECRET accepts every session, and a session cannot
 * be revoked before it expires except by removing its API key or changing the secret.
 */
export class BrowserSessions {
  private readonly secret: Uint8Array;

  constructor(
    secret: string | undefined,
    private readonly lifetimeMs: number,
    private readonly standing: StandingCheck,
  ) {
    // Without a configured secret the sessions last as long as this process, and only here.
    this.secret =
      secret === undefined ? randomBytes(32) : createHash('sha256').update(secret, 'utf8').digest();
  }

  /** Opens a session for a caller who proved who they are; never longer than their credential lasts. */
  async open(
    identity: Identity,
    keyFingerprint: string | undefined,
    now = new Date(),
  ): Promise<{ token: string; session: BrowserSession }> {
    const lifetimeEnd = now.getTime() + this.lifetimeMs;
    const expiresAt = new Date(
      Math.floor(Math.min(lifetimeEnd, identity.expiresAt?.getTime() ?? lifetimeEnd) / 1000) * 1000,
    );
    const csrf = randomBytes(24).toString('base64url');
    const token = await new SignJWT({
      name: identity.name,
      kind: identity.kind,
      roles: [...identity.roles],
      csrf,
      key: keyFingerprint,
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(identity.id)
      .setIssuedAt(Math.floor(now.getTime() / 1000))
      .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
      .sign(this.secret);
    return { token, session: { identity: { ...identity, expiresAt }, csrf, expiresAt } };
  }

  /** The session a cookie holds, or undefined when it is forged, expired, or its key no longer stands. */
  async read(token: string, now = new Date()): Promise<BrowserSession | undefined> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.secret, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['HS256'],
        currentDate: now,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      if (error instanceof errors.JOSEError) return undefined;
      throw error;
    }
    const { sub, exp, name, kind, roles, csrf, key } = payload;
    if (
      typeof sub !== 'string' ||
      typeof exp !== 'number' ||
      typeof csrf !== 'string' ||
      (kind !== 'api-key' && kind !== 'token') ||
      !Array.isArray(roles)
    )
      return undefined;
    const expiresAt = new Date(exp * 1000);
    const claimed: Identity = {
      id: sub,
      name: typeof name === 'string' ? name : undefined,
      kind,
      roles: new Set(roles.filter((role): role is Role => typeof role === 'string' && isRole(role))),
      expiresAt,
    };
    const identity = this.standing(claimed, typeof key === 'string' ? key : undefined);
    return identity && { identity: { ...identity, expiresAt }, csrf, expiresAt };
  }
}

/** Whether a request's X-CSRF-Token is the session's, compared in constant time. */
export function csrfMatches(session: BrowserSession, header: string | undefined): boolean {
  if (header === undefined) return false;
  const sent = Buffer.from(header, 'utf8');
  const held = Buffer.from(session.csrf, 'utf8');
  return sent.length === held.length && timingSafeEqual(sent, held);
}
