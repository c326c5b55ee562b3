import { LockHeldError } from '../domain/errors.js';
import type { Slice } from '../domain/slices.js';
import type { Lock, LockLease, LockOwner } from '../ports/lock.js';

/**
 * Takes the archival locks: a slice's own, or, for work on the whole store (a whole-store run,
 * verify, compact), every slice's lock (one lock when the store is not split), so the two kinds
 * never overlap. All or nothing; LockHeldError names the holder.
 */
export async function acquireArchivalLocks(
  lock: Lock,
  slices: number,
  slice: Slice | undefined,
  owner: LockOwner,
): Promise<LockLease> {
  const names = slice
    ? [sliceLockName(slice)]
    : slices === 1
      ? ['archival-all']
      : Array.from({ length: slices }, (_, index) => sliceLockName({ index, count: slices }));
  const leases: LockLease[] = [];
  try {
    for (const name of names) leases.push(await lock.acquire(name, owner));
  } catch (error) {
    await Promise.allSettled(leases.map((lease) => lease.release()));
    if (error instanceof LockHeldError && !slice && names.length > 1) {
      throw new LockHeldError(
        `archival of a slice is running, so the whole store cannot be worked on now: ${error.message}`,
        { cause: error },
      );
    }
    throw error;
  }
  return {
    lost: AbortSignal.any(leases.map((lease) => lease.lost)),
    release: async () => {
      await Promise.all(leases.map((lease) => lease.release()));
    },
  };
}

/** Throws once the lease is lost: the next step could collide with another holder. */
export function throwIfLost(lease: LockLease): void {
  if (lease.lost.aborted)
    throw new Error('the archival lock was lost; stopping before another run takes over');
}

function sliceLockName(slice: Slice): string {
  return `archival-slice-${slice.index}-of-${slice.count}`;
}
