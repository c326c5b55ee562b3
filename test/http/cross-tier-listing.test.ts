import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Adapters } from '../../src/composition-root.js';
import { compareCreation } from '../../src/domain/creation-order.js';
import type { LiveStore } from '../../src/ports/live-store.js';
import { apiClient, expectError, type ApiClient } from '../helpers/api.js';
import { BACKENDS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';

interface Item {
  source: 'live' | 'archive';
  etag: string;
  tier?: string | null;
  rehydration_required?: boolean;
  rehydrating?: boolean;
  unreadable?: string;
  id?: string;
  record?: Record<string, unknown> & { id: string; created_at: string };
}
interface Page {
  items: Item[];
  next_cursor: string | null;
}

const idOf = (item: Item): string => item.record?.id ?? String(item.id);

/** Both backends, each over its own index kind and over the blob-native one. */
const SETUPS = BACKENDS.flatMap((backend) =>
  (['native', 'blob'] as const).map((index) => ({ backend, index })),
);

describe.each(SETUPS)('GET /billing across tiers ($backend, $index index)', ({ backend, index }) => {
  let harness: Harness;
  let api: ApiClient;
  /** Runs once after the first live listing of a page (a record moving mid-page), when set. */
  let afterFirstLiveRead: (() => Promise<void>) | undefined;

  const env = {
    BATCH_SIZE: '5',
    ...(index === 'blob' && { ARCHIVE_INDEX: 'blob', ARCHIVE_INDEX_SHARDS: '4' }),
  };

  function withMoveMidPage(adapters: Adapters): Adapters {
    const live: LiveStore = Object.create(adapters.live) as LiveStore;
    live.list = async (query) => {
      const records = await adapters.live.list(query);
      const move = afterFirstLiveRead;
      if (query.byCreation && move) {
        afterFirstLiveRead = undefined;
        await move();
      }
      return records;
    };
    return { ...adapters, live };
  }

  beforeEach(async () => {
    afterFirstLiveRead = undefined;
    harness = await startHarness({ backend, layout: 'segment', env, wrap: withMoveMidPage });
    api = apiClient(harness.app);
  });
  afterEach(async () => {
    await harness.destroy();
  });

  async function create(
    id: string,
    createdDaysAgo: number,
    extra: Record<string, unknown> = {},
  ): Promise<void> {
    const response = await api.post(
      '/billing',
      recordBody({ id, created_at: daysAgo(createdDaysAgo), ...extra }),
    );
    expect(response.statusCode).toBe(201);
  }

  async function archive(body: Record<string, unknown> = {}): Promise<number> {
    const response = await api.post('/archive/sync', body);
    expect(response.statusCode).toBe(200);
    return response.json<{ archived: number }>().archived;
  }

  const ids = (listed: Page[]) => listed.flatMap((page) => page.items.map(idOf));

  /** Every page of a listing, in order, following next_cursor; `between` runs before each next page. */
  async function pages(query: string, between?: (listedSoFar: string[]) => Promise<void>): Promise<Page[]> {
    const all: Page[] = [];
    let cursor: string | null = null;
    do {
      if (cursor !== null) await between?.(ids(all));
      const response = await api.get(
        `/billing?${query}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
      );
      expect(response.statusCode, response.body).toBe(200);
      const page = response.json<Page>();
      all.push(page);
      cursor = page.next_cursor;
    } while (cursor !== null);
    return all;
  }

  it('lists live and archived records together in creation order, saying where each lives', async () => {
    await create('a-old', 400, { customer_id: 'c1' });
    await create('b-old', 300, { customer_id: 'c2' });
    await create('c-old', 300, { customer_id: 'c1' });
    await create('d-new', 10, { customer_id: 'c1' });
    await create('e-old', 200, { customer_id: 'c1' });
    await create('f-new', 5, { customer_id: 'c2' });
    expect(await archive()).toBe(4);

    const listed = await pages('limit=2');
    expect(listed).toHaveLength(3);
    // b-old and c-old share a creation time: the id breaks the tie.
    expect(ids(listed)).toEqual(['a-old', 'b-old', 'c-old', 'e-old', 'd-new', 'f-new']);
    const items = listed.flatMap((page) => page.items);
    expect(items.map((item) => item.source)).toEqual([
      'archive',
      'archive',
      'archive',
      'archive',
      'live',
      'live',
    ]);
    for (const item of items) {
      // Each record exactly as a read by id gives it, with the same entity tag.
      const read = await api.get(`/billing/${idOf(item)}`);
      expect(JSON.stringify(item.record)).toBe(read.body);
      expect(item.etag).toBe(read.headers.etag);
      if (item.source === 'archive') {
        expect(item.rehydration_required).toBe(false);
        expect(item.tier).toBe(backend === 'azure' ? 'Cool' : null);
      }
    }
  });

  it('filters by customer, status and creation time (from inclusive, to exclusive) across tiers', async () => {
    await create('r1', 400, {
      customer_id: 'c1',
      status: 'refunded',
      created_at: '2025-01-01T00:00:00.000Z',
    });
    await create('r2', 400, { customer_id: 'c1', status: 'paid', created_at: '2025-01-15T00:00:00.000Z' });
    await create('r3', 400, {
      customer_id: 'c2',
      status: 'refunded',
      created_at: '2025-01-20T00:00:00.000Z',
    });
    await create('r4', 400, {
      customer_id: 'c1',
      status: 'refunded',
      created_at: '2025-02-01T00:00:00.000Z',
    });
    await create('r5', 1, { customer_id: 'c1', status: 'refunded' });
    expect(await archive()).toBe(4);
    const listed = async (query: string) => ids(await pages(query));

    expect(await listed('customer_id=c1')).toEqual(['r1', 'r2', 'r4', 'r5']);
    // Status is told by archived bodies too.
    expect(await listed('status=refunded')).toEqual(['r1', 'r3', 'r4', 'r5']);
    expect(await listed('customer_id=c1&status=refunded&limit=1')).toEqual(['r1', 'r4', 'r5']);
    expect(await listed('created_from=2025-01-01T00:00:00Z&created_to=2025-02-01T00:00:00Z')).toEqual([
      'r1',
      'r2',
      'r3',
    ]);
    // Another offset names the same instants.
    expect(
      await listed('created_from=2025-01-15T01:00:00%2B01:00&created_to=2025-02-01T00:00:00.001Z'),
    ).toEqual(['r2', 'r3', 'r4']);
    expect(await listed('customer_id=nobody')).toEqual([]);
  });

  it('lists each record once, in order, while runs and restores move records between pages', async () => {
    const created: string[] = [];
    for (let i = 0; i < 24; i++) {
      const id = `m-${String(i).padStart(2, '0')}`;
      // Old and new interleaved in id order: the old ones are archived first, the new stay live.
      await create(id, i % 3 === 0 ? 5 : 300 - i);
      created.push(id);
    }
    expect(await archive()).toBe(16);
    const keys = [];
    for (const id of created)
      keys.push({
        id,
        createdAt:
          (await harness.adapters.live.get(id))?.doc.created_at ??
          (await harness.adapters.index.get(id))?.created_at ??
          '',
      });
    const order = keys.sort(compareCreation).map((key) => key.id);

    const moved = { restored: 0, archived: 0 };
    const listed = await pages('limit=4', async (listedSoFar) => {
      const ahead = order.filter((id) => !listedSoFar.includes(id));
      const archivedAhead: string[] = [];
      for (const id of ahead) if (await harness.adapters.index.get(id)) archivedAhead.push(id);
      // Records not listed yet move both ways: two come back live, then a run (every record due)
      // archives the three oldest live ones, which are those, or newer ones.
      for (const id of archivedAhead.slice(0, 2)) {
        expect((await api.post(`/restore/${id}`)).statusCode).toBe(200);
        moved.restored += 1;
      }
      moved.archived += await archive({ older_than_days: 0, limit: 3 });
    });
    expect(ids(listed)).toEqual(order);
    expect(moved.restored).toBeGreaterThan(4);
    expect(moved.archived).toBeGreaterThan(4);
    const sources = new Set(listed.flatMap((page) => page.items.map((item) => item.source)));
    expect([...sources].sort()).toEqual(['archive', 'live']);
  });

  it('still lists a record restored while a page is being read (after the live store was read)', async () => {
    await create('x-1', 300);
    await create('x-2', 299);
    await create('x-3', 298);
    expect(await archive()).toBe(3);
    // The restore lands after the first live read and before the archive read: only the second
    // live read finds x-2.
    afterFirstLiveRead = async () => {
      expect((await harness.services.records.restore('x-2')).source).toBe('live');
    };
    const [page] = await pages('limit=10');
    expect(afterFirstLiveRead).toBeUndefined();
    expect(page?.items.map((item) => [idOf(item), item.source])).toEqual([
      ['x-1', 'archive'],
      ['x-2', 'live'],
      ['x-3', 'archive'],
    ]);
  });

  it('keeps the fields asked for, and streams every matching record as NDJSON', async () => {
    for (let i = 0; i < 5; i++) await create(`n-${i}`, 300 - i, { customer_id: i % 2 === 0 ? 'c1' : 'c2' });
    await create('n-live', 1, { customer_id: 'c1' });
    expect(await archive()).toBe(5);

    const [projected] = await pages('limit=10&fields=id,amount&customer_id=c1');
    expect(projected?.items.map((item) => item.record)).toEqual([
      { id: 'n-0', amount: 129.9 },
      { id: 'n-2', amount: 129.9 },
      { id: 'n-4', amount: 129.9 },
      { id: 'n-live', amount: 129.9 },
    ]);

    const exported = await api.get('/billing?format=ndjson&limit=2&customer_id=c1');
    expect(exported.statusCode).toBe(200);
    expect(exported.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const lines = exported.body
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Item);
    // The last line says the export is whole: one that breaks off lacks it.
    expect(lines.pop()).toEqual({ complete: true, records: 4 });
    expect(lines.map(idOf)).toEqual(['n-0', 'n-2', 'n-4', 'n-live']);
    expect(lines.map((item) => item.source)).toEqual(['archive', 'archive', 'archive', 'live']);
  });

  it('shows the live record, not an entry standing beside it, whatever the filters', async () => {
    await create('s-1', 300, { status: 'pending' });
    await create('s-2', 299, { status: 'pending' });
    expect(await archive()).toBe(2);
    // A changed copy live beside the entry, as a run leaves it until it withdraws the entry, or a
    // crash leaves it for a later run.
    const entry = await harness.adapters.index.get('s-1');
    const archivedDoc = (await api.get('/billing/s-1')).json<Record<string, unknown>>();
    await harness.adapters.live.create({ ...archivedDoc, id: 's-1', status: 'paid' } as never);
    expect(await harness.adapters.index.get('s-1')).toEqual(entry);

    const listed = async (query: string) =>
      (await pages(query)).flatMap((page) =>
        page.items.map((item) => [idOf(item), item.source, item.record?.status]),
      );
    expect(await listed('status=pending')).toEqual([['s-2', 'archive', 'pending']]);
    expect(await listed('status=paid')).toEqual([['s-1', 'live', 'paid']]);
    expect(await listed('limit=1')).toEqual([
      ['s-1', 'live', 'paid'],
      ['s-2', 'archive', 'pending'],
    ]);
  });

  it('pages on past stale entries a filter leaves out, without ending early', async () => {
    for (const [id, days] of [
      ['a1', 305],
      ['s1', 304],
      ['s2', 303],
      ['a2', 302],
      ['a3', 301],
    ] as const)
      await create(id, days, { status: 'pending' });
    expect(await archive()).toBe(5);
    // s1 and s2 are live again as paid, their pending entries still standing beside them.
    for (const id of ['s1', 's2']) {
      const archivedDoc = (await api.get(`/billing/${id}`)).json<Record<string, unknown>>();
      await harness.adapters.live.create({ ...archivedDoc, id, status: 'paid' } as never);
    }
    const listed = await pages('status=pending&limit=2');
    expect(ids(listed)).toEqual(['a1', 'a2', 'a3']);
    expect(ids(await pages('status=paid&limit=1'))).toEqual(['s1', 's2']);
  });

  it('lists a record whose archived copy is gone or damaged without its body, and goes on past it', async () => {
    await create('g-1', 400);
    await create('g-2', 300);
    await create('g-3', 200);
    expect(await archive()).toBe(3);
    const blobOf = async (id: string) => (await harness.adapters.index.get(id))?.location.blob ?? '';
    const [gone, damaged] = [await blobOf('g-1'), await blobOf('g-2')];
    expect(new Set([gone, damaged, await blobOf('g-3')]).size).toBe(3);
    await harness.adapters.store.delete(gone);
    await harness.overwriteBlob(damaged, Buffer.from('not the segment that was written'));

    const items = (await pages('limit=1')).flatMap((page) => page.items);
    expect(items.map((item) => [idOf(item), item.unreadable ?? 'read'])).toEqual([
      ['g-1', 'archived_gone'],
      ['g-2', 'integrity_error'],
      ['g-3', 'read'],
    ]);
    expect(items[0]?.record).toBeUndefined();
    expect(items[1]?.record).toBeUndefined();
  });

  it.runIf(backend === 'embedded' && index === 'native')(
    'ends a page early, with a cursor past what it scanned, when a rare status keeps it from filling',
    async () => {
      const old = daysAgo(300);
      for (let i = 0; i < 1100; i++) {
        const id = `p-${String(i).padStart(4, '0')}`;
        const created = new Date(Date.parse(old) + i * 1000).toISOString();
        const { id: _unused, ...body } = recordBody({ status: 'paid' });
        await harness.adapters.live.create({
          ...body,
          id,
          created_at: created,
          updated_at: created,
        });
      }
      await create('rare', 200, { status: 'refunded' });
      expect(await archive()).toBe(1101);
      const first = (await api.get('/billing?status=refunded&limit=10')).json<Page>();
      expect(first.items).toEqual([]);
      expect(first.next_cursor).toEqual(expect.any(String));
      expect(ids(await pages('status=refunded&limit=10'))).toEqual(['rare']);
    },
  );

  it('refuses what it cannot honour, one sentence per problem', async () => {
    await create('v-1', 300);
    await create('v-2', 299);
    const [first] = await pages('limit=1&customer_id=cust-1').then((listed) => listed);
    const cursor = first?.next_cursor ?? '';
    expect(cursor).not.toBe('');
    const refused = async (query: string, pattern: RegExp) => {
      const message = expectError(await api.get(`/billing?${query}`), 400, 'validation_error');
      expect(message).toMatch(pattern);
    };
    await refused(`limit=1&cursor=${cursor}`, /other filters/);
    await refused('cursor=not-a-cursor', /not one this API gave/);
    await refused('created_from=yesterday', /created_from must be an RFC 3339 date-time/);
    await refused('created_from=2025-01-01T00:00:00.0001Z', /finer than a millisecond/);
    await refused(
      'created_from=2025-02-01T00:00:00Z&created_to=2025-01-01T00:00:00Z',
      /created_from must be before created_to/,
    );
    await refused('after=v-1', /unknown field 'after'/);
    await refused('fields=id;drop', /field names separated by commas/);
    await refused('status=lost', /status/);
    await refused('rehydrate=true&format=ndjson', /rehydrate=true works on pages only/);
  });
});

describe.runIf(BACKENDS.includes('azure'))('GET /billing over Archive-tier blobs (azure)', () => {
  let harness: Harness;
  let api: ApiClient;
  beforeEach(async () => {
    harness = await startHarness({ backend: 'azure', layout: 'segment' });
    api = apiClient(harness.app);
  });
  afterEach(async () => {
    await harness.destroy();
  });

  it('lists a record in the Archive tier without its body, and rehydrates only when asked', async () => {
    for (const id of ['cold-1', 'cold-2'])
      expect((await api.post('/billing', recordBody({ id, created_at: daysAgo(300) }))).statusCode).toBe(201);
    expect((await api.post('/archive/sync', {})).statusCode).toBe(200);
    const entry = await harness.adapters.index.get('cold-1');
    const blob = entry?.location.blob ?? '';
    await harness.adapters.store.tiers?.setTier(blob, 'Archive');
    const rehydrated = async () => {
      const names: string[] = [];
      for await (const info of harness.adapters.store.list('rehydrated/')) names.push(info.name);
      return names;
    };

    const cold = (await api.get('/billing')).json<Page>();
    expect(
      cold.items.map((item) => [idOf(item), item.tier, item.rehydration_required, item.rehydrating]),
    ).toEqual([
      ['cold-1', 'Archive', true, false],
      ['cold-2', 'Archive', true, false],
    ]);
    expect(cold.items[0]?.record).toBeUndefined();
    expect(await rehydrated()).toEqual([]);

    // Asked to, the listing starts one rehydration for the segment both records share.
    const asked = (await api.get('/billing?rehydrate=true')).json<Page>();
    expect(asked.items.map((item) => item.rehydrating)).toEqual([true, true]);
    expect(await rehydrated()).toEqual([`rehydrated/${blob}`]);
    // Azurite rehydrates at once: the records now come with their bodies, the blob still in Archive.
    const warm = (await api.get('/billing')).json<Page>();
    expect(warm.items.map((item) => [idOf(item), item.tier, item.rehydration_required])).toEqual([
      ['cold-1', 'Archive', false],
      ['cold-2', 'Archive', false],
    ]);
    expect(JSON.stringify(warm.items[0]?.record)).toBe((await api.get('/billing/cold-1')).body);
  });

  it('starts rehydrating only the blobs of the records a page shows', async () => {
    for (const [id, days] of [
      ['cold-a', 400],
      ['cold-b', 300],
    ] as const)
      expect((await api.post('/billing', recordBody({ id, created_at: daysAgo(days) }))).statusCode).toBe(
        201,
      );
    expect((await api.post('/archive/sync', {})).statusCode).toBe(200);
    const blobs = await Promise.all(
      ['cold-a', 'cold-b'].map(async (id) => (await harness.adapters.index.get(id))?.location.blob ?? ''),
    );
    expect(new Set(blobs).size).toBe(2);
    for (const blob of blobs) await harness.adapters.store.tiers?.setTier(blob, 'Archive');

    const page = (await api.get('/billing?limit=1&rehydrate=true')).json<Page>();
    expect(page.items.map((item) => [idOf(item), item.rehydrating])).toEqual([['cold-a', true]]);
    const names: string[] = [];
    for await (const info of harness.adapters.store.list('rehydrated/')) names.push(info.name);
    // The page read cold-b too (one record more than it holds, to know another page follows).
    expect(names).toEqual([`rehydrated/${blobs[0] ?? ''}`]);
  });
});
