import { afterEach, describe, expect, it } from 'vitest';
import { createCosmosClient } from '../../src/adapters/cosmos/cosmos-client.js';
import { sha256Hex, type RecordDocument } from '../../src/domain/billing-record.js';
import { inSlice } from '../../src/domain/slices.js';
import type { RunRecord } from '../../src/ports/run-log.js';
import { apiClient } from '../helpers/api.js';
import { cosmosTestAgent } from '../helpers/azure.js';
import { BACKENDS, SETUPS, startHarness, type Harness } from '../helpers/harness.js';
import { TEST_KEYS } from '../helpers/keys.js';

/** The run's clock: its 90-day cutoff is 2026-03-03T00:00:00Z. */
const NOW = new Date('2026-06-01T00:00:00.000Z');

const base = (id: string) => ({ id, customer_id: 'cust-1', amount: 12.5, currency: 'EUR', status: 'paid' });

/** Read as instants, last touched before the cutoff: archived, whatever the text looks like. */
const ARCHIVABLE: Record<string, Record<string, unknown>> = {
  offset: { ...base('offset'), created_at: '2020-01-01T01:00:00+02:00' },
  'lower-fraction': {
    ...base('lower-fraction'),
    created_at: '2020-02-01t10:00:00.123456z',
    updated_at: '2020-03-01T00:00:00.5+05:30',
    legacy_ref: { system: 'billing-platform', seq: 7 },
  },
  'null-updated': { ...base('null-updated'), created_at: '2020-01-15T00:00:00Z', updated_at: null },
  // One hour before the cutoff, written five hours ahead: as text it reads after the cutoff.
  'touched-ahead': {
    ...base('touched-ahead'),
    created_at: '2020-01-20T00:00:00Z',
    updated_at: '2026-03-03T04:00:00+05:00',
  },
};

/** Read as instants, but touched since the cutoff: stays live, unreported. */
const RECENT: Record<string, Record<string, unknown>> = {
  // One hour after the cutoff, written five hours behind: as text it reads before the cutoff.
  'touched-behind': {
    ...base('touched-behind'),
    created_at: '2020-01-20T00:00:00Z',
    updated_at: '2026-03-02T20:00:00-05:00',
  },
};

/** Timestamps that do not read: stays live, reported by the run (old) and by verify (all). */
const UNREADABLE_OLD: Record<string, Record<string, unknown>> = {
  'epoch-seconds': { ...base('epoch-seconds'), created_at: 1577836800, updated_at: 1577836800 },
  'epoch-millis': { ...base('epoch-millis'), created_at: 1577836800000 },
  'no-created': { ...base('no-created'), updated_at: '2020-01-01T00:00:00Z' },
  garbage: { ...base('garbage'), created_at: '01/02/2020' },
  'no-offset': { ...base('no-offset'), created_at: '2020-01-01T10:00:00' },
};
const UNREADABLE_RECENT: Record<string, Record<string, unknown>> = {
  'no-created-recent': { ...base('no-created-recent'), updated_at: '2026-05-31T00:00:00Z' },
};

const ALL = { ...ARCHIVABLE, ...RECENT, ...UNREADABLE_OLD, ...UNREADABLE_RECENT };

/** Writes the documents as another system would: straight into the live container (or table). */
async function writeDirectly(harness: Harness, docs: Record<string, unknown>[]): Promise<void> {
  const { backend } = harness.config;
  if (backend.kind === 'embedded') {
    for (const doc of docs) await harness.adapters.live.create(doc as RecordDocument);
    return;
  }
  const client = createCosmosClient({
    endpoint: backend.cosmos.endpoint,
    key: backend.cosmos.key,
    database: backend.cosmos.database,
    agent: cosmosTestAgent(),
  });
  try {
    const container = client.database(backend.cosmos.database).container(backend.cosmos.container);
    for (const doc of docs) await container.items.create(doc);
  } finally {
    client.dispose();
  }
}

