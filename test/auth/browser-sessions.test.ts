import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { apiKeyEntry, createApiKey, parseApiKeyEntries } from '../../src/auth/api-keys.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { csrfMatches } from '../../src/auth/browser-sessions.js';
import type { AuthSettings } from '../../src/config.js';

const SECRET = 'a-session-secret-of-at-least-32-characters';
const HOUR_MS = 60 * 60 * 1000;

/** `secret` null: none configured, as when SESSION_SECRET is unset. */
function authenticator(keys: string, secret: string | null = SECRET, hours = 8): Authenticator {
  const settings: AuthSettings = {
    disabled: false,
    apiKeys: parseApiKeyEntries(keys),
    token: undefined,
    sessions: { secret: secret ?? undefined, hours },
  };
  return new Authenticator(settings);
}

/** Signs in with `key` on `server` and returns the session cookie's value and CSRF token. */
async function signIn(server: Authenticator, key: string) {
  const proved = await server.authenticate({ apiKey: key });
  if (!proved.ok) throw new Error(proved.reason);
  const { token, session } = await server.openSession(proved.identity, proved.keyFingerprint);
  return { token, csrf: session.csrf, expiresAt: session.expiresAt };
}

describe('browser sessions', () => {
  const key = createApiKey();
  const entry = apiKeyEntry('dashboard', 'reader', key);

  it('identify the key that opened them, on every server sharing the secret', async () => {
    const { token, csrf } = await signIn(authenticator(entry), key);
    const elsewhere = await authenticator(entry).authenticate({ session: token });
    expect(elsewhere).toMatchObject({ ok: true, identity: { id: 'key:dashboard', kind: 'api-key' } });
    expect(elsewhere.ok && elsewhere.session?.csrf).toBe(csrf);
    expect(elsewhere.ok && [...elsewhere.identity.roles]).toEqual(['reader']);
  });

  it('carry no credential: the key, and its hash, are not in the cookie', async () => {
    const { token } = await signIn(authenticator(entry), key);
    const [, payload = ''] = token.split('.');
    const claims = Buffer.from(payload, 'base64url').toString('utf8');
    expect(claims).not.toContain(key);
    expect(claims).not.toContain(entry.split(':')[2]);
  });

  it('end when the key leaves API_KEYS or is replaced, and take the key’s current roles', async () => {
    const { token } = await signIn(authenticator(entry), key);
    const other = apiKeyEntry('someone-else', 'admin', createApiKey());
    expect(await authenticator(other).authenticate({ session: token })).toMatchObject({ ok: false });
    const rotated = apiKeyEntry('dashboard', 'reader', createApiKey());
    expect(await authenticator(rotated).authenticate({ session: token })).toMatchObject({ ok: false });
    const promoted = `dashboard:operator:${entry.split(':')[2] ?? ''}`;
    const read = await authenticator(promoted).authenticate({ session: token });
    expect(read.ok && [...read.identity.roles]).toEqual(['operator']);
  });

  it('are refused when signed with another secret, forged, or expired', async () => {
    const { token, expiresAt } = await signIn(authenticator(entry, SECRET, 2), key);
    expect(expiresAt.getTime() - Date.now()).toBeGreaterThan(2 * HOUR_MS - 5_000);
    expect(expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(2 * HOUR_MS);
    const refused = {
      ok: false,
      presented: true,
      reason: expect.stringContaining('sign in again') as unknown,
    };
    expect(await authenticator(entry, `${SECRET}!`).authenticate({ session: token })).toMatchObject(refused);
    // Without SESSION_SECRET each process makes its own: another process's sessions do not read.
    expect(await authenticator(entry, null).authenticate({ session: token })).toMatchObject(refused);
    const [head = '', body = '', signature = ''] = token.split('.');
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
    const raised = Buffer.from(JSON.stringify({ ...claims, roles: ['admin'] })).toString('base64url');
    expect(
      await authenticator(entry).authenticate({ session: `${head}.${raised}.${signature}` }),
    ).toMatchObject(refused);
    const expired = await new SignJWT({ ...claims, exp: Math.floor(Date.now() / 1000) - 1 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(SECRET))));
    expect(await authenticator(entry).authenticate({ session: expired })).toMatchObject(refused);
  });

  it('give way to a key or token sent in a header', async () => {
    const { token } = await signIn(authenticator(entry), key);
    const adminKey = createApiKey();
    const server = authenticator(`${entry},${apiKeyEntry('ops', 'admin', adminKey)}`);
    const both = await server.authenticate({ session: token, apiKey: adminKey });
    expect(both).toMatchObject({ ok: true, identity: { id: 'key:ops' } });
    expect(both.ok && both.session).toBeUndefined();
  });

  it('match only their own CSRF token', async () => {
    const server = authenticator(entry);
    const first = await server.authenticate({ session: (await signIn(server, key)).token });
    const second = await signIn(server, key);
    if (!first.ok || !first.session) throw new Error('no session');
    expect(csrfMatches(first.session, first.session.csrf)).toBe(true);
    expect(csrfMatches(first.session, second.csrf)).toBe(false);
    expect(csrfMatches(first.session, undefined)).toBe(false);
    expect(csrfMatches(first.session, '')).toBe(false);
  });
});
