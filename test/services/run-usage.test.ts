import { afterEach, describe, expect, it } from 'vitest';
import pMap from 'p-map';
import { newRecordDocument, type NewRecordInput } from '../../src/domain/billing-record.js';
import type { Usage } from '../../src/domain/usage.js';
import type { LiveStore } from '../../src/ports/live-store.js';
import { apiClient } from '../helpers/api.js';
import { intercept } from '../helpers/intercept.js';
import { SETUPS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';

const RECORDS = 120;
const SEGMENT_RECORDS = 50;

describe.each(SETUPS)(
  'What an archival run asks of the stores ($backend, $layout layout)',
  ({ backend, layout }) => {
    let harness: Harness | undefined;
    afterEach(async () => {
      await harness?.destroy();
      harness = undefined;
    });

    it('counts its archive store operations and Cosmos DB requests, keeps them with the run, and shows them in /stats and /metrics', async () => {
      harness = await startHarness({
        backend,
        layout,
        env: { SEGMENT_MAX_RECORDS: String(SEGMENT_RECORDS) },
      });
      const { records, archiver } = harness.services;
      for (let i = 0; i < RECORDS; i++)
        await records.create(recordBody({ id: `u-${String(i).padStart(3, '0')}`, created_at: daysAgo(100) }));
      const before = harness.services.usage.totals();

      const run = await archiver.runOnce();
      expect(run).toMatchObject({ status: 'succeeded', archived: RECORDS });
      const usage = run.usage as Usage;
      // The segment layout writes each segment and its manifest; the record layout one blob a record.
      const writes = layout === 'segment' ? 2 * Math.ceil(RECORDS / SEGMENT_RECORDS) : RECORDS;
      expect(usage.archive_store.by_kind.write).toBe(writes);
      expect(usage.archive_store.operations).toBe(
        Object.values(usage.archive_store.by_kind).reduce((sum, count) => sum + count, 0),
      );
      if (backend === 'azure') {
        const live = harness.config.backend.kind === 'azure' ? harness.config.backend.cosmos.container : '';
        const liveCalls = Object.entries(usage.cosmos.by_kind).filter(([kind]) =>
          kind.startsWith(`${live}/`),
        );
        expect(liveCalls.length).toBeGreaterThan(0);
        expect(usage.cosmos.requests).toBe(
          Object.values(usage.cosmos.by_kind).reduce((sum, calls) => sum + calls.requests, 0),
        );
        // The test server charges 1 RU for every request; Cosmos DB charges by the work done.
        expect(usage.cosmos.request_units).toBeGreaterThan(0);
      } else {
        expect(usage.cosmos).toEqual({ requests: 0, request_units: 0, by_kind: {} });
      }
      expect(run.usage_per_archived_record).toEqual({
        cosmos_requests: round4(usage.cosmos.requests / RECORDS),
        request_units: round4(usage.cosmos.request_units / RECORDS),
        archive_store_operations: round4(usage.archive_store.operations / RECORDS),
      });
      // The process's totals grew by at least what the run counted.
      const after = harness.services.usage.totals();
      expect(after.archive_store.operations - before.archive_store.operations).toBeGreaterThanOrEqual(
        usage.archive_store.operations,
      );

      // The history keeps what the run counted, as the run ended.
      expect((await archiver.run(run.run_id))?.usage).toEqual(usage);

      const api = apiClient(harness.app);
      const stats = (await api.get('/stats')).json<{
        archival_usage: {
          runs_counted: number;
          archived: number;
          usage: Usage;
          per_archived_record: unknown;
        };
      }>();
      expect(stats.archival_usage).toEqual({
        runs_counted: 1,
        archived: RECORDS,
        usage,
        per_archived_record: run.usage_per_archived_record,
      });
      const metrics = (await api.get('/metrics')).body;
      expect(metrics).toMatch(
        new RegExp(`billing_archive_archive_store_operations_total\\{operation="write"\\} (\\d+)`),
      );
      const written = Number(/archive_store_operations_total\{operation="write"\} (\d+)/.exec(metrics)?.[1]);
      expect(written).toBe(after.archive_store.by_kind.write);
      if (backend === 'azure')
        expect(metrics).toMatch(/billing_archive_cosmos_request_units_total\{kind="[^"]+"\} \d/);
    });

    it.runIf(backend === 'azure')(
      'archives a run of hundreds of records in at most a quarter of a Cosmos DB request each',
      async () => {
        harness = await startHarness({ backend, layout });
        const count = 600;
        // Seeded straight into the live store, 16 at once: the API's own checks are not measured here.
        const { live } = harness.adapters;
        const docs = Array.from({ length: count }, (_, i) =>
          newRecordDocument(
            recordBody({
              id: `b-${String(i).padStart(4, '0')}`,
              created_at: daysAgo(100 + (i % 60)),
            }) as NewRecordInput,
            new Date(),
          ),
        );
        await pMap(docs, (doc) => live.create(doc), { concurrency: 16 });
        const run = await harness.services.archiver.runOnce();
        expect(run).toMatchObject({ status: 'succeeded', archived: count });
        // Reads, index writes and deletes go a hundred to a request, and no record is read on its own.
        expect(run.usage_per_archived_record?.cosmos_requests).toBeLessThanOrEqual(0.25);
        const kinds = Object.entries(run.usage?.cosmos.by_kind ?? {});
        expect(kinds.filter(([kind]) => kind.endsWith('/read') && !kind.startsWith('archive_runs/'))).toEqual(
          [],
        );
        // The index is asked twice a page of 100: before writing (which records are archived
        // already, a keep-live run's or a killed run's copies) and when indexing (which locations
        // the entries leave); every other kind once.
        for (const [kind, calls] of kinds)
          expect(calls.requests, kind).toBeLessThanOrEqual(
            kind.startsWith('archive_index/') ? count / 25 : count / 50,
          );
      },
      60_000,
    );

    it('does not count requests served beside a run against it', async () => {
      // The run waits in its first read of eligible records until the reads beside it are done.
      let reading = false;
      let letRunGo: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (letRunGo = resolve));
      harness = await startHarness({
        backend,
        layout,
        // Every read reaches the store, so that each is there to be counted (or not) against the run.
        env: { ARCHIVE_READ_CACHE_MB: '0' },
        wrap: (adapters) => ({
          ...adapters,
          live: intercept<LiveStore>(adapters.live, {
            findEligible: async (query) => {
              if (reading) await gate;
              return adapters.live.findEligible(query);
            },
          }),
        }),
      });
      const { records, archiver } = harness.services;
      await records.create(recordBody({ id: 'old', created_at: daysAgo(100) }));
      expect((await archiver.runOnce()).usage?.archive_store.by_kind.write).toBeGreaterThan(0);
      reading = true;
      const { done } = await archiver.start();
      // Each read looks in the live store, then the index (point reads on Cosmos DB), then reads the blob.
      const pointReads = (usage: Usage) =>
        Object.entries(usage.cosmos.by_kind)
          .filter(([kind]) => kind.endsWith('/read') && !kind.startsWith('archive_runs/'))
          .reduce((sum, [, calls]) => sum + calls.requests, 0);
      const before = harness.services.usage.totals();
      for (let i = 0; i < 5; i++) expect((await records.get('old')).source).toBe('archive');
      const after = harness.services.usage.totals();
      expect(after.archive_store.by_kind.read).toBe((before.archive_store.by_kind.read ?? 0) + 5);
      if (backend === 'azure') expect(pointReads(after) - pointReads(before)).toBeGreaterThanOrEqual(10);
      letRunGo();
      const run = await done;
      expect(run).toMatchObject({ status: 'succeeded', archived: 0 });
      const usage = run.usage as Usage;
      expect(usage.archive_store.by_kind.read).toBeUndefined();
      expect(pointReads(usage)).toBe(0);
      // What the run did itself is counted: its eligible query, at least.
      if (backend === 'azure') expect(usage.cosmos.requests).toBeGreaterThan(0);
    });
  },
);

function round4(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
