import { randomInt } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { LiveStore } from '../../src/ports/live-store.js';
import type { RecordService } from '../../src/services/record-service.js';
import { finished, spawnCli } from '../helpers/cli.js';
import { intercept } from '../helpers/intercept.js';
import { BACKENDS, SETUPS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';

describe.each(SETUPS)(
  'a record updated while an archival run is in flight keeps its update ($backend, $layout layout)',
  ({ backend, layout }) => {
    let harness: Harness | undefined;
    afterEach(async () => {
      await harness?.destroy();
      harness = undefined;
    });

    it('deterministically: an update landing between the run reading a record and deleting it', async () => {
      const raced = new Set(['r3', 'r7', 'r12']);
      const late: { records?: RecordService } = {};
      harness = await startHarness({
        backend,
        layout,
        env: { BATCH_SIZE: '5' },
        // Fault injection: just before the archiver's conditional delete, a client updates the record.
        wrap: (adapters) => ({
          ...adapters,
          live: intercept<LiveStore>(adapters.live, {
            deleteMany: async (items) => {
              for (const { id } of items) {
                if (!raced.has(id) || !late.records) continue;
                const current = await adapters.live.get(id);
                if (current)
                  await records.replace(id, { ...current.doc, status: 'paid', amount: 4242 }, undefined);
              }
              return adapters.live.deleteMany(items);
            },
          }),
        }),
      });
      const records = harness.services.records;
      late.records = records;
      for (let i = 0; i < 15; i++)
        await records.create(recordBody({ id: `r${i}`, amount: i, created_at: daysAgo(100) }));

      const run = await harness.services.archiver.runOnce();
      expect(run).toMatchObject({ status: 'succeeded', eligible: 15, archived: 12, skipped: 3, failed: 0 });
      for (const id of raced) {
        const view = await records.get(id);
        expect(view.source).toBe('live');
        expect(view.doc).toMatchObject({ status: 'paid', amount: 4242 });
        expect(await harness.adapters.index.get(id)).toBeUndefined();
      }
      expect((await records.get('r4')).source).toBe('archive');
      // The withdrawn entries' record blobs were collected at the end of the same run; their shared
      // segment stays, for the records archived with them.
      expect(run.garbage_collected).toBe(layout === 'record' ? 3 : 0);
      expect(await harness.adapters.garbage.list({ limit: 10 })).toEqual([]);
    });

    it('with real concurrency: the CLI archiving in another process while this one updates records', async () => {
      harness = await startHarness({ backend, layout });
      const records = harness.services.records;
      const total = backend === 'embedded' ? 3000 : 800;
      const docs = new Map<string, string>();
      for (let i = 0; i < total; i++) {
        const view = await records.create(
          recordBody({ id: `r${i}`, amount: i, created_at: daysAgo(100 + (i % 200)) }),
        );
        docs.set(view.doc.id, JSON.stringify(view.doc));
      }

      const child = spawnCli(['--json', 'archive'], { ...harness.env, BATCH_SIZE: '20', LOG_LEVEL: 'warn' });
      const outcome = finished(child);
      const child$ = { running: true };
      void outcome.then(() => (child$.running = false));

      // Update random records until the run ends; every update's answer is the content that must survive.
      let updates = 0;
      while (child$.running) {
        const id = `r${randomInt(0, total)}`;
        const current = await records.get(id);
        const view = await records.replace(
          id,
          { ...current.doc, description: `update ${updates}` },
          undefined,
        );
        docs.set(id, JSON.stringify(view.doc));
        updates += 1;
        await new Promise((resolve) => setImmediate(resolve));
      }
      const result = await outcome;
      expect(result.code, result.stderr).toBe(0);
      const run = JSON.parse(result.stdout) as { archived: number; skipped: number; failed: number };
      expect(updates).toBeGreaterThan(50);
      expect(run.failed).toBe(0);

      for (const [id, json] of docs) {
        const view = await records.get(id);
        expect(JSON.stringify(view.doc), id).toBe(json);
      }
      // Updates after a record was archived bring it back live, so count places, not the run's total.
      const live = (await harness.adapters.live.summary()).count;
      const archived = (await harness.adapters.index.summary()).count;
      expect(live + archived).toBe(total);
      expect(archived).toBeGreaterThan(0);
      expect(run.archived).toBeGreaterThanOrEqual(archived);
    }, 120_000);
  },
);

describe.each(BACKENDS)('a create racing the archival of a record with the same id (%s)', (backend) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
  });

  it('is refused, and the archived record stays the one that reads back', async () => {
    const late: { run?: () => Promise<unknown> } = {};
    harness = await startHarness({
      backend,
      // Fault injection: the create has looked in the index and found nothing; the whole run lands now.
      wrap: (adapters) => ({
        ...adapters,
        live: intercept<LiveStore>(adapters.live, {
          create: async (doc) => {
            const run = late.run;
            late.run = undefined;
            await run?.();
            return adapters.live.create(doc);
          },
        }),
      }),
    });
    const { records, archiver } = harness.services;
    const original = await records.create(
      recordBody({ id: 'inv-7', amount: 10.5, created_at: daysAgo(100) }),
    );
    late.run = () => archiver.runOnce();

    await expect(records.create(recordBody({ id: 'inv-7', amount: 99 }))).rejects.toMatchObject({
      code: 'duplicate_id',
    });
    expect(late.run).toBeUndefined();
    const view = await records.get('inv-7');
    expect(view.source).toBe('archive');
    expect(view.doc).toEqual(original.doc);
    expect(await harness.adapters.live.get('inv-7')).toBeUndefined();
  });
});
