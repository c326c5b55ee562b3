import { afterEach, describe, expect, it } from 'vitest';
import { IndexRebuildingError } from '../../src/domain/errors.js';
import type { RecordDocument } from '../../src/domain/billing-record.js';
import type { ArchiveIndex } from '../../src/ports/archive-index.js';
import type { LiveStore } from '../../src/ports/live-store.js';
import { intercept } from '../helpers/intercept.js';
import { BACKENDS, recordBody, startHarness, type Harness } from '../helpers/harness.js';

describe.each(BACKENDS)('RecordService beside a concurrent writer (%s)', (backend) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
  });

  /**
   * A harness whose live store sees another writer change the record once, right before the
   * service's conditional write of `method` reaches it.
   */
  async function withOneConcurrentChange(method: 'replace' | 'delete'): Promise<Harness> {
    const armed = { once: true };
    const started = await startHarness({
      backend,
      wrap: (adapters) => {
        const changeFirst = async (id: string): Promise<void> => {
          if (!armed.once) return;
          armed.once = false;
          const current = await adapters.live.get(id);
          if (current)
            await adapters.live.replace({ ...current.doc, description: 'another writer' }, current.etag);
        };
        const live = intercept<LiveStore>(
          adapters.live,
          method === 'replace'
            ? {
                replace: async (doc, etag) => {
                  await changeFirst(doc.id);
                  return adapters.live.replace(doc, etag);
                },
              }
            : {
                delete: async (id, etag) => {
                  await changeFirst(id);
                  return adapters.live.delete(id, etag);
                },
              },
        );
        return { ...adapters, live };
      },
    });
    await started.services.records.create(recordBody({ id: 'r1' }));
    return started;
  }

  it.each([['*'], [undefined]])(
    'If-Match %s updates a record another writer changed meanwhile',
    async (ifMatch) => {
      harness = await withOneConcurrentChange('replace');
      const view = await harness.services.records.replace('r1', recordBody({ amount: 7 }), ifMatch);
      expect(view.doc).toMatchObject({ amount: 7, description: '' });
    },
  );

  it.each([['*'], [undefined]])(
    'If-Match %s deletes a record another writer changed meanwhile',
    async (ifMatch) => {
      harness = await withOneConcurrentChange('delete');
      await harness.services.records.delete('r1', ifMatch);
      expect(await harness.adapters.live.get('r1')).toBeUndefined();
    },
  );

  it('If-Match naming the version read fails with 412 when another writer changed it meanwhile', async () => {
    harness = await withOneConcurrentChange('delete');
    const { etag } = await harness.services.records.get('r1');
    await expect(harness.services.records.delete('r1', etag)).rejects.toMatchObject({
      code: 'precondition_failed',
    });
    expect((await harness.adapters.live.get('r1'))?.doc.description).toBe('another writer');
  });
});

describe.each(BACKENDS)('RecordService.create when its second look fails (%s)', (backend) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
  });

  it('takes the record it created back, so the client told it failed finds nothing left', async () => {
    const looks = { count: 0 };
    harness = await startHarness({
      backend,
      wrap: (adapters) => ({
        ...adapters,
        index: intercept<ArchiveIndex>(adapters.index, {
          // The first look finds nothing; before the second a rebuild of the index began.
          get: async (id, options) => {
            looks.count += 1;
            if (looks.count === 2)
              throw new IndexRebuildingError('the archive index is being rebuilt: try again');
            return adapters.index.get(id, options);
          },
        }),
      }),
    });
    await expect(harness.services.records.create(recordBody({ id: 'r1' }))).rejects.toBeInstanceOf(
      IndexRebuildingError,
    );
    expect(looks.count).toBe(2);
    expect(await harness.adapters.live.get('r1')).toBeUndefined();
    expect((await harness.services.records.create(recordBody({ id: 'r1' }))).source).toBe('live');
  });
});

describe.each(BACKENDS)('RecordService reads while the index is rebuilt (%s)', (backend) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.destroy();
    harness = undefined;
  });

  it('answers a record made live between its two looks, and otherwise that the index cannot say', async () => {
    /** What lands live between the read's live look and its index look, if anything. */
    const landing: { doc?: RecordDocument; armed: boolean } = { armed: false };
    harness = await startHarness({
      backend,
      wrap: (adapters) => ({
        ...adapters,
        index: intercept<ArchiveIndex>(adapters.index, {
          get: async (id, options) => {
            if (!landing.armed) return adapters.index.get(id, options);
            landing.armed = false;
            if (landing.doc) await adapters.live.create({ ...landing.doc, id });
            throw new IndexRebuildingError('the archive index is being rebuilt: try again');
          },
        }),
      }),
    });
    const { doc } = await harness.services.records.create(recordBody({ id: 'template' }));
    landing.doc = doc;
    landing.armed = true;
    expect(await harness.services.records.get('r1')).toMatchObject({ source: 'live', doc: { id: 'r1' } });
    expect(landing.armed).toBe(false);

    delete landing.doc;
    landing.armed = true;
    await expect(harness.services.records.get('r2')).rejects.toBeInstanceOf(IndexRebuildingError);
  });
});
