/// <reference lib="dom" />
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/local-azure.mjs';
import { launchChromium } from '../helpers/chromium.js';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { TEST_API_KEYS, TEST_KEYS } from '../helpers/keys.js';

const AUDIENCE = 'api://billing-archive-console-tests';

describe('the console signs in at an OpenID provider by redirect (Debian Chromium)', () => {
  let provider: TestOidcProvider;
  let server: ServerProcess;
  let base: string;
  let browser: Browser;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    const dir = await tempDir('console-entra-');
    cleanups.push(dir.remove);
    // The callback's address is registered with the provider, so the server's port is chosen first.
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    provider = await startOidcProvider({
      audience: AUDIENCE,
      redirectUrl: `${base}/login/entra/callback`,
      roles: { ada: ['reader', 'operator'] },
    });
    cleanups.push(() => provider.stop());
    server = await startServerProcess({
      ...provider.env,
      DATA_DIR: dir.path,
      API_KEYS: TEST_API_KEYS,
      API_PORT: String(port),
      SESSION_SECRET: 'console-entra-test-secret-0123456789abcdef',
      LOG_LEVEL: 'warn',
    });
    cleanups.push(() => server.stop());
    browser = await launchChromium();
    cleanups.push(() => browser.close());
  }, 180_000);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  /** Through the provider's own sign-in pages, as the account `login`; consent when it asks. */
  async function signInAtProvider(page: Page, login: string): Promise<void> {
    await page.click('#redirect-link');
    await page.waitForURL((url) => url.origin === provider.issuer);
    await page.fill('input[name=login]', login);
    await page.fill('input[name=password]', 'any password');
    await page.click('button[type=submit]');
    await page.waitForURL((url) => url.origin === base || url.pathname.includes('/interaction/'));
    if (new URL(page.url()).origin === provider.issuer) await page.click('button[type=submit]');
  }

  it('signs in at the provider and lands on the page asked for, with the roles its token gives', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/docs`);
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(await page.isVisible('#redirect-link')).toBe(true);
    await signInAtProvider(page, 'ada');
    await page.waitForURL(`${base}/docs`);
    const session: unknown = await page.evaluate(
      async () => (await fetch('/session')).json() as Promise<unknown>,
    );
    expect(session).toMatchObject({
      identity: { id: 'token:ada', name: 'User ada', roles: ['reader', 'operator'] },
    });
    const cookies = await context.cookies(base);
    // Only the session stays; what the return had to match is gone with it.
    expect(cookies.map((c) => [c.name, c.httpOnly, c.secure, c.sameSite])).toEqual([
      ['__Host-billing-archive-session', true, true, 'Strict'],
    ]);
    // The dashboard reads the API with the session the provider's token opened.
    await page.goto(`${base}/`);
    await expect.poll(() => page.textContent('#who')).toContain('User ada · reader, operator');
    const audit = (await (
      await fetch(`${base}/audit?actor=token:ada`, {
        headers: { authorization: `Bearer ${TEST_KEYS.admin}` },
      })
    ).json()) as { items: { action: string; outcome: string }[] };
    expect(audit.items).toContainEqual(
      expect.objectContaining({ action: 'session.open', outcome: 'succeeded' }),
    );
    await context.close();
  });

  it('opens no session for an account without a role, and says why', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await signInAtProvider(page, 'nobody');
    await page.waitForURL(`${base}/login?failed=no-role`);
    expect(await page.textContent('#problem')).toContain('hold no billing-archive role');
    expect((await context.cookies()).map((c) => c.name)).not.toContain('__Host-billing-archive-session');
    await context.close();
  });

  it('refuses a return it did not start: in another browser, or the same answer again', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    // Note the provider's answer as the browser follows it: ada signs in with it.
    let answer = '';
    page.on('request', (request) => {
      if (request.url().startsWith(`${base}/login/entra/callback?`)) answer = request.url();
    });
    await signInAtProvider(page, 'ada');
    await page.waitForURL(`${base}/`);
    expect(answer).toContain('code=');
    // Another browser brings the code back: it never started this sign-in.
    const other = await browser.newContext();
    const stranger = await other.newPage();
    await stranger.goto(answer);
    expect(stranger.url()).toBe(`${base}/login?failed=expired`);
    expect(await stranger.textContent('#problem')).toContain('was not started from this page');
    await other.close();
    // The browser that started it redeemed it once: a second time, nothing is pending.
    await page.goto(answer);
    expect(page.url()).toBe(`${base}/login?failed=expired`);
    await context.close();
  });
});