describe.each(SETUPS)(
  'Documents other systems wrote into the live store ($backend, $layout layout)',
  (setup) => {
    let harness: Harness | undefined;
    afterEach(async () => {
      await harness?.destroy();
      harness = undefined;
    });

    it('archives by instant, byte for byte; reports and keeps what does not read; loses nothing', async () => {
      harness = await startHarness({ ...setup, clock: () => new Date(NOW) });
      await writeDirectly(harness, Object.values(ALL));

      const run = await harness.services.archiver.runOnce({ olderThanDays: 90 });
      const unreadableOld = Object.keys(UNREADABLE_OLD);
      expect(run).toMatchObject({
        status: 'succeeded',
        eligible: 4,
        archived: 4,
        failed: 0,
        not_archivable: unreadableOld.length,
        errors: [],
      });
      expect(run.notes).toHaveLength(unreadableOld.length);
      for (const id of unreadableOld)
        expect(
          run.notes?.some((note) => note.startsWith(`record '${id}' is not archivable and stays live: `)),
        ).toBe(true);
      expect(run.notes).toContain(
        "record 'epoch-millis' is not archivable and stays live: created_at is the number 1577836800000, not an RFC 3339 date-time: reading it as seconds or milliseconds since 1970 would be a guess",
      );

      for (const [id, doc] of Object.entries(ALL)) {
        const view = await harness.services.records.get(id);
        expect(view.source, id).toBe(id in ARCHIVABLE ? 'archive' : 'live');
        // Archived or not, the record reads back exactly as the other system wrote it.
        expect(JSON.stringify(view.doc), id).toBe(JSON.stringify(doc));
      }
      for (const [id, doc] of Object.entries(ARCHIVABLE)) {
        const entry = await harness.adapters.index.get(id);
        // The archived bytes are the written document's: what the reader verified above hashes to this.
        expect(entry?.sha256, id).toBe(sha256Hex(Buffer.from(JSON.stringify(doc))));
      }
      // Named by the UTC month of the instant, not the month the text shows.
      const offsetEntry = await harness.adapters.index.get('offset');
      expect(offsetEntry?.created_at).toBe('2019-12-31T23:00:00.000Z');
      expect(offsetEntry?.location.blob).toMatch(
        setup.layout === 'segment' ? /^segments\/created=2019-12\// : /^records\/2019\/12\/offset\./,
      );

      const history = await apiClient(harness.app, TEST_KEYS.reader).get(`/archive/runs/${run.run_id}`);
      expect(history.statusCode).toBe(200);
      expect(history.json<RunRecord>()).toMatchObject({
        not_archivable: unreadableOld.length,
        notes: run.notes,
      });

      const report = await harness.services.verifier.verify();
      expect(report.ok).toBe(true);
      expect(report.checked.live_records).toBe(Object.keys(ALL).length - 4);
      expect(report.not_archivable.items.map((item) => item.id).sort()).toEqual(
        [...unreadableOld, ...Object.keys(UNREADABLE_RECENT)].sort(),
      );
      expect(report.not_archivable.count).toBe(unreadableOld.length + 1);

      // The next run meets them again: reported, never archived, never lost.
      const again = await harness.services.archiver.runOnce({ olderThanDays: 90 });
      expect(again).toMatchObject({
        status: 'succeeded',
        archived: 0,
        not_archivable: unreadableOld.length,
      });
      expect((await harness.adapters.live.summary()).count).toBe(Object.keys(ALL).length - 4);
    });
  },
);

describe.each(BACKENDS)('Documents that do not read, with slices (%s)', (backend) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
  });

  it('are counted by the run of their own slice only', async () => {
    harness = await startHarness({ backend, env: { ARCHIVAL_SLICES: '2' }, clock: () => new Date(NOW) });
    await writeDirectly(harness, Object.values(UNREADABLE_OLD));
    for (const index of [0, 1]) {
      const slice = { index, count: 2 };
      const own = Object.keys(UNREADABLE_OLD).filter((id) => inSlice(id, slice));
      const run = await harness.services.archiver.runOnce({ olderThanDays: 90, slice });
      expect(run.not_archivable).toBe(own.length);
      expect(run.notes?.map((note) => /^record '([^']+)'/.exec(note)?.[1]).sort()).toEqual(own.sort());
    }
  });
});
