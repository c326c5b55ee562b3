import { afterEach, describe, expect, it } from 'vitest';
import { withoutEtag } from '../../src/ports/archive-index.js';
import { BACKENDS, daysAgo, recordBody, startHarness, type Harness } from '../helpers/harness.js';
import { afterLiveCreate, type ArmedStep } from '../helpers/intercept.js';

describe.each(BACKENDS)('an update or restore of an archived record racing compaction (%s)', (backend) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
  });

  for (const action of ['update', 'restore'] as const)
    it(`${action}: the record survives a compaction that lands between its live create and its withdraw`, async () => {
      const late: ArmedStep = {};
      harness = await startHarness({ backend, layout: 'segment', wrap: afterLiveCreate(late) });
      const { records, archiver, compactor } = harness.services;
      await records.create(recordBody({ id: 'keep', amount: 1, created_at: daysAgo(100) }));
      await records.create(recordBody({ id: 'gone', amount: 2, created_at: daysAgo(100) }));
      await archiver.runOnce({ olderThanDays: 0 });
      await records.delete('gone', undefined);
      const archived = await records.get('keep');
      expect(archived.source).toBe('archive');

      late.next = () => compactor.compact({ minDeadShare: 0.5 });
      const outcome =
        action === 'update'
          ? records.replace('keep', { ...archived.doc, amount: 99 }, undefined)
          : records.restore('keep');
      const settled = await outcome.then(
        (view) => ({ ok: true as const, view }),
        (error: unknown) => ({ ok: false as const, error }),
      );
      expect(late.next).toBeUndefined();
      // Whatever the request answered, the record must still exist: before or after the change.
      const after = await records.get('keep').catch((error: unknown) => error);
      expect(after).toMatchObject({ doc: { id: 'keep' } });
      expect(settled.ok ? 'answered ok' : String((settled as { error: unknown }).error)).toBe('answered ok');
      // The entry the compaction moved was the same version: withdrawn where it went, none left beside the live record.
      expect(await harness.adapters.index.get('keep')).toBeUndefined();
    });
});

describe.each(BACKENDS)(
  'a restore whose record is archived again before it withdraws the entry (%s)',
  (backend) => {
    let harness: Harness | undefined;
    afterEach(async () => {
      await harness?.destroy();
      harness = undefined;
    });

    it('undoes its copy and looks again, rather than leave the newer entry beside an older live copy', async () => {
      const late: ArmedStep = {};
      harness = await startHarness({ backend, wrap: afterLiveCreate(late) });
      const { records, archiver } = harness.services;
      const { index } = harness.adapters;
      await records.create(recordBody({ id: 'v', amount: 1, created_at: daysAgo(100) }));
      await archiver.runOnce({ olderThanDays: 0 });
      const first = await index.get('v');
      if (!first) throw new Error('not archived');
      // Between the restore's live create and its withdraw, another run indexes the record anew.
      late.next = () =>
        index.putMany([
          { ...withoutEtag(first), archived_at: new Date().toISOString(), run_id: 'later-run' },
        ]);
      const restored = await records.restore('v');
      expect(late.next).toBeUndefined();
      expect(restored.doc).toMatchObject({ id: 'v', amount: 1, restored_at: expect.any(String) as unknown });
      expect((await records.get('v')).source).toBe('live');
      // The entry the second look found was withdrawn: nothing archived stands beside the live record.
      expect(await index.get('v')).toBeUndefined();
    });
  },
);
