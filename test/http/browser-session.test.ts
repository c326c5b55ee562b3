import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../../src/auth/browser-sessions.js';
import { apiClient, expectError } from '../helpers/api.js';
import { recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { bearer, TEST_KEYS, type TestKeyName } from '../helpers/keys.js';

interface SignedIn {
  cookie: string;
  csrf: string;
  response: LightMyRequestResponse;
}

describe('browser sessions over HTTP', () => {
  let harness: Harness;
  let next = 0;

  beforeAll(async () => {
    harness = await startHarness({ env: { SESSION_SECRET: 'x'.repeat(40) } });
  });
  afterAll(() => harness.destroy());

  const anonymous = () => apiClient(harness.app, null);

  async function signIn(key: TestKeyName): Promise<SignedIn> {
    const response = await anonymous().post('/session', undefined, bearer(TEST_KEYS[key]));
    expect(response.statusCode, response.body).toBe(200);
    const set = response.cookies.find((cookie) => cookie.name === SESSION_COOKIE);
    if (!set) throw new Error('no session cookie');
    return {
      cookie: `${SESSION_COOKIE}=${set.value}`,
      csrf: response.json<{ csrf_token: string }>().csrf_token,
      response,
    };
  }

  const recordExists = async (id: string) =>
    (await apiClient(harness.app).get(`/billing/${id}`)).statusCode === 200;

  it('sets a cookie no script, no other site and no plain-HTTP hop can use', async () => {
    const { response, csrf } = await signIn('reader');
    const header = String(response.headers['set-cookie']);
    expect(header).toMatch(new RegExp(`^${SESSION_COOKIE}=`));
    for (const attribute of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/', 'Expires='])
      expect(header).toContain(attribute);
    expect(header).not.toMatch(/Domain=/i);
    expect(response.json()).toMatchObject({
      identity: { id: 'key:reader', roles: ['reader'] },
      csrf_token: csrf,
    });
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('reads with the cookie alone, and tells the page its CSRF token', async () => {
    const { cookie, csrf } = await signIn('reader');
    const stats = await anonymous().get('/stats', { cookie });
    expect(stats.statusCode).toBe(200);
    const session = await anonymous().get('/session', { cookie });
    expect(session.json()).toMatchObject({ identity: { id: 'key:reader' }, csrf_token: csrf });
    expect(Date.parse(session.json<{ expires_at: string }>().expires_at)).toBeGreaterThan(Date.now());
  });

  it('refuses a cross-site POST that carries the cookie, and changes nothing', async () => {
    const { cookie } = await signIn('admin');
    const id = `session-${next++}`;
    // What a form on another site makes the browser send: the cookie, a form body, no token.
    const forged = await anonymous().raw({
      method: 'POST',
      url: '/billing',
      headers: {
        cookie,
        origin: 'https://attacker.example',
        'content-type': 'application/x-www-form-urlencoded',
      },
      payload: `id=${id}&amount=1`,
    });
    const message = expectError(forged, 403, 'forbidden');
    expect(message).toContain('X-CSRF-Token');
    // Even as JSON, with a token of another session, the change is refused.
    const other = await signIn('admin');
    const wrongToken = await anonymous().post('/billing', recordBody({ id }), {
      cookie,
      'x-csrf-token': other.csrf,
    });
    expectError(wrongToken, 403, 'forbidden');
    expect(await recordExists(id)).toBe(false);
  });

  it('makes a change when the page sends its own token, within the roles of the key', async () => {
    const admin = await signIn('admin');
    const id = `session-${next++}`;
    const made = await anonymous().post('/billing', recordBody({ id }), {
      cookie: admin.cookie,
      'x-csrf-token': admin.csrf,
    });
    expect(made.statusCode, made.body).toBe(201);
    const reader = await signIn('reader');
    const refused = await anonymous().post('/billing', recordBody({ id: `session-${next++}` }), {
      cookie: reader.cookie,
      'x-csrf-token': reader.csrf,
    });
    expectError(refused, 403, 'forbidden');
  });

  it('refuses a session opening another, a bad key, and a forged cookie', async () => {
    const { cookie, csrf } = await signIn('reader');
    const again = await anonymous().post('/session', undefined, { cookie, 'x-csrf-token': csrf });
    expect(expectError(again, 400, 'validation_error')).toContain('a session cannot open another');
    expectError(
      await anonymous().post('/session', undefined, bearer('bkarch_wrong')),
      401,
      'unauthenticated',
    );
    expectError(await anonymous().post('/session'), 401, 'unauthenticated');
    const forged = await anonymous().get('/stats', { cookie: `${cookie.slice(0, -4)}AAAA` });
    expect(expectError(forged, 401, 'unauthenticated')).toContain('sign in again');
  });

  it('signs out only with the token, and says so in the audit trail', async () => {
    const { cookie, csrf } = await signIn('operator');
    expectError(await anonymous().delete('/session', { cookie }), 403, 'forbidden');
    const out = await anonymous().delete('/session', { cookie, 'x-csrf-token': csrf });
    expect(out.statusCode).toBe(204);
    const cleared = out.cookies.find((c) => c.name === SESSION_COOKIE);
    expect(cleared?.value).toBe('');
    expect(cleared?.expires?.getTime()).toBeLessThanOrEqual(Date.now());
    const trail = await harness.services.audit.query({ actor: 'key:operator', limit: 100 });
    expect(trail.items.map((entry) => `${entry.action} ${entry.outcome}`)).toEqual(
      expect.arrayContaining(['session.open succeeded', 'session.close denied', 'session.close succeeded']),
    );
  });
});
