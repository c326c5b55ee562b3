import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../../src/auth/browser-sessions.js';
import { SIGN_IN_COOKIE } from '../../src/auth/oidc-sign-in.js';
import { loggerOptions } from '../../src/logger.js';
import { localPath } from '../../src/http/routes/sign-in-routes.js';
import { apiClient } from '../helpers/api.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { TEST_KEYS } from '../helpers/keys.js';
import { OIDC_CLIENT_ID, startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';

const AUDIENCE = 'api://billing-archive-sign-in-tests';
/** The harness answers by injection: the address only has to be the one the provider knows. */
const CALLBACK = 'http://127.0.0.1:8080/login/entra/callback';

describe('sign-in by redirect over HTTP (an OpenID provider on loopback)', () => {
  let provider: TestOidcProvider;
  let harness: Harness;

  beforeAll(async () => {
    provider = await startOidcProvider({ audience: AUDIENCE, redirectUrl: CALLBACK, roles: {} });
    harness = await startHarness({ env: { ...provider.env, SESSION_SECRET: 's'.repeat(40) } });
  });
  afterAll(async () => {
    await harness.destroy();
    await provider.stop();
  });

  const anonymous = () => apiClient(harness.app, null);

  /** Starts a sign-in: where it sends the browser, and the pending cookie it sets. */
  async function begin(next?: string): Promise<{ to: URL; pending: string }> {
    const response = await anonymous().get(
      `/login/entra${next === undefined ? '' : `?next=${encodeURIComponent(next)}`}`,
    );
    expect(response.statusCode, response.body).toBe(303);
    const set = response.cookies.find((cookie) => cookie.name === SIGN_IN_COOKIE);
    if (!set) throw new Error('no pending sign-in cookie');
    expect(set).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/', maxAge: 600 });
    expect(response.headers['cache-control']).toBe('no-store');
    return { to: new URL(String(response.headers.location)), pending: set.value };
  }

  /** The provider's answer as the browser brings it back, with the pending cookie or not. */
  async function callback(
    query: Record<string, string>,
    pending?: string,
    app = harness.app,
    session?: string,
  ): Promise<string> {
    const cookies = [
      ...(pending === undefined ? [] : [`${SIGN_IN_COOKIE}=${pending}`]),
      ...(session === undefined ? [] : [session]),
    ];
    const response = await apiClient(app, null).get(`/login/entra/callback?${new URLSearchParams(query)}`, {
      ...(cookies.length > 0 && { cookie: cookies.join('; ') }),
    });
    expect(response.statusCode, response.body).toBe(303);
    expect(response.headers['cache-control']).toBe('no-store');
    // The pending sign-in is spent whatever the outcome: it cannot be tried twice.
    expect(response.cookies.find((cookie) => cookie.name === SIGN_IN_COOKIE)?.value).toBe('');
    expect(response.cookies.map((cookie) => cookie.name)).not.toContain('__Host-billing-archive-session');
    return String(response.headers.location);
  }

  async function lastAuditDetail(): Promise<string | undefined> {
    const page = await apiClient(harness.app, TEST_KEYS.admin).get('/audit?actor=anonymous&limit=1000');
    return page.json<{ items: { action: string; outcome: string; detail?: string }[] }>().items.at(-1)
      ?.detail;
  }

  it('sends the browser to the provider with PKCE (S256), state, nonce and the API as resource', async () => {
    const { to } = await begin('/console/runs/r1');
    expect(to.origin).toBe(provider.issuer);
    const query = Object.fromEntries(to.searchParams);
    expect(query).toMatchObject({
      client_id: OIDC_CLIENT_ID,
      response_type: 'code',
      redirect_uri: CALLBACK,
      scope: 'openid profile api',
      code_challenge_method: 'S256',
      resource: AUDIENCE,
    });
    expect(query.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(query.state).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(query.nonce).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    // Each sign-in its own: nothing to replay from another.
    const again = Object.fromEntries((await begin()).to.searchParams);
    expect(again.state).not.toBe(query.state);
    expect(again.nonce).not.toBe(query.nonce);
    expect(again.code_challenge).not.toBe(query.code_challenge);
  });

  it("refuses a return with no pending sign-in, or a forged one, in no signed-in user's name", async () => {
    // A browser already signed in with a key: the failed attempt is still audited as anonymous.
    const opened = await anonymous().post('/session', undefined, {
      authorization: `Bearer ${TEST_KEYS.reader}`,
    });
    const session = opened.cookies.find((cookie) => cookie.name === SESSION_COOKIE);
    expect(
      await callback(
        { code: 'c', state: 's' },
        undefined,
        harness.app,
        `${SESSION_COOKIE}=${session?.value ?? ''}`,
      ),
    ).toBe('/login?failed=expired');
    expect(await lastAuditDetail()).toContain('was not started from this browser');
    const asReader = await apiClient(harness.app, TEST_KEYS.admin).get('/audit?actor=key:reader&limit=1000');
    expect(asReader.body).not.toContain('identity provider failed');
    const forged = await new SignJWT({ verifier: 'v', state: 's', nonce: 'n', next: '/' })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience('billing-archive-sign-in')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('a key that is not the server’s key'));
    expect(await callback({ code: 'c', state: 's' }, forged)).toBe('/login?failed=expired');
  });

  it('refuses an answer whose state is not the one sent, and a code the provider never issued', async () => {
    const { to, pending } = await begin();
    const state = to.searchParams.get('state') ?? '';
    expect(await callback({ code: 'c', state: 'another', iss: provider.issuer }, pending)).toBe(
      '/login?failed=refused',
    );
    expect(await lastAuditDetail()).toMatch(/did not pass its checks: .*state/);
    expect(await callback({ code: 'never-issued', state, iss: provider.issuer }, pending)).toBe(
      '/login?failed=refused',
    );
    expect(await lastAuditDetail()).toContain('invalid_grant');
  });

  it('says the provider did not sign the user in when it answers an error', async () => {
    const { to, pending } = await begin();
    const location = await callback(
      {
        error: 'access_denied',
        error_description: 'End-User aborted interaction',
        state: to.searchParams.get('state') ?? '',
      },
      pending,
    );
    expect(location).toBe('/login?failed=denied');
    expect(await lastAuditDetail()).toBe(
      'signing in at the identity provider failed: the identity provider did not sign the user in: access_denied (End-User aborted interaction)',
    );
  });

  it('sends the browser back to sign in, and logs for an operator, when the provider refuses this server', async () => {
    // The provider does not know this secret: it answers invalid_client, which no user can mend.
    const misconfigured = await startHarness({
      env: { ...provider.env, AUTH_OIDC_CLIENT_SECRET: 'an expired secret', SESSION_SECRET: 's'.repeat(40) },
    });
    try {
      const started = await apiClient(misconfigured.app, null).get('/login/entra');
      const pending = started.cookies.find((cookie) => cookie.name === SIGN_IN_COOKIE)?.value;
      const state = new URL(String(started.headers.location)).searchParams.get('state') ?? '';
      expect(await callback({ code: 'c', state, iss: provider.issuer }, pending, misconfigured.app)).toBe(
        '/login?failed=unavailable',
      );
      const audit = await apiClient(misconfigured.app, TEST_KEYS.admin).get('/audit?actor=anonymous');
      expect(audit.json<{ items: { outcome: string; detail?: string }[] }>().items.at(-1)).toMatchObject({
        outcome: 'failed',
        detail: expect.stringContaining('invalid_client') as unknown,
      });
    } finally {
      await misconfigured.destroy();
    }
  });

  it('sends the browser back to sign in when the provider cannot be reached to start', async () => {
    const stopped = await startHarness({
      env: {
        ...provider.env,
        AUTH_JWT_ISSUER: 'http://127.0.0.1:9/no-provider',
        AUTH_JWT_JWKS_URL: 'http://127.0.0.1:9/no-provider/jwks',
        SESSION_SECRET: 's'.repeat(40),
      },
    });
    try {
      const response = await apiClient(stopped.app, null).get('/login/entra');
      expect(response.statusCode).toBe(303);
      expect(response.headers.location).toBe('/login?failed=unavailable');
      expect(response.cookies.map((cookie) => cookie.name)).not.toContain(SIGN_IN_COOKIE);
    } finally {
      await stopped.destroy();
    }
  });

  it('offers the redirect on the sign-in page only where it is configured', async () => {
    const page = await anonymous().get('/login');
    expect(page.body).toContain('<div id="redirect-sign-in">');
    const plain = await startHarness({});
    try {
      const without = await apiClient(plain.app, null).get('/login');
      expect(without.body).toContain('<div id="redirect-sign-in" hidden>');
      expect((await apiClient(plain.app, null).get('/login/entra')).statusCode).toBe(404);
    } finally {
      await plain.destroy();
    }
  });
});

describe('the request log', () => {
  it("never holds a sign-in's code or state", () => {
    const serialize = loggerOptions('info').serializers?.req;
    const logged = serialize?.({ method: 'GET', url: '/login/entra/callback?code=secret-code&state=s1' }) as {
      url: string;
    };
    expect(logged.url).toBe('/login/entra/callback?…');
    expect(serialize?.({ method: 'GET', url: '/billing/a?x=1' })).toMatchObject({ url: '/billing/a?x=1' });
  });
});

describe('where a sign-in goes on to', () => {
  it('is a page of this server, never another site', () => {
    expect(localPath(undefined)).toBe('/');
    expect(localPath('/console/records/a%2Fb?x=1')).toBe('/console/records/a%2Fb?x=1');
    for (const elsewhere of [
      '//evil.example/',
      'https://evil.example/',
      '/\\evil.example',
      '/\t/evil.example/',
      '/.//evil.example/',
      '/x/..//evil.example/',
      '/%2e//evil.example/',
      'javascript:alert(1)',
    ]) {
      // Whatever it became, a browser resolves it to this server: one leading slash, then a path.
      const path = localPath(elsewhere);
      expect(path, elsewhere).toMatch(/^\/(?![/\\])/);
      expect(new URL(path, 'https://this.example').origin, elsewhere).toBe('https://this.example');
    }
    expect(localPath('https://evil.example/')).toBe('/');
    expect(localPath('/.//evil.example/')).toBe('/evil.example/');
  });
});
