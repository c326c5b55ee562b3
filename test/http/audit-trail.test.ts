import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import type { AuditEntry } from '../../src/ports/audit-trail.js';
import { apiClient, expectError } from '../helpers/api.js';
import { BACKENDS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { bearer, TEST_KEYS } from '../helpers/keys.js';

describe.each(BACKENDS)('the audit trail (%s)', (backend) => {
  let harness: Harness;
  const wrongKey = createApiKey();
  beforeAll(async () => {
    harness = await startHarness({ backend });
  });
  afterAll(async () => {
    await harness.destroy();
  });

  const trail = async (query = ''): Promise<AuditEntry[]> => {
    const response = await apiClient(harness.app, TEST_KEYS.admin).get(`/audit?limit=1000${query}`);
    expect(response.statusCode, response.body).toBe(200);
    return response.json<{ items: AuditEntry[] }>().items;
  };

  it('keeps one entry per attempt to change anything: who, what, which record, how it ended, from where', async () => {
    const writer = apiClient(harness.app, TEST_KEYS.writer);
    const created = await writer.post('/billing', recordBody({ id: 'au-1', amount: 4711.25 }));
    expect(created.statusCode).toBe(201);
    expect((await writer.put('/billing/au-1', recordBody({ amount: 12 }))).statusCode).toBe(200);
    const legal = apiClient(harness.app, TEST_KEYS.counsel);
    expect(
      (await legal.put('/billing/au-1/legal-hold', { held: true, reason: 'matter 12' })).statusCode,
    ).toBe(200);
    expectError(await writer.delete('/billing/au-1'), 409, 'legal_hold');
    expect((await legal.put('/billing/au-1/legal-hold', { held: false, reason: 'closed' })).statusCode).toBe(
      200,
    );
    expectError(await apiClient(harness.app, TEST_KEYS.reader).delete('/billing/au-1'), 403, 'forbidden');
    expect((await writer.delete('/billing/au-1')).statusCode).toBe(204);

    const entries = await trail('&record_id=au-1');
    expect(entries.map((e) => [e.action, e.actor, e.outcome, e.status])).toEqual([
      ['record.create', 'key:writer', 'succeeded', 201],
      ['record.update', 'key:writer', 'succeeded', 200],
      ['legal_hold.place', 'key:counsel', 'succeeded', 200],
      ['record.delete', 'key:writer', 'refused', 409],
      ['legal_hold.lift', 'key:counsel', 'succeeded', 200],
      ['record.delete', 'key:reader', 'denied', 403],
      ['record.delete', 'key:writer', 'succeeded', 204],
    ]);
    expect(entries[3]?.detail).toMatch(/^legal_hold: /);
    for (const entry of entries) {
      expect(entry.request_id).toMatch(/\S/);
      expect(entry.client).toBe('127.0.0.1');
      expect(Date.parse(entry.at)).not.toBeNaN();
    }
  });

  it('records restores and archival runs with the run they started', async () => {
    await harness.services.records.create(recordBody({ id: 'au-old', created_at: daysAgo(200) }));
    const operator = apiClient(harness.app, TEST_KEYS.operator);
    const run = (await operator.post('/archive/sync')).json<{ run_id: string }>();
    expect((await operator.post('/restore/au-old')).statusCode).toBe(200);

    const ofRun = (await trail('&actor=key:operator')).filter((e) => e.run_id === run.run_id);
    expect(ofRun.map((e) => e.action)).toEqual(['archive.run.start', 'archive.run.end', 'archive.request']);
    expect(ofRun[1]).toMatchObject({
      outcome: 'succeeded',
      detail: expect.stringMatching(/^1 archived/) as unknown,
    });
    expect(await trail('&record_id=au-old')).toMatchObject([
      { action: 'record.restore', actor: 'key:operator', outcome: 'succeeded' },
    ]);
  });

  it('names the record a refused create tried to make, and no record for an id that is not one', async () => {
    const writer = apiClient(harness.app, TEST_KEYS.writer);
    expect((await writer.post('/billing', recordBody({ id: 'au-dup' }))).statusCode).toBe(201);
    expectError(await writer.post('/billing', recordBody({ id: 'au-dup' })), 409, 'duplicate_id');
    expect((await trail('&record_id=au-dup')).map((e) => e.outcome)).toEqual(['succeeded', 'refused']);
    const odd = 'x\u202e'.repeat(3);
    expectError(
      await apiClient(harness.app, null).delete(`/billing/${encodeURIComponent(odd)}`),
      401,
      'unauthenticated',
    );
    const last = (await trail()).at(-1);
    expect(last).toMatchObject({ action: 'record.delete', outcome: 'unauthenticated' });
    expect(last?.record_id).toBeUndefined();
  });

  it('records a key that failed authentication, never the key itself', async () => {
    const response = await apiClient(harness.app, null).post(
      '/billing',
      recordBody({ id: 'au-x' }),
      bearer(wrongKey),
    );
    expectError(response, 401, 'unauthenticated');
    const failed = (await trail('&actor=anonymous')).filter((e) => e.action === 'auth.failed');
    expect(failed.at(-1)).toMatchObject({ outcome: 'unauthenticated', status: 401 });
    expect(failed.at(-1)?.record_id).toBeUndefined();
    expect(JSON.stringify(await trail())).not.toContain(wrongKey);
  });

  it('never holds a key, a token or a record body', async () => {
    const everything = JSON.stringify(await trail());
    for (const key of Object.values(TEST_KEYS)) expect(everything).not.toContain(key);
    expect(everything).not.toContain('4711.25');
  });

  it('filters by time and pages with a cursor, visiting each entry once', async () => {
    const all = await trail();
    expect(all.length).toBeGreaterThan(5);
    const from = all[2]?.at ?? '';
    expect((await trail(`&from=${encodeURIComponent(from)}`)).every((e) => e.at >= from)).toBe(true);
    expect((await trail(`&to=${encodeURIComponent(from)}`)).every((e) => e.at < from)).toBe(true);
    const admin = apiClient(harness.app, TEST_KEYS.admin);
    const paged: AuditEntry[] = [];
    let cursor: string | null = null;
    do {
      const url = `/audit?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page: { items: AuditEntry[]; next_cursor: string | null } = (await admin.get(url)).json();
      paged.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    expect(paged.slice(0, all.length)).toEqual(all);
    expectError(await admin.get('/audit?cursor=not-ours'), 400, 'validation_error');
  });

  it('is for admins only', async () => {
    expectError(await apiClient(harness.app, TEST_KEYS.operator).get('/audit'), 403, 'forbidden');
  });
});

describe('the client address behind a proxy', () => {
  it.each([
    ['1', '203.0.113.9'],
    ['false', '127.0.0.1'],
  ])('with TRUST_PROXY=%s the audit trail names %s', async (trustProxy, client) => {
    const harness = await startHarness({ env: { TRUST_PROXY: trustProxy } });
    try {
      const api = apiClient(harness.app, TEST_KEYS.writer);
      const created = await api.post('/billing', recordBody({ id: 'px-1' }), {
        'x-forwarded-for': '203.0.113.9',
      });
      expect(created.statusCode).toBe(201);
      const entries = (await apiClient(harness.app, TEST_KEYS.admin).get('/audit?record_id=px-1')).json<{
        items: AuditEntry[];
      }>().items;
      expect(entries).toMatchObject([{ action: 'record.create', client }]);
    } finally {
      await harness.destroy();
    }
  });
});

describe('rate limits', () => {
  it('answer 429 with Retry-After per identity and, for callers without a valid credential, per address', async () => {
    const harness = await startHarness({
      env: { RATE_LIMIT_PER_MINUTE: '3', RATE_LIMIT_ANONYMOUS_PER_MINUTE: '2' },
    });
    try {
      const reader = apiClient(harness.app, TEST_KEYS.reader);
      for (let i = 0; i < 3; i++) expect((await reader.get('/stats')).statusCode).toBe(200);
      const limited = await reader.get('/stats');
      expectError(limited, 429, 'rate_limited');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      // Another identity from the same address has its own budget.
      expect((await apiClient(harness.app, TEST_KEYS.writer).get('/stats')).statusCode).toBe(200);

      const guesser = apiClient(harness.app, null);
      for (let i = 0; i < 2; i++)
        expectError(await guesser.get('/stats', bearer(createApiKey())), 401, 'unauthenticated');
      expectError(await guesser.get('/stats', bearer(createApiKey())), 429, 'rate_limited');
      // /health and /ready stay reachable for probes.
      expect((await guesser.get('/health')).statusCode).toBe(200);
    } finally {
      await harness.destroy();
    }
  });
});
