import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { SESSION_COOKIE } from '../../src/auth/browser-sessions.js';
import { apiClient, expectError } from '../helpers/api.js';
import { BACKENDS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { bearer, TEST_KEYS } from '../helpers/keys.js';
import { recordedRun } from '../helpers/runs.js';
import { TestTokenIssuer, unsignedToken } from '../helpers/token-issuer.js';

type Need = 'public' | 'reader' | 'writer' | 'operator' | 'admin' | 'legal';

/** Every route, the least it needs, and a request that succeeds for a caller allowed to make it. */
interface RouteCase {
  route: string;
  need: Need;
  request: () => InjectOptions | Promise<InjectOptions>;
}

/** What each caller may reach, written out rather than computed, so the table is the specification. */
const MAY: Record<string, readonly Need[]> = {
  'key reader': ['public', 'reader'],
  'key writer': ['public', 'reader', 'writer'],
  'key operator': ['public', 'reader', 'writer', 'operator'],
  'key admin': ['public', 'reader', 'writer', 'operator', 'admin'],
  'key legal': ['public', 'legal'],
  'key counsel (reader+legal)': ['public', 'reader', 'legal'],
  'token operator': ['public', 'reader', 'writer', 'operator'],
  'token admin+legal': ['public', 'reader', 'writer', 'operator', 'admin', 'legal'],
  'token without roles': ['public'],
};

describe.each(BACKENDS)('who may call what (%s)', (backend) => {
  let harness: Harness;
  let issuer: TestTokenIssuer;
  let runId: string;
  const runningId = '20261201T000000000Z-0000abcd';
  /**
   * A run the history says is running (its process gone): what pause and resume act on. Saved
   * again before each use, as the next run that starts records it crashed.
   */
  const running = async (): Promise<string> => {
    await harness.adapters.runLog.save(recordedRun(runningId));
    return runningId;
  };
  const credentials: Record<string, Record<string, string>> = {};
  const failures: Record<string, Record<string, string>> = {};
  let next = 0;
  const fresh = async (overrides: Record<string, unknown> = {}): Promise<string> => {
    const id = `acc-${next++}`;
    await harness.services.records.create(recordBody({ id, ...overrides }));
    return id;
  };
  const archived: string[] = [];

  beforeAll(async () => {
    issuer = await TestTokenIssuer.start();
    harness = await startHarness({
      backend,
      // The matrix sends hundreds of refused requests from one address: limits are tested apart.
      env: { ...issuer.env, RATE_LIMIT_PER_MINUTE: '0', RATE_LIMIT_ANONYMOUS_PER_MINUTE: '0' },
    });
    for (let i = 0; i < 8; i++) archived.push(await fresh({ created_at: daysAgo(200) }));
    runId = (await harness.services.archiver.runOnce()).run_id;
    Object.assign(credentials, {
      'key reader': bearer(TEST_KEYS.reader),
      'key writer': { 'x-api-key': TEST_KEYS.writer },
      'key operator': bearer(TEST_KEYS.operator),
      'key admin': bearer(TEST_KEYS.admin),
      'key legal': bearer(TEST_KEYS.legal),
      'key counsel (reader+legal)': { 'x-api-key': TEST_KEYS.counsel },
      'token operator': bearer(await issuer.sign({ roles: ['operator'], oid: 'oid-op' })),
      'token admin+legal': bearer(
        await issuer.sign({ roles: ['admin', 'legal'], oid: 'oid-al', name: 'Ada' }),
      ),
      'token without roles': bearer(await issuer.sign({ oid: 'oid-none' })),
    });
    Object.assign(failures, {
      'no credential': {},
      'a wrong key': bearer(createApiKey()),
      'a wrong X-API-Key': { 'x-api-key': createApiKey() },
      'a Basic header': { authorization: `Basic ${Buffer.from(`x:${TEST_KEYS.root}`).toString('base64')}` },
      'a key in both headers': { ...bearer(TEST_KEYS.root), 'x-api-key': TEST_KEYS.root },
      'an expired token': bearer(await issuer.sign({ roles: ['admin'], expiresIn: -120 })),
      'a token not valid yet': bearer(await issuer.sign({ roles: ['admin'], notBefore: 600 })),
      'a token of another issuer': bearer(
        await issuer.sign({ roles: ['admin'], issuer: 'https://evil.test/' }),
      ),
      'a token for another audience': bearer(
        await issuer.sign({ roles: ['admin'], audience: 'api://other' }),
      ),
      'a token signed by an unknown key': bearer(await issuer.signWithUnknownKey({ roles: ['admin'] })),
      'an alg none token': bearer(unsignedToken({ roles: ['admin'] })),
      'a token with a forged signature': bearer(
        (await issuer.sign({ roles: ['reader'] })).replace(/\.[^.]+$/, `.${'A'.repeat(342)}`),
      ),
      // A token the issuer signed, in the cookie: only this server's sessions go there.
      'a token as a session cookie': {
        cookie: `${SESSION_COOKIE}=${await issuer.sign({ roles: ['admin'] })}`,
      },
    });
  });
  afterAll(async () => {
    await harness.destroy();
    await issuer.stop();
  });

  /** A new restore job nobody works on, for a route to read or cancel. */
  const restoreJob = async (): Promise<string> => {
    const stored = await harness.services.bulkRestore.create({
      query: { customer_id: 'nobody' },
      by: 'test',
    });
    await harness.adapters.restoreJobs.replace({ ...stored.job, owner: null }, stored.etag);
    return stored.job.job_id;
  };

  const routes: RouteCase[] = [
    { route: 'GET /health', need: 'public', request: () => ({ method: 'GET', url: '/health' }) },
    { route: 'GET /ready', need: 'public', request: () => ({ method: 'GET', url: '/ready' }) },
    {
      route: 'GET /openapi.json',
      need: 'reader',
      request: () => ({ method: 'GET', url: '/openapi.json' }),
    },
    { route: 'GET /', need: 'reader', request: () => ({ method: 'GET', url: '/' }) },
    { route: 'GET /login', need: 'public', request: () => ({ method: 'GET', url: '/login' }) },
    { route: 'GET /docs', need: 'reader', request: () => ({ method: 'GET', url: '/docs' }) },
    {
      route: 'GET /console/records/{id}',
      need: 'reader',
      request: () => ({ method: 'GET', url: `/console/records/${archived[0] ?? ''}` }),
    },
    {
      route: 'GET /console/runs/{run_id}',
      need: 'reader',
      request: () => ({ method: 'GET', url: `/console/runs/${runId}` }),
    },
    {
      route: 'GET /console/public/{file}',
      need: 'public',
      request: () => ({ method: 'GET', url: '/console/public/login.js' }),
    },
    {
      route: 'GET /console/assets/{file}',
      need: 'reader',
      request: () => ({ method: 'GET', url: '/console/assets/dashboard.js' }),
    },
    {
      route: 'GET /billing/{id}/history',
      need: 'reader',
      request: () => ({ method: 'GET', url: `/billing/${archived[0] ?? ''}/history` }),
    },
    { route: 'GET /legal-holds', need: 'reader', request: () => ({ method: 'GET', url: '/legal-holds' }) },
    { route: 'GET /stats', need: 'reader', request: () => ({ method: 'GET', url: '/stats' }) },
    { route: 'POST /session', need: 'reader', request: () => ({ method: 'POST', url: '/session' }) },
    { route: 'GET /session', need: 'reader', request: () => ({ method: 'GET', url: '/session' }) },
    { route: 'DELETE /session', need: 'reader', request: () => ({ method: 'DELETE', url: '/session' }) },
    { route: 'GET /metrics', need: 'operator', request: () => ({ method: 'GET', url: '/metrics' }) },
    { route: 'GET /audit', need: 'admin', request: () => ({ method: 'GET', url: '/audit' }) },
    { route: 'GET /billing', need: 'reader', request: () => ({ method: 'GET', url: '/billing' }) },
    {
      route: 'GET /billing/{id}',
      need: 'reader',
      request: () => ({ method: 'GET', url: `/billing/${archived[0] ?? ''}` }),
    },
    {
      route: 'GET /billing/{id}/legal-hold',
      need: 'reader',
      request: () => ({ method: 'GET', url: `/billing/${archived[0] ?? ''}/legal-hold` }),
    },
    {
      route: 'POST /billing',
      need: 'writer',
      request: () => ({
        method: 'POST',
        url: '/billing',
        payload: recordBody({ id: `acc-new-${next++}` }),
      }),
    },
    {
      route: 'PUT /billing/{id}',
      need: 'writer',
      request: async () => ({
        method: 'PUT',
        url: `/billing/${await fresh()}`,
        payload: recordBody({ amount: 1 }),
      }),
    },
    {
      route: 'DELETE /billing/{id}',
      need: 'writer',
      request: async () => ({ method: 'DELETE', url: `/billing/${await fresh()}` }),
    },
    {
      route: 'PUT /billing/{id}/legal-hold',
      need: 'legal',
      request: async () => ({
        method: 'PUT',
        url: `/billing/${await fresh()}/legal-hold`,
        payload: { held: true, reason: 'matter 7' },
      }),
    },
    {
      route: 'POST /restore/{id}',
      need: 'operator',
      request: () => ({ method: 'POST', url: `/restore/${archived.pop() ?? ''}` }),
    },
    {
      route: 'POST /restore',
      need: 'operator',
      // A customer with no archived records: the job ends at once, restoring nothing.
      request: () => ({ method: 'POST', url: '/restore', payload: { customer_id: 'nobody' } }),
    },
    {
      route: 'GET /restore/jobs',
      need: 'reader',
      request: () => ({ method: 'GET', url: '/restore/jobs' }),
    },
    {
      route: 'GET /restore/jobs/{job_id}',
      need: 'reader',
      request: async () => ({ method: 'GET', url: `/restore/jobs/${await restoreJob()}` }),
    },
    {
      route: 'DELETE /restore/jobs/{job_id}',
      need: 'operator',
      request: async () => ({ method: 'DELETE', url: `/restore/jobs/${await restoreJob()}` }),
    },
    {
      route: 'POST /archive/sync',
      need: 'operator',
      request: () => ({ method: 'POST', url: '/archive/sync' }),
    },
    { route: 'POST /archive', need: 'operator', request: () => ({ method: 'POST', url: '/archive' }) },
    {
      route: 'GET /archive/runs',
      need: 'reader',
      request: () => ({ method: 'GET', url: '/archive/runs' }),
    },
    {
      route: 'GET /archive/verifications',
      need: 'reader',
      request: () => ({ method: 'GET', url: '/archive/verifications' }),
    },
    {
      route: 'GET /archive/runs/{run_id}',
      need: 'reader',
      request: () => ({ method: 'GET', url: `/archive/runs/${runId}` }),
    },
    {
      route: 'GET /archive/records',
      need: 'reader',
      request: () => ({ method: 'GET', url: '/archive/records' }),
    },
    {
      route: 'POST /archive/runs/{run_id}/pause',
      need: 'operator',
      request: async () => ({ method: 'POST', url: `/archive/runs/${await running()}/pause` }),
    },
    {
      route: 'POST /archive/runs/{run_id}/resume',
      need: 'operator',
      request: async () => ({ method: 'POST', url: `/archive/runs/${await running()}/resume` }),
    },
  ];

  it('the table covers every route the OpenAPI document lists', async () => {
    await harness.app.ready();
    const paths = (harness.app.swagger().paths ?? {}) as Record<string, object | undefined>;
    const documented = Object.entries(paths).flatMap(([path, item]) =>
      Object.keys(item ?? {})
        .filter((method) => method !== 'head')
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(new Set(documented)).toEqual(new Set(routes.map((r) => r.route)));
  });

  it.each(Object.keys(MAY))('%s reaches exactly the routes its roles allow', async (caller) => {
    const api = apiClient(harness.app, null);
    for (const { route, need, request: make } of routes) {
      const response = await api.raw({ ...(await make()), headers: credentials[caller] });
      if (MAY[caller]?.includes(need)) {
        expect(response.statusCode, `${caller} → ${route}: ${response.body}`).toBeLessThan(300);
        if (route === 'POST /archive') {
          const { run_id } = response.json<{ run_id: string }>();
          await vi.waitFor(async () => {
            expect((await harness.services.archiver.run(run_id))?.status).not.toBe('running');
          });
        }
      } else {
        expect(response.statusCode, `${caller} → ${route}: ${response.body}`).toBe(403);
        expect(response.json()).toMatchObject({ error: 'forbidden' });
      }
    }
  });

  it.each([
    'no credential',
    'a wrong key',
    'a wrong X-API-Key',
    'a Basic header',
    'a key in both headers',
    'an expired token',
    'a token not valid yet',
    'a token of another issuer',
    'a token for another audience',
    'a token signed by an unknown key',
    'an alg none token',
    'a token with a forged signature',
    'a token as a session cookie',
  ])('%s gets 401 with WWW-Authenticate on every route but the public ones', async (failure) => {
    const api = apiClient(harness.app, null);
    for (const { route, need, request: make } of routes) {
      const response = await api.raw({ ...(await make()), headers: failures[failure] });
      if (need === 'public') {
        expect(response.statusCode, route).toBe(200);
        continue;
      }
      expectError(response, 401, 'unauthenticated');
      expect(response.headers['www-authenticate'], route).toMatch(/^Bearer realm="billing-archive"/);
    }
  });

  it('says the same to a refused caller whether the record exists or not', async () => {
    const anonymous = apiClient(harness.app, null);
    const legalOnly = apiClient(harness.app, TEST_KEYS.legal);
    const existing = await fresh();
    for (const api of [anonymous, legalOnly]) {
      const there = await api.get(`/billing/${existing}`);
      const absent = await api.get('/billing/never-existed');
      expect(there.statusCode).toBeGreaterThanOrEqual(401);
      expect(absent.statusCode).toBe(there.statusCode);
      expect(absent.body).toBe(there.body);
      // The HEAD routes Fastify adds for every GET are guarded alike.
      const head = await api.raw({ method: 'HEAD', url: `/billing/${existing}` });
      expect(head.statusCode).toBe(there.statusCode);
    }
  });

  it('lets only an admin override the archival threshold', async () => {
    const operator = apiClient(harness.app, TEST_KEYS.operator);
    const message = expectError(
      await operator.post('/archive/sync', { older_than_days: 0 }),
      403,
      'forbidden',
    );
    expect(message).toContain('older_than_days');
    expect((await operator.post('/archive/sync', { dry_run: true })).statusCode).toBe(200);
    const admin = apiClient(harness.app, TEST_KEYS.admin);
    expect((await admin.post('/archive/sync', { older_than_days: 0, dry_run: true })).statusCode).toBe(200);
  });

  it('shows store details on /ready to admins only', async () => {
    expect((await apiClient(harness.app, null).get('/ready')).json()).toEqual({ ready: true });
    expect((await apiClient(harness.app, TEST_KEYS.operator).get('/ready')).json()).toEqual({ ready: true });
    expect((await apiClient(harness.app, TEST_KEYS.admin).get('/ready')).json()).toMatchObject({
      ready: true,
      stores: { live: { ok: true }, audit: { ok: true } },
    });
  });

  it('names the token holder as the one who placed a hold; a body naming someone else is refused', async () => {
    const id = await fresh();
    const api = apiClient(harness.app, null);
    const held = await api.put(
      `/billing/${id}/legal-hold`,
      { held: true, reason: 'matter 9' },
      credentials['token admin+legal'],
    );
    expect(held.json()).toMatchObject({ hold: { by: 'Ada (token:oid-al)' } });
    expectError(
      await api.put(
        `/billing/${id}/legal-hold`,
        { held: false, reason: 'x', by: 'Ada' },
        credentials['token admin+legal'],
      ),
      400,
      'validation_error',
    );
  });

  it('shows hold reasons to admins and the legal role, and where runs and verify passes ran, and why they stopped, to admins only', async () => {
    const id = await fresh();
    await apiClient(harness.app, TEST_KEYS.legal).put(`/billing/${id}/legal-hold`, {
      held: true,
      reason: 'sealed matter 3',
    });
    const asReader = (await apiClient(harness.app, TEST_KEYS.reader).get(`/billing/${id}/legal-hold`)).body;
    expect(asReader).toContain('"legal_hold":true');
    expect(asReader).not.toContain('sealed matter');
    for (const key of [TEST_KEYS.admin, TEST_KEYS.counsel]) {
      expect((await apiClient(harness.app, key).get(`/billing/${id}/legal-hold`)).body).toContain(
        'sealed matter 3',
      );
    }
    const run = (await apiClient(harness.app, TEST_KEYS.reader).get(`/archive/runs/${runId}`)).json<object>();
    expect(run).toMatchObject({ run_id: runId, status: 'succeeded' });
    expect(run).not.toHaveProperty('host');
    expect(run).not.toHaveProperty('pid');
    const stats = (await apiClient(harness.app, TEST_KEYS.reader).get('/stats')).json<{ last_run: object }>();
    expect(stats.last_run).not.toHaveProperty('host');
    expect(
      (await apiClient(harness.app, TEST_KEYS.admin).get(`/archive/runs/${runId}`)).json(),
    ).toHaveProperty('host');

    await harness.adapters.runLog.saveVerification({
      verification_id: 'verify-20261202T000000000Z-0a1b2c3d',
      started_at: '2026-12-02T00:00:00.000Z',
      finished_at: '2026-12-02T00:00:01.000Z',
      duration_ms: 1000,
      outcome: 'error',
      repair: false,
      started_by: 'cli:ops@vm-7',
      host: 'vm-7',
      error: 'the archive store at https://acct.blob.core.windows.net did not answer',
    });
    const passes = async (key: string) =>
      (await apiClient(harness.app, key).get('/archive/verifications')).json<{ items: object[] }>().items;
    const [asSeenByReader] = await passes(TEST_KEYS.reader);
    expect(asSeenByReader).toMatchObject({
      outcome: 'error',
      error: 'the pass stopped with an error: shown to admins',
    });
    expect(asSeenByReader).not.toHaveProperty('host');
    expect((await passes(TEST_KEYS.admin))[0]).toMatchObject({
      host: 'vm-7',
      error: 'the archive store at https://acct.blob.core.windows.net did not answer',
    });
  });

  it('marks every authenticated answer no-store and sets the security headers', async () => {
    const read = await apiClient(harness.app, TEST_KEYS.reader).get(`/billing/${archived[0] ?? ''}`);
    expect(read.headers['cache-control']).toBe('no-store');
    expect(read.headers['x-content-type-options']).toBe('nosniff');
    expect(read.headers['strict-transport-security']).toBeDefined();
  });
});

describe('a route without a declared access role', () => {
  it('cannot be registered: the app fails closed rather than serve it to anyone', async () => {
    const harness = await startHarness();
    try {
      expect(() => harness.app.get('/undeclared', () => 'open')).toThrow(/declares no access role/);
    } finally {
      await harness.destroy();
    }
  });
});
