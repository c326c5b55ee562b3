/// <reference lib="dom" />
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteArchiveIndex } from '../../src/adapters/sqlite/sqlite-archive-index.js';
import { runCli } from '../helpers/cli.js';
import { daysAgo, recordBody } from '../helpers/harness.js';
import { bearer, TEST_API_KEYS, TEST_KEYS } from '../helpers/keys.js';
import { launchChromium } from '../helpers/chromium.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Where the dashboard's screenshot goes when SCREENSHOT_DIR is set (the README's picture is made so). */
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR;
const ARCHIVED = 40;
const LIVE = 7;

describe('the console in a real browser (Debian Chromium)', () => {
  let server: ServerProcess;
  let base: string;
  let dataDir: string;
  let browser: Browser;
  /** Undone in reverse order, whatever of the set-up got done. */
  const cleanups: (() => Promise<unknown>)[] = [];
  const held = 'console-held-0';

  const call = async (key: string, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { ...bearer(key), ...(body !== undefined && { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  };

  beforeAll(async () => {
    const dir = await tempDir('console-');
    cleanups.push(dir.remove);
    dataDir = dir.path;
    server = await startServerProcess({
      DATA_DIR: dir.path,
      API_KEYS: TEST_API_KEYS,
      SESSION_SECRET: 'console-test-secret-0123456789abcdef',
      LOG_LEVEL: 'warn',
      STATS_CACHE_SECONDS: '0',
    });
    cleanups.push(() => server.stop());
    base = `http://127.0.0.1:${server.port}`;
    // Two runs, so the per-run chart has two bars; then a hold and a few records left live.
    for (let i = 0; i < ARCHIVED; i++)
      await call(
        TEST_KEYS.writer,
        'POST',
        '/billing',
        recordBody({ id: `console-held-${i}`, created_at: daysAgo(200 + 3 * i) }),
      );
    await call(TEST_KEYS.operator, 'POST', '/archive/sync', { limit: ARCHIVED / 2 });
    await call(TEST_KEYS.operator, 'POST', '/archive/sync', {});
    for (let i = 0; i < LIVE; i++)
      await call(TEST_KEYS.writer, 'POST', '/billing', recordBody({ id: `console-live-${i}` }));
    await call(TEST_KEYS.counsel, 'PUT', `/billing/${held}/legal-hold`, { held: true, reason: 'matter 12' });
    await verify(0);
    browser = await launchChromium();
    cleanups.push(() => browser.close());
  }, 180_000);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  /** A verify pass by the CLI on the server's data, as an operator runs it; `code` is its exit code. */
  async function verify(code: number): Promise<void> {
    const pass = await runCli(['--json', 'verify'], { DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
    expect(pass.code, pass.stderr).toBe(code);
  }

  async function signIn(page: Page, key: string): Promise<void> {
    await page.goto(`${base}/`);
    // Not signed in: the dashboard sends the browser to the sign-in form, and back after it.
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('#credential', key);
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}/`);
  }

  it('signs in with a key, shows the numbers /stats gives, and draws the charts with data', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1400 } });
    const page = await context.newPage();
    const failures: string[] = [];
    page.on('pageerror', (error) => failures.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') failures.push(message.text());
    });
    await signIn(page, TEST_KEYS.reader);
    const cookies = await context.cookies();
    expect(cookies.map((c) => [c.name, c.httpOnly, c.secure, c.sameSite])).toEqual([
      ['__Host-billing-archive-session', true, true, 'Strict'],
    ]);
    // The page keeps nothing a script could steal.
    expect(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie])).toEqual([
      0,
      0,
      '',
    ]);

    const stats = (await call(TEST_KEYS.reader, 'GET', '/stats')) as {
      live_records: number;
      archived_records: number;
    };
    expect(stats).toMatchObject({ live_records: LIVE, archived_records: ARCHIVED });
    await expect.poll(() => page.textContent('#archived-records')).toBe(String(ARCHIVED));
    expect(await page.textContent('#live-records')).toBe(String(LIVE));
    expect(await page.textContent('#who')).toContain('key:reader');
    expect(await page.textContent('#holds')).toContain(held);
    expect(await page.textContent('#verifications')).toMatch(
      /passed\s*40\s*none missing or corrupt\s*0\s*[\d.]+ m?s\s*cli:/,
    );

    // The per-run chart holds what the runs archived, and its canvas has been drawn on.
    const drawn = await page.evaluate(() => {
      const canvas = document.getElementById('chart-runs') as HTMLCanvasElement;
      const chart = (
        window as unknown as {
          Chart: { getChart(c: HTMLCanvasElement): { data: { datasets: { data: number[] }[] } } };
        }
      ).Chart.getChart(canvas);
      const pixels = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? [];
      let painted = 0;
      for (let i = 3; i < pixels.length; i += 4) if ((pixels[i] ?? 0) > 0) painted += 1;
      return { data: chart.data.datasets[0]?.data, painted, area: canvas.width * canvas.height };
    });
    expect(drawn.data).toEqual([ARCHIVED / 2, ARCHIVED / 2]);
    expect(drawn.painted).toBeGreaterThan(drawn.area / 50);
    // The screenshot of the chart differs from a blank one of the same size: something is drawn.
    const shot = await page.locator('#chart-runs').screenshot();
    await page.evaluate(() => {
      const blank = document.createElement('canvas');
      blank.id = 'blank';
      const chart = document.getElementById('chart-runs') as HTMLCanvasElement;
      blank.style.width = chart.style.width;
      blank.style.height = chart.style.height;
      chart.after(blank);
    });
    const blank = await page.locator('#blank').screenshot();
    expect(shot.length).toBeGreaterThan(blank.length * 2);
    await page.evaluate(() => document.getElementById('blank')?.remove());
    if (SCREENSHOT_DIR) await page.screenshot({ path: `${SCREENSHOT_DIR}/dashboard.png`, fullPage: true });
    expect(failures).toEqual([]);
    await context.close();
  });

  it('follows a record from the dashboard to its page, with its history', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, TEST_KEYS.counsel);
    await page.click(`#holds a:text("${held}")`);
    await page.waitForURL(`${base}/console/records/${held}`);
    const record = (await call(TEST_KEYS.reader, 'GET', `/billing/${held}`)) as { amount: number };
    await expect.poll(() => page.textContent('[data-field="amount"]')).toBe(String(record.amount));
    expect(await page.textContent('#record-source')).toBe('(archived)');
    await expect.poll(() => page.textContent('#history')).toContain('hold placed');
    const history = await page.textContent('#history');
    for (const event of ['created', 'archived', 'matter 12', 'record.create'])
      expect(history).toContain(event);
    await context.close();
  });

  it('refuses a form another site posts with the signed-in browser', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, TEST_KEYS.admin);
    // Another site (another port is another origin; localhost is another site than 127.0.0.1).
    const attacker: Server = createServer((_request, response) => {
      response.setHeader('content-type', 'text/html');
      response.end(
        `<form id="f" method="POST" action="${base}/billing" enctype="text/plain"><input name='{"id":"forged","x":"' value='"}'></form><script>document.getElementById('f').submit()</script>`,
      );
    });
    attacker.listen(0, '127.0.0.1');
    await once(attacker, 'listening');
    const { port } = attacker.address() as AddressInfo;
    try {
      const answer = page.waitForResponse((response) => response.url() === `${base}/billing`);
      await page.goto(`http://localhost:${port}/`);
      expect([401, 403, 415]).toContain((await answer).status());
      await expect(call(TEST_KEYS.reader, 'GET', '/billing/forged')).rejects.toThrow(/404/);
    } finally {
      attacker.close();
      await context.close();
    }
  });

  it('documents the API at /docs with Swagger UI, served from here', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const requested = new Set<string>();
    page.on('request', (request) => requested.add(new URL(request.url()).origin));
    await signIn(page, TEST_KEYS.reader);
    await page.goto(`${base}/docs`);
    await expect.poll(() => page.locator('.opblock').count(), { timeout: 15_000 }).toBeGreaterThan(20);
    expect(await page.textContent('.swagger-ui')).toContain('/billing/{id}/history');
    expect([...requested]).toEqual([base]);
    await context.close();
  });

  it('signs out: the cookie goes and the dashboard asks to sign in again', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, TEST_KEYS.reader);
    await page.click('#sign-out');
    await page.waitForURL(`${base}/login`);
    expect(await context.cookies()).toEqual([]);
    await page.goto(`${base}/`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await context.close();
  });

  it('after signing in goes back to a page of this server only, never to another site', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    // A tab inside the path: the browser drops it, so '/\t/evil.example' would lead off-site.
    for (const next of [
      '/%09/evil.example/',
      '//evil.example/',
      'https://evil.example/',
      '/\\evil.example',
      '/.//evil.example/',
    ]) {
      await page.goto(`${base}/login?next=${encodeURIComponent(decodeURIComponent(next))}`);
      await page.fill('#credential', TEST_KEYS.reader);
      await page.click('button[type=submit]');
      // Off the sign-in page, wherever it went: '/.//evil.example/' becomes a path here.
      await page.waitForURL((url) => url.pathname !== '/login');
      expect(new URL(page.url()).origin, next).toBe(new URL(base).origin);
      await context.clearCookies();
    }
    // A path of this server is where it goes.
    await page.goto(`${base}/login?next=${encodeURIComponent('/docs')}`);
    await page.fill('#credential', TEST_KEYS.reader);
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}/docs`);
    await context.close();
  });

  // Last: it damages the archive.
  it('shows a failed verify pass first, its problems linked to their records', async () => {
    const lost = `console-held-${ARCHIVED - 1}`;
    const index = new SqliteArchiveIndex(join(dataDir, 'archive-index.sqlite'));
    await index.init();
    await index.withdraw(lost);
    await index.close();
    await verify(1);
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, TEST_KEYS.reader);
    await expect.poll(() => page.textContent('#verifications')).toContain('1 unindexed');
    const outcomes = await page.$$eval('#verifications tr td:nth-child(2)', (cells) =>
      cells.map((cell) => cell.textContent),
    );
    expect(outcomes).toEqual(['failed', 'passed']);
    await page.click(`#verify-problems a:text-is("${lost}")`);
    await page.waitForURL(`${base}/console/records/${lost}`);
    await context.close();
  });
});
