import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, expectError } from '../helpers/api.js';
import { BACKENDS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { TEST_KEYS } from '../helpers/keys.js';

interface HistoryEvent {
  at: string;
  event: string;
  by?: string;
  detail?: string;
}
interface History {
  record_id: string;
  where: string;
  events: HistoryEvent[];
  audit_hidden: boolean;
}
interface Hold {
  record_id: string;
  since: string;
  by: string;
  reason: string;
}

describe.each(BACKENDS)("a record's history and the holds in force (%s)", (backend) => {
  let harness: Harness;
  const created = daysAgo(200);

  beforeAll(async () => {
    harness = await startHarness({ backend });
    const writer = apiClient(harness.app, TEST_KEYS.writer);
    const legal = apiClient(harness.app, TEST_KEYS.legal);
    expect(
      (await writer.post('/billing', recordBody({ id: 'hist-1', created_at: created }))).statusCode,
    ).toBe(201);
    const read = await writer.get('/billing/hist-1');
    const updated = await writer.put(
      '/billing/hist-1',
      { ...read.json<object>(), status: 'refunded' },
      { 'if-match': String(read.headers.etag) },
    );
    expect(updated.statusCode).toBe(200);
    // Updated today, it stays live; a second record, untouched, is archived.
    await writer.post('/billing', recordBody({ id: 'hist-2', created_at: created }));
    expect((await apiClient(harness.app, TEST_KEYS.operator).post('/archive/sync')).json()).toMatchObject({
      archived: 1,
    });
    for (const id of ['hist-2', 'hist-1'])
      expect(
        (await legal.put(`/billing/${id}/legal-hold`, { held: true, reason: `case 4711 (${id})` }))
          .statusCode,
      ).toBe(200);
  });
  afterAll(async () => {
    await harness.destroy();
  });

  const history = async (key: string, id: string): Promise<History> => {
    const response = await apiClient(harness.app, key).get(`/billing/${id}/history`);
    expect(response.statusCode, response.body).toBe(200);
    return response.json<History>();
  };

  it("tells an archived record's story in order: created, archived by its run, held", async () => {
    // A stranger's failed credentials are noted in the audit trail, but are no part of the record's story.
    expect((await apiClient(harness.app, 'not-a-key').get('/billing/hist-2')).statusCode).toBe(401);
    const story = await history(TEST_KEYS.admin, 'hist-2');
    expect(story).toMatchObject({
      record_id: 'hist-2',
      where: 'archive',
      audit_hidden: false,
      audit_truncated: false,
    });
    const run = (await apiClient(harness.app, TEST_KEYS.reader).get('/archive/runs')).json<{
      items: { run_id: string }[];
    }>().items[0];
    expect(story.events.map((event) => event.event)).toEqual([
      'created',
      'record.create',
      'archived',
      'hold placed',
      'legal_hold.place',
    ]);
    expect(story.events[0]?.at).toBe(created);
    expect(story.events[2]?.detail).toContain(`by run ${run?.run_id ?? 'none'}`);
    expect(story.events[1]).toMatchObject({ by: 'key:writer', detail: 'succeeded (HTTP 201)' });
    expect(story.events[3]).toMatchObject({ by: 'key:legal', detail: 'case 4711 (hist-2)' });
    const times = story.events.map((event) => event.at);
    expect([...times].sort()).toEqual(times);
  });

  it('shows a live record its update, with the audit entry of the change', async () => {
    const story = await history(TEST_KEYS.admin, 'hist-1');
    expect(story.where).toBe('live');
    expect(story.events.map((event) => event.event)).toEqual(
      expect.arrayContaining(['created', 'record.create', 'updated', 'record.update', 'hold placed']),
    );
    expect(story.events.map((event) => event.event)).not.toContain('archived');
  });

  it('hides who made each change from a reader, and why a hold was placed', async () => {
    const story = await history(TEST_KEYS.reader, 'hist-2');
    expect(story.audit_hidden).toBe(true);
    expect(story.events.filter((event) => event.by !== undefined)).toEqual([]);
    expect(JSON.stringify(story)).not.toContain('case 4711');
    expect(JSON.stringify(story)).not.toContain('key:');
  });

  it("shows the legal role why a hold was placed, but not the audit trail's actors", async () => {
    const story = await history(TEST_KEYS.counsel, 'hist-2');
    expect(story.audit_hidden).toBe(true);
    expect(story.events.find((event) => event.event === 'hold placed')).toMatchObject({
      by: 'key:legal',
      detail: 'case 4711 (hist-2)',
    });
    expect(story.events.find((event) => event.event === 'record.create')?.by).toBeUndefined();
  });

  it('keeps the history of a deleted record, and answers 404 for an id nothing is known of', async () => {
    const root = apiClient(harness.app);
    await root.post('/billing', recordBody({ id: 'hist-gone' }));
    expect((await root.delete('/billing/hist-gone')).statusCode).toBe(204);
    const story = await history(TEST_KEYS.admin, 'hist-gone');
    expect(story.where).toBe('absent');
    expect(story.events.map((event) => event.event)).toEqual(['record.create', 'record.delete']);
    expectError(await root.get('/billing/never-was/history'), 404, 'not_found');
    expectError(await root.get('/billing/bad%20id/history'), 400, 'validation_error');
  });

  it('lists the holds in force by id, a page at a time, with who and why for admins and legal only', async () => {
    const open = await apiClient(harness.app, TEST_KEYS.counsel).get('/legal-holds?limit=1');
    expect(open.statusCode).toBe(200);
    const first = open.json<{ items: Hold[]; next_after: string | null }>();
    expect(first.items).toEqual([expect.objectContaining({ record_id: 'hist-1', by: 'key:legal' })]);
    expect(first.items[0]?.reason).toBe('case 4711 (hist-1)');
    expect(first.next_after).toBe('hist-1');
    const second = (
      await apiClient(harness.app, TEST_KEYS.admin).get('/legal-holds?limit=1&after=hist-1')
    ).json<{
      items: Hold[];
      next_after: string | null;
    }>();
    expect(second.items.map((hold) => hold.record_id)).toEqual(['hist-2']);

    const hidden = (await apiClient(harness.app, TEST_KEYS.reader).get('/legal-holds')).json<{
      items: Hold[];
      next_after: string | null;
    }>();
    expect(hidden.next_after).toBeNull();
    expect(hidden.items.map((hold) => [hold.record_id, hold.by, hold.reason])).toEqual([
      ['hist-1', '(hidden)', '(hidden)'],
      ['hist-2', '(hidden)', '(hidden)'],
    ]);
    expectError(await apiClient(harness.app).get('/legal-holds?limit=0'), 400, 'validation_error');
  });
});
