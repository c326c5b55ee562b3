import { once } from 'node:events';
import { decodeJwt } from 'jose';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TokenRefused, TokenVerifier } from '../../src/auth/token-verifier.js';
import { StoreUnavailableError } from '../../src/domain/errors.js';
import { freePort } from '../../scripts/local-azure.mjs';
import { TEST_AUDIENCE, TEST_ISSUER, TestTokenIssuer, unsignedToken } from '../helpers/token-issuer.js';

describe('TokenVerifier against a loopback JWKS', () => {
  let issuer: TestTokenIssuer;
  beforeAll(async () => {
    issuer = await TestTokenIssuer.start();
  });
  afterAll(async () => {
    await issuer.stop();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const verifier = () =>
    new TokenVerifier({ issuer: TEST_ISSUER, audience: TEST_AUDIENCE, jwksUrl: issuer.jwksUrl });

  it('reads the identity and the known roles from a valid token, and caches the key set', async () => {
    const tokens = verifier();
    const before = issuer.fetches;
    const token = await issuer.sign({ roles: ['operator', 'Billing.Admin'], oid: 'oid-7', name: 'Grace' });
    // The session a browser opens with the token ends when the token does.
    const { exp } = decodeJwt(token);
    await expect(tokens.verify(token)).resolves.toEqual({
      id: 'token:oid-7',
      name: 'Grace',
      kind: 'token',
      roles: new Set(['operator']),
      expiresAt: new Date((exp ?? 0) * 1000),
    });
    await tokens.verify(token);
    expect(issuer.fetches - before).toBe(1);
  });

  it('follows a signing-key rotation: a token with a new kid makes it fetch the key set again', async () => {
    const tokens = verifier();
    await tokens.verify(await issuer.sign({ roles: ['reader'] }));
    await issuer.rotate();
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 31_000 });
    const rotated = await issuer.sign({ roles: ['reader'] });
    await expect(tokens.verify(rotated)).resolves.toMatchObject({ roles: new Set(['reader']) });
  });

  it.each([
    ['expired', { expiresIn: -300 }, 'the token has expired'],
    ['not valid yet', { notBefore: 600 }, 'the token is not valid yet'],
    ['from another issuer', { issuer: 'https://evil.test/' }, 'the token was issued by another issuer'],
    ['for another audience', { audience: 'api://other' }, 'the token is meant for another audience'],
  ])('refuses a token %s', async (_case, claims, reason) => {
    await expect(verifier().verify(await issuer.sign(claims))).rejects.toThrow(new TokenRefused(reason));
  });

  it('refuses an unknown key, alg none and a forged signature', async () => {
    const tokens = verifier();
    await expect(tokens.verify(await issuer.signWithUnknownKey())).rejects.toThrow(
      'the token is signed with a key the issuer does not publish',
    );
    await expect(tokens.verify(unsignedToken({}))).rejects.toBeInstanceOf(TokenRefused);
    const forged = (await issuer.sign()).replace(/\.[^.]+$/, `.${'A'.repeat(342)}`);
    await expect(tokens.verify(forged)).rejects.toThrow('the token signature does not verify');
  });

  it('answers 503-style, not 401, when the issuer keys cannot be reached', async () => {
    const dead = new TokenVerifier({
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      jwksUrl: `http://127.0.0.1:${await freePort()}/keys`,
    });
    await expect(dead.verify(await issuer.sign())).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('answers 503-style when the issuer answers its key set with an error page', async () => {
    const failing = createServer((_request, response) => {
      response.statusCode = 500;
      response.end('<html>down for maintenance</html>');
    });
    failing.listen(0, '127.0.0.1');
    await once(failing, 'listening');
    try {
      const { port } = failing.address() as AddressInfo;
      const broken = new TokenVerifier({
        issuer: TEST_ISSUER,
        audience: TEST_AUDIENCE,
        jwksUrl: `http://127.0.0.1:${port}/keys`,
      });
      await expect(broken.verify(await issuer.sign())).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      failing.close();
    }
  });
});
