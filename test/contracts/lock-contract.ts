import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LockHeldError } from '../../src/domain/errors.js';
import type { Lock } from '../../src/ports/lock.js';
import type { StoreFixture } from './live-store-contract.js';

const owner = (runId: string) => ({ runId, description: `test ${runId}` });

/** What every Lock adapter must do, run unchanged over each of them. */
export function describeLockContract(name: string, make: () => Promise<StoreFixture<Lock>>): void {
  describe(`Lock contract: ${name}`, () => {
    let fixture: StoreFixture<Lock>;
    let lock: Lock;
    beforeEach(async () => {
      fixture = await make();
      lock = fixture.store;
    });
    afterEach(async () => {
      await fixture.dispose();
    });

    it('gives a lock to one holder at a time and names the holder to the others', async () => {
      const lease = await lock.acquire('archival-all', owner('run-1'));
      expect(lease.lost.aborted).toBe(false);
      await expect(lock.acquire('archival-all', owner('run-2'))).rejects.toSatisfy(
        (error) => error instanceof LockHeldError && error.message.includes('run-1'),
      );
      await lease.release();
      const next = await lock.acquire('archival-all', owner('run-3'));
      await next.release();
    });

    it('keeps names independent', async () => {
      const a = await lock.acquire('archival-a', owner('run-a'));
      const b = await lock.acquire('archival-b', owner('run-b'));
      await a.release();
      await b.release();
    });

    it('treats a second release as a no-op that frees nothing held by another', async () => {
      const first = await lock.acquire('archival-all', owner('run-1'));
      await first.release();
      const second = await lock.acquire('archival-all', owner('run-2'));
      await first.release();
      await expect(lock.acquire('archival-all', owner('run-3'))).rejects.toBeInstanceOf(LockHeldError);
      await second.release();
    });
  });
}
