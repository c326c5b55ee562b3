import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type CryptoKey } from 'jose';

export const TEST_ISSUER = 'https://login.example.test/tenant-1/v2.0';
export const TEST_AUDIENCE = 'api://billing-archive-tests';

export interface TokenClaims {
  roles?: string[];
  oid?: string;
  sub?: string;
  name?: string;
  issuer?: string;
  audience?: string;
  /** Seconds from now; negative for a token already expired. */
  expiresIn?: number;
  /** Seconds from now before which the token is not valid. */
  notBefore?: number;
}

/**
 * A stand-in OpenID issuer on loopback: keys made in the test, a JWKS served over HTTP, tokens
 * signed like Entra ID's (RS256, kid in the header). `rotate` publishes a new key and signs with it.
 */
export class TestTokenIssuer {
  private keys: { kid: string; privateKey: CryptoKey; publicJwk: JWK }[] = [];
  private server: Server | undefined;
  /** How many times the JWKS was fetched. */
  fetches = 0;

  static async start(): Promise<TestTokenIssuer> {
    const issuer = new TestTokenIssuer();
    await issuer.rotate();
    const server = createServer((_request, response) => {
      issuer.fetches += 1;
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ keys: issuer.keys.map((key) => key.publicJwk) }));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    issuer.server = server;
    return issuer;
  }

  get jwksUrl(): string {
    const { port } = this.server?.address() as AddressInfo;
    return `http://127.0.0.1:${port}/discovery/v2.0/keys`;
  }

  /** The environment that makes the API trust this issuer. */
  get env(): Record<string, string> {
    return {
      AUTH_JWT_ISSUER: TEST_ISSUER,
      AUTH_JWT_AUDIENCE: TEST_AUDIENCE,
      AUTH_JWT_JWKS_URL: this.jwksUrl,
    };
  }

  /** Publishes a new signing key beside the old ones; new tokens are signed with it. */
  async rotate(): Promise<void> {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const kid = `key-${this.keys.length + 1}`;
    this.keys.push({
      kid,
      privateKey,
      publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' },
    });
  }

  async sign(claims: TokenClaims = {}, signer?: { privateKey: CryptoKey; kid: string }): Promise<string> {
    const key = signer ?? this.keys.at(-1);
    if (!key) throw new Error('no signing key');
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({
      ...(claims.roles && { roles: claims.roles }),
      oid: claims.oid ?? 'oid-0001',
      ...(claims.name && { name: claims.name }),
    })
      .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
      .setIssuer(claims.issuer ?? TEST_ISSUER)
      .setAudience(claims.audience ?? TEST_AUDIENCE)
      .setSubject(claims.sub ?? 'sub-0001')
      .setIssuedAt(now - 5)
      .setExpirationTime(now + (claims.expiresIn ?? 600));
    if (claims.notBefore !== undefined) jwt.setNotBefore(now + claims.notBefore);
    return jwt.sign(key.privateKey);
  }

  /** A token signed by a key this issuer never published. */
  async signWithUnknownKey(claims: TokenClaims = {}): Promise<string> {
    const { privateKey } = await generateKeyPair('RS256');
    return this.sign(claims, { privateKey, kid: 'not-published' });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  }
}

/** An unsigned token (`alg: none`) with otherwise valid claims. */
export function unsignedToken(claims: Record<string, unknown>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ iss: TEST_ISSUER, aud: TEST_AUDIENCE, oid: 'oid-none', exp: now + 600, ...claims })}.`;
}
