import { describe, expect, it } from 'vitest';
import { LockHeldError } from '../../src/domain/errors.js';
import type { Lock } from '../../src/ports/lock.js';
import { useFreshStore, type StoreFixture } from './store-fixture.js';

const owner = (runId: string) => ({ runId, description: `test ${runId}` });

/** What every Lock adapter must do, run unchanged over each of them. */
export function describeLockContract(name: string, make: () => Promise<StoreFixture<Lock>>): void {
  describe(`Lock contract: ${name}`, () => {
    const current = useFreshStore(make);

    it('gives a lock to one holder at a time and names the holder to the others', async () => {
      const lease = await current().acquire('archival-all', owner('run-1'));
      expect(lease.lost.aborted).toBe(false);
      await expect(current().acquire('archival-all', owner('run-2'))).rejects.toSatisfy(
        (error) => error instanceof LockHeldError && error.message.includes('run-1'),
      );
      await lease.release();
      const next = await current().acquire('archival-all', owner('run-3'));
      await next.release();
    });

    it('keeps names independent', async () => {
      const a = await current().acquire('archival-a', owner('run-a'));
      const b = await current().acquire('archival-b', owner('run-b'));
      await a.release();
      await b.release();
    });

    it('treats a second release as a no-op that frees nothing held by another', async () => {
      const first = await current().acquire('archival-all', owner('run-1'));
      await first.release();
      const second = await current().acquire('archival-all', owner('run-2'));
      await first.release();
      await expect(current().acquire('archival-all', owner('run-3'))).rejects.toBeInstanceOf(LockHeldError);
      await second.release();
    });
  });
}
