import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PAGE_MAX_BYTES } from '../../src/http/record-reply.js';
import { apiClient, expectError, type ApiClient } from '../helpers/api.js';
import { SETUPS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';

describe.each(SETUPS)('billing records API ($backend, $layout layout)', ({ backend, layout }) => {
  let harness: Harness;
  let api: ApiClient;
  beforeEach(async () => {
    harness = await startHarness({ backend, layout });
    api = apiClient(harness.app);
  });
  afterEach(async () => {
    await harness.destroy();
  });

  async function liveCount(): Promise<number> {
    return (await harness.adapters.live.summary()).count;
  }

  describe('POST /billing', () => {
    /** Sends the body as written, for what a client's JSON library would never produce. */
    const postText = (payload: string) =>
      api.raw({ method: 'POST', url: '/billing', headers: { 'content-type': 'application/json' }, payload });

    it('creates a record with a server id, Location, ETag and updated_at = created_at', async () => {
      const response = await api.post(
        '/billing',
        recordBody({ description: 'Pro plan', metadata: { po: 'PO-7' } }),
      );
      expect(response.statusCode).toBe(201);
      const record = response.json<Record<string, unknown>>();
      expect(record.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(response.headers.location).toBe(`/billing/${String(record.id)}`);
      expect(response.headers.etag).toMatch(/^".+"$/);
      expect(response.headers['x-record-source']).toBe('live');
      expect(record).toMatchObject({
        customer_id: 'cust-1',
        amount: 129.9,
        currency: 'EUR',
        metadata: { po: 'PO-7' },
      });
      expect(record.updated_at).toBe(record.created_at);
      expect(Date.now() - Date.parse(String(record.created_at))).toBeLessThan(60_000);
      const read = await api.get(`/billing/${String(record.id)}`);
      expect(read.body).toBe(response.body);
      expect(read.headers.etag).toBe(response.headers.etag);
    });

    it('accepts a given id and a past created_at (backfill)', async () => {
      const createdAt = daysAgo(100);
      const response = await api.post('/billing', recordBody({ id: 'inv:2026-0001', created_at: createdAt }));
      expect(response.statusCode).toBe(201);
      expect(response.json()).toMatchObject({
        id: 'inv:2026-0001',
        created_at: createdAt,
        updated_at: createdAt,
      });
    });

    it('answers 409 for a duplicate id, live or archived, and keeps the original', async () => {
      await api.post('/billing', recordBody({ id: 'dup', amount: 1, created_at: daysAgo(200) }));
      expectError(await api.post('/billing', recordBody({ id: 'dup', amount: 2 })), 409, 'duplicate_id');
      await api.post('/archive/sync');
      expect((await api.get('/billing/dup')).headers['x-record-source']).toBe('archive');
      expectError(await api.post('/billing', recordBody({ id: 'dup', amount: 3 })), 409, 'duplicate_id');
      expect((await api.get('/billing/dup')).json()).toMatchObject({ amount: 1 });
      expect(await liveCount()).toBe(0);
    });

    it.each([
      ['a wrong type', recordBody({ amount: '12.00' }), 'amount'],
      ['an unknown status', recordBody({ status: 'lost' }), 'status'],
      ['a negative amount', recordBody({ amount: -0.01 }), 'amount'],
      ['an over-precise amount', recordBody({ amount: 1.001 }), 'decimal'],
      ['an invalid created_at', recordBody({ created_at: '2026-13-01T00:00:00Z' }), 'created_at'],
      ['an invalid due_date', recordBody({ due_date: '2026-02-30' }), 'due_date'],
      ['a due_date on no calendar day', recordBody({ due_date: '2026-02-30T00:00:00Z' }), 'due_date'],
      ['a due_date that is a number', recordBody({ due_date: 20260215 }), 'due_date'],
      ['a leap-second created_at', recordBody({ created_at: '2016-12-31T23:59:60Z' }), 'leap second'],
      ['an id of one dot', recordBody({ id: '.' }), 'not dots alone'],
      ['an id of two dots', recordBody({ id: '..' }), 'not dots alone'],
      [
        'a future created_at',
        recordBody({ created_at: new Date(Date.now() + 3_600_000).toISOString() }),
        'future',
      ],
      ['an id with a slash', recordBody({ id: 'a/b' }), 'id'],
      ['an id with a space', recordBody({ id: 'a b' }), 'id'],
      ['an id of 129 characters', recordBody({ id: 'x'.repeat(129) }), 'id'],
      ['an unknown currency', recordBody({ currency: 'ABC' }), 'currency'],
      ['an unknown field', recordBody({ amout: 1 }), 'amout'],
      ['a missing customer_id', { amount: 1 }, 'customer_id'],
      ['an array body', [recordBody()], 'body'],
    ])('answers 400 for %s and writes nothing', async (_case, body, needle) => {
      const message = expectError(await api.post('/billing', body), 400, 'validation_error');
      expect(message).toContain(needle);
      expect(await liveCount()).toBe(0);
    });

    it("accepts the specification's example request, keeping due_date exactly as sent", async () => {
      const example = {
        customer_id: 'customer123',
        amount: 299.99,
        currency: 'USD',
        status: 'pending',
        description: 'Monthly subscription',
        due_date: '2024-02-15T00:00:00Z',
      };
      const created = await api.post('/billing', example);
      expect(created.statusCode, created.body).toBe(201);
      expect(created.json()).toMatchObject(example);
      const asDay = await api.post('/billing', { ...example, due_date: '2024-02-15' });
      expect(asDay.json()).toMatchObject({ due_date: '2024-02-15' });
      const withOffset = await api.post('/billing', { ...example, due_date: '2024-02-15T09:30:00.5+05:30' });
      expect(withOffset.json()).toMatchObject({ due_date: '2024-02-15T09:30:00.5+05:30' });
    });

    it('keeps a date-time due_date byte for byte through archival', async () => {
      const body = recordBody({ id: 'due-1', due_date: '2024-02-15T00:00:00Z', created_at: daysAgo(200) });
      const created = await api.post('/billing', body);
      expect(created.statusCode).toBe(201);
      await api.post('/archive/sync');
      const read = await api.get('/billing/due-1');
      expect(read.headers['x-record-source']).toBe('archive');
      expect(read.body).toBe(created.body);
    });

    it('says what is wrong in one plain sentence per field, never in schema words', async () => {
      const response = await api.post('/billing', {
        customer_id: '',
        amount: '12',
        currency: 'usd',
        status: 'lost',
        due_date: 5,
        colour: 'red',
      });
      expectError(response, 400, 'validation_error');
      const { problems, message } = response.json<{ problems: string[]; message: string }>();
      expect(problems).toHaveLength(6);
      for (const field of ['customer_id', 'amount', 'currency', 'status', 'due_date', "'colour'"])
        expect(problems.filter((problem) => problem.includes(field))).toHaveLength(1);
      expect(problems).toContain('status must be one of pending, paid, overdue, cancelled, refunded');
      expect(problems).toContain('amount must be a number');
      expect(message).toBe(problems.join('; '));
      for (const jargon of ['anyOf', 'must be null', 'must match', 'must NOT', '>=', 'body.', 'format "'])
        expect(message).not.toContain(jargon);
      expect(await liveCount()).toBe(0);
    });

    it.each([
      [40, 'the record nests more than 32 levels deep'],
      // Past what serialising survives: refused before the body is walked at all.
      [100_000, 'the body nests more than 1000 levels deep'],
    ])('answers 400 for metadata nested %i levels, naming the limit', async (depth, sentence) => {
      const response = await postText(
        `{"customer_id": "c", "amount": 1, "metadata": ${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`,
      );
      expect(expectError(response, 400, 'validation_error')).toBe(sentence);
      expect(await liveCount()).toBe(0);
    });

    it('answers 400 for an amount of -0, which JSON would store as 0, and writes nothing', async () => {
      const response = await postText('{"customer_id": "c", "amount": -0}');
      expect(expectError(response, 400, 'validation_error')).toBe(
        'amount -0 cannot be stored exactly: it would become 0',
      );
      expect(await liveCount()).toBe(0);
    });

    it.each([
      [
        'an amount with more digits than a double holds',
        '"amount": 0.1000000000000000001',
        'amount 0.1000000000000000001 cannot be stored exactly: it would become 0.1',
      ],
      [
        'a metadata integer past 2^53',
        '"amount": 1, "metadata": {"ref": 9007199254740993}',
        'metadata.ref 9007199254740993 cannot be stored exactly: it would become 9007199254740992',
      ],
      ['a field given twice', '"amount": 1, "amount": 1000', "the body has the field 'amount' twice"],
      [
        'a metadata field given twice',
        '"amount": 1, "metadata": {"po": "A", "po": "B"}',
        "metadata has the field 'po' twice",
      ],
    ])(
      'answers 400 for %s, which parsing would silently change, and writes nothing',
      async (_case, fields, sentence) => {
        const response = await postText(`{"customer_id": "c", ${fields}}`);
        expect(expectError(response, 400, 'validation_error')).toBe(sentence);
        expect(await liveCount()).toBe(0);
      },
    );

    it('still refuses a __proto__ key in a request body', async () => {
      const response = await postText('{"customer_id": "c", "amount": 1, "__proto__": {"admin": true}}');
      expect(expectError(response, 400, 'validation_error')).toBe(
        'the body has a field named __proto__, or a constructor holding prototype, which is refused; rename the field',
      );
      const nested = await postText('{"customer_id": "c", "metadata": {"constructor": {"prototype": {}}}}');
      expect(expectError(nested, 400, 'validation_error')).toContain('constructor holding prototype');
      expect(await liveCount()).toBe(0);
    });

    it('answers 400 for malformed JSON and writes nothing', async () => {
      const response = await postText('{"customer_id": "c", "amount": 1');
      expectError(response, 400, 'invalid_json');
      expect(await liveCount()).toBe(0);
    });

    it('answers 413 for a body over 1 MiB and writes nothing', async () => {
      const response = await api.post(
        '/billing',
        recordBody({ description: 'x', metadata: { blob: 'y'.repeat(1_100_000) } }),
      );
      expectError(response, 413, 'payload_too_large');
      expect(await liveCount()).toBe(0);
    });

    it('answers 415 for a body that is not JSON', async () => {
      const response = await api.raw({
        method: 'POST',
        url: '/billing',
        headers: { 'content-type': 'text/plain' },
        payload: 'customer_id=c',
      });
      expectError(response, 415, 'unsupported_media_type');
      expect(await liveCount()).toBe(0);
    });
  });

  describe('GET /billing/{id}', () => {
    it('answers 404 for an unknown id and 400 for an invalid one', async () => {
      expectError(await api.get('/billing/nope'), 404, 'not_found');
      expectError(await api.get(`/billing/${'x'.repeat(129)}`), 400, 'validation_error');
      expectError(await api.get('/billing/a%20b'), 400, 'validation_error');
    });

    it('reads an archived record byte-identical, from the archive, after the seed flow', async () => {
      const created = await api.post(
        '/billing',
        recordBody({ created_at: daysAgo(100), metadata: { n: [1, 2] } }),
      );
      const id = created.json<{ id: string }>().id;
      const run = await api.post('/archive/sync');
      expect(run.json()).toMatchObject({ archived: 1, skipped: 0, failed: 0 });
      const read = await api.get(`/billing/${id}`);
      expect(read.statusCode).toBe(200);
      expect(read.headers['x-record-source']).toBe('archive');
      expect(read.body).toBe(created.body);
      expect(read.headers.etag).toMatch(/^"sha256-[0-9a-f]{64}"$/);
      expect(await liveCount()).toBe(0);
    });

    it('refuses to serve archived bytes that fail their SHA-256 (500, logged, no data)', async () => {
      const created = await api.post(
        '/billing',
        recordBody({ id: 'tampered', amount: 10, created_at: daysAgo(100) }),
      );
      await api.post('/archive/sync');
      const entry = await harness.adapters.index.get('tampered');
      await harness.overwriteBlob(
        entry?.location.blob ?? '',
        Buffer.from(created.body.replace('"amount":10', '"amount":99')),
      );
      const response = await api.get('/billing/tampered');
      expectError(response, 500, 'integrity_error');
      // Nothing of the tampered record: the answer is the error alone (its request id is random hex).
      expect(Object.keys(response.json<object>()).sort()).toEqual(['error', 'message']);
      expect(response.body).not.toMatch(/amount|tampered|\b99\b/);
    });

    it('answers 410 when the archived blob is gone but the index entry remains', async () => {
      await api.post('/billing', recordBody({ id: 'expired', created_at: daysAgo(100) }));
      await api.post('/archive/sync');
      const entry = await harness.adapters.index.get('expired');
      await harness.adapters.store.delete(entry?.location.blob ?? '');
      expectError(await api.get('/billing/expired'), 410, 'gone');
    });
  });

  describe('GET /billing', () => {
    it('lists records in creation order with filters and paging by cursor', async () => {
      for (const [id, customer, status, days] of [
        ['r3', 'c-1', 'paid', 4],
        ['r1', 'c-1', 'pending', 3],
        ['r2', 'c-2', 'paid', 2],
        ['r4', 'c-1', 'paid', 1],
      ] as const) {
        await api.post(
          '/billing',
          recordBody({ id, customer_id: customer, status, created_at: daysAgo(days) }),
        );
      }
      type Page = { items: { source: string; record: { id: string } }[]; next_cursor: string | null };
      const page1 = (await api.get('/billing?limit=2')).json<Page>();
      expect(page1.items.map((item) => item.record.id)).toEqual(['r3', 'r1']);
      expect(page1.items.map((item) => item.source)).toEqual(['live', 'live']);
      expect(page1.next_cursor).toEqual(expect.any(String));
      const page2 = (
        await api.get(`/billing?limit=2&cursor=${encodeURIComponent(page1.next_cursor ?? '')}`)
      ).json<Page>();
      expect(page2.items.map((item) => item.record.id)).toEqual(['r2', 'r4']);
      expect(page2.next_cursor).toBeNull();
      const filtered = (await api.get('/billing?customer_id=c-1&status=paid')).json<Page>();
      expect(filtered.items.map((item) => item.record.id)).toEqual(['r3', 'r4']);
      expect(filtered.next_cursor).toBeNull();
      expectError(await api.get('/billing?limit=0'), 400, 'validation_error');
      expectError(await api.get('/billing?limit=abc'), 400, 'validation_error');
      expectError(await api.get('/billing?status=lost'), 400, 'validation_error');
    });

    it('ends a page at 8 MiB of records, whatever the limit, and the pages still visit every record once', async () => {
      const count = 140;
      const note = 'n'.repeat(63 * 1024);
      for (let i = 0; i < count; i++)
        await api.post(
          '/billing',
          recordBody({ id: `big-${String(i).padStart(3, '0')}`, metadata: { note }, created_at: daysAgo(1) }),
        );
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const response = await api.get(
          `/billing?limit=1000${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
        );
        expect(response.statusCode).toBe(200);
        expect(Buffer.byteLength(response.body)).toBeLessThan(PAGE_MAX_BYTES + 1024);
        const page = response.json<{ items: { record: { id: string } }[]; next_cursor: string | null }>();
        seen.push(...page.items.map((item) => item.record.id));
        cursor = page.next_cursor;
        pages += 1;
      } while (cursor !== null);
      expect(pages).toBeGreaterThan(1);
      expect(seen).toEqual(Array.from({ length: count }, (_, i) => `big-${String(i).padStart(3, '0')}`));
    });
  });

  describe('PUT /billing/{id}', () => {
    it('takes back a record exactly as GET returned it, with a change; server fields are not taken', async () => {
      const created = await api.post('/billing', recordBody({ created_at: daysAgo(3) }));
      const record = created.json<Record<string, unknown>>();
      const response = await api.put(
        `/billing/${String(record.id)}`,
        { ...record, status: 'paid', created_at: daysAgo(1), updated_at: '2000-01-01T00:00:00Z' },
        { 'if-match': String(created.headers.etag) },
      );
      expect(response.statusCode, response.body).toBe(200);
      const updated = response.json<Record<string, unknown>>();
      expect(updated).toMatchObject({ status: 'paid', created_at: record.created_at });
      expect(Date.parse(String(updated.updated_at))).toBeGreaterThan(Date.parse(String(record.updated_at)));
      expect(response.headers.etag).not.toBe(created.headers.etag);
      expect((await api.get(`/billing/${String(record.id)}`)).json()).toEqual(updated);
    });

    it('answers 412 for a stale If-Match and changes nothing', async () => {
      const created = await api.post('/billing', recordBody({ id: 'p1' }));
      await api.put('/billing/p1', recordBody({ amount: 2 }));
      expectError(
        await api.put('/billing/p1', recordBody({ amount: 3 }), { 'if-match': String(created.headers.etag) }),
        412,
        'precondition_failed',
      );
      expect((await api.get('/billing/p1')).json()).toMatchObject({ amount: 2 });
    });

    it('answers 400 for an invalid body or a mismatched id and changes nothing', async () => {
      await api.post('/billing', recordBody({ id: 'p2', amount: 5 }));
      expectError(await api.put('/billing/p2', recordBody({ amount: -1 })), 400, 'validation_error');
      expectError(await api.put('/billing/p2', recordBody({ id: 'other' })), 400, 'validation_error');
      expectError(await api.put('/billing/p2', recordBody({ sneaky: true })), 400, 'validation_error');
      expectError(
        await api.put('/billing/p2', recordBody(), { 'if-match': '"a", "b"' }),
        400,
        'validation_error',
      );
      expect((await api.get('/billing/p2')).json()).toMatchObject({ amount: 5 });
    });

    it('answers 404 for an unknown record and creates nothing', async () => {
      expectError(await api.put('/billing/ghost', recordBody()), 404, 'not_found');
      expect(await liveCount()).toBe(0);
    });

    it('brings an archived record back live with the change and withdraws its archive entry', async () => {
      const createdAt = daysAgo(120);
      await api.post('/billing', recordBody({ id: 'arch-1', amount: 10, created_at: createdAt }));
      await api.post('/archive/sync');
      const archived = await api.get('/billing/arch-1');
      expect(archived.headers['x-record-source']).toBe('archive');
      expectError(
        await api.put('/billing/arch-1', recordBody({ amount: 11 }), { 'if-match': '"stale"' }),
        412,
        'precondition_failed',
      );
      const response = await api.put(
        '/billing/arch-1',
        { ...archived.json<object>(), amount: 11 },
        {
          'if-match': String(archived.headers.etag),
        },
      );
      expect(response.statusCode, response.body).toBe(200);
      expect(response.headers['x-record-source']).toBe('live');
      expect(response.json()).toMatchObject({ id: 'arch-1', amount: 11, created_at: createdAt });
      const read = await api.get('/billing/arch-1');
      expect(read.headers['x-record-source']).toBe('live');
      expect(read.json()).toMatchObject({ amount: 11 });
      expect(await harness.adapters.index.get('arch-1')).toBeUndefined();
      // Edited today: the next run leaves it live, and deletes the blob nothing points to any more.
      const run = (await api.post('/archive/sync')).json<{ archived: number; garbage_collected: number }>();
      expect(run).toMatchObject({ archived: 0, garbage_collected: 1 });
      expect((await api.get('/billing/arch-1')).headers['x-record-source']).toBe('live');
    });
  });

  describe('DELETE /billing/{id}', () => {
    it('deletes live and archived records (204) and then answers 404', async () => {
      await api.post('/billing', recordBody({ id: 'live-1' }));
      await api.post('/billing', recordBody({ id: 'arch-1', created_at: daysAgo(100) }));
      await api.post('/archive/sync');
      expect((await api.delete('/billing/live-1')).statusCode).toBe(204);
      expect((await api.delete('/billing/arch-1')).statusCode).toBe(204);
      expectError(await api.get('/billing/live-1'), 404, 'not_found');
      expectError(await api.get('/billing/arch-1'), 404, 'not_found');
      expectError(await api.delete('/billing/arch-1'), 404, 'not_found');
      expect((await harness.adapters.index.summary()).count).toBe(0);
    });

    it('honours If-Match and keeps the record on a mismatch', async () => {
      const created = await api.post('/billing', recordBody({ id: 'd1' }));
      expectError(await api.delete('/billing/d1', { 'if-match': '"nope"' }), 412, 'precondition_failed');
      expect((await api.get('/billing/d1')).statusCode).toBe(200);
      expect((await api.delete('/billing/d1', { 'if-match': String(created.headers.etag) })).statusCode).toBe(
        204,
      );
    });
  });

  describe('POST /restore/{id}', () => {
    it('moves an archived record back with restored_at; 409 when live; 404 when not archived', async () => {
      const created = await api.post('/billing', recordBody({ id: 'res-1', created_at: daysAgo(100) }));
      await api.post('/archive/sync');
      const restored = await api.post('/restore/res-1');
      expect(restored.statusCode, restored.body).toBe(200);
      expect(restored.headers['x-record-source']).toBe('live');
      const body = restored.json<Record<string, unknown>>();
      const { restored_at: restoredAt, ...rest } = body;
      expect(rest).toEqual(created.json());
      expect(Date.now() - Date.parse(String(restoredAt))).toBeLessThan(60_000);
      expectError(await api.post('/restore/res-1'), 409, 'already_live');
      expectError(await api.post(`/restore/${randomUUID()}`), 404, 'not_found');
      expectError(await api.post('/restore/bad%20id'), 400, 'validation_error');
      // Restored today, so not archived again by the next run.
      expect((await api.post('/archive/sync')).json()).toMatchObject({ archived: 0 });
    });
  });

  describe('legal hold: GET and PUT /billing/{id}/legal-hold', () => {
    // Who placed or lifted a hold is the caller's identity, never a name in the body.
    const hold = { held: true, reason: 'litigation 2026-17' };
    const lift = { held: false, reason: 'case closed' };
    const by = 'key:root';

    it('places a hold that refuses DELETE with 409 until lifted, auditing each change once', async () => {
      await api.post('/billing', recordBody({ id: 'h1' }));
      const placed = await api.put('/billing/h1/legal-hold', hold);
      expect(placed.statusCode).toBe(200);
      expect(placed.json()).toMatchObject({
        record_id: 'h1',
        legal_hold: true,
        hold: { record_id: 'h1', by, reason: hold.reason },
        history: [{ action: 'set', by, reason: hold.reason }],
      });
      // Repeating the request changes nothing and adds nothing to the trail.
      expect((await api.put('/billing/h1/legal-hold', { ...hold, reason: 'again' })).json()).toEqual(
        placed.json(),
      );

      const refused = expectError(await api.delete('/billing/h1'), 409, 'legal_hold');
      expect(refused).toContain("record 'h1' is under legal hold since");
      // Why a record is held is for admins and the legal role, never in an error anyone may see.
      expect(refused).not.toContain('litigation');
      expect((await api.get('/billing/h1')).statusCode).toBe(200);

      const lifted = await api.put('/billing/h1/legal-hold', lift);
      expect(lifted.json()).toMatchObject({
        legal_hold: false,
        hold: null,
        history: [{ action: 'set' }, { action: 'cleared', by, reason: lift.reason }],
      });
      expect((await api.delete('/billing/h1')).statusCode).toBe(204);
      // The trail outlives the record.
      expect((await api.get('/billing/h1/legal-hold')).json()).toMatchObject({
        legal_hold: false,
        history: [{}, {}],
      });
    });

    it('holds an archived record: DELETE is refused and the archived copy stays readable', async () => {
      await api.post('/billing', recordBody({ id: 'h2', created_at: daysAgo(200) }));
      await api.post('/archive/sync');
      expect((await api.get('/billing/h2')).headers['x-record-source']).toBe('archive');
      expect((await api.put('/billing/h2/legal-hold', hold)).statusCode).toBe(200);
      expectError(await api.delete('/billing/h2'), 409, 'legal_hold');
      const read = await api.get('/billing/h2');
      expect(read.statusCode).toBe(200);
      await expect(harness.adapters.index.get('h2')).resolves.toBeDefined();
      expect((await api.get('/billing/h2/legal-hold')).json()).toMatchObject({ legal_hold: true });
    });

    it('answers 404 for a record that does not exist, and 400 naming what is missing', async () => {
      expectError(await api.put('/billing/nope/legal-hold', hold), 404, 'not_found');
      expectError(await api.get('/billing/nope/legal-hold'), 404, 'not_found');
      await api.post('/billing', recordBody({ id: 'h3' }));
      const message = expectError(
        await api.put('/billing/h3/legal-hold', { held: true }),
        400,
        'validation_error',
      );
      expect(message).toContain('reason');
      const named = expectError(
        await api.put('/billing/h3/legal-hold', { ...hold, by: 'someone else' }),
        400,
        'validation_error',
      );
      expect(named).toContain('by');
      expectError(await api.put('/billing/h3/legal-hold', { ...hold, extra: 1 }), 400, 'validation_error');
      expect((await api.get('/billing/h3/legal-hold')).json()).toEqual({
        record_id: 'h3',
        legal_hold: false,
        hold: null,
        history: [],
      });
    });
  });
});
