import { randomUUID } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import { LockHeldError } from '../../domain/errors.js';
import type { Lock, LockLease, LockOwner } from '../../ports/lock.js';
import { ensureContainer } from './blob-container.js';
import { statusOf, unavailable } from './blob-errors.js';

/** Lease length: a holder killed without warning frees the lock within this many seconds. */
const LEASE_SECONDS = 15;
/** Renew well inside the lease, so one slow renewal does not lose it. */
const RENEW_EVERY_MS = 5_000;

/**
 * Locks as blob leases on `locks/{name}` in the archive container: shared by every API replica,
 * CLI run and Function instance on the account. The lease is renewed while held; a failed renewal
 * aborts `lost` so the holder stops before another can take over.
 */
export class BlobLeaseLock implements Lock {
  private readonly renewals = new Set<NodeJS.Timeout>();

  constructor(private readonly container: ContainerClient) {}

  async init(): Promise<void> {
    await ensureContainer(this.container);
  }

  async close(): Promise<void> {
    for (const timer of this.renewals) clearInterval(timer);
    this.renewals.clear();
    await Promise.resolve();
  }

  async acquire(name: string, owner: LockOwner): Promise<LockLease> {
    const blob = this.container.getBlockBlobClient(`locks/${name}`);
    try {
      await blob.upload('', 0, { conditions: { ifNoneMatch: '*' } });
    } catch (error) {
      if (statusOf(error) !== 409 && statusOf(error) !== 412)
        throw unavailable(`creating lock blob '${name}'`, error);
    }
    const leaseClient = blob.getBlobLeaseClient(randomUUID());
    try {
      await leaseClient.acquireLease(LEASE_SECONDS);
    } catch (error) {
      if (statusOf(error) === 409) {
        const holder = await this.describeHolder(name);
        throw new LockHeldError(`archival is already running (${holder})`, { cause: error });
      }
      throw unavailable(`leasing lock '${name}'`, error);
    }
    try {
      await blob.setMetadata(
        { run_id: owner.runId, holder: owner.description, since: new Date().toISOString() },
        { conditions: { leaseId: leaseClient.leaseId } },
      );
    } catch (error) {
      // Do not keep a lock nobody will use: free it now rather than in 15 s.
      await leaseClient.releaseLease().catch(() => undefined);
      throw unavailable(`recording the holder of lock '${name}'`, error);
    }

    const lost = new AbortController();
    const timer = setInterval(() => {
      leaseClient.renewLease().catch((error: unknown) => {
        clearInterval(timer);
        this.renewals.delete(timer);
        lost.abort(unavailable(`renewing the lease on lock '${name}'`, error));
      });
    }, RENEW_EVERY_MS);
    timer.unref();
    this.renewals.add(timer);

    let released = false;
    return {
      lost: lost.signal,
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        this.renewals.delete(timer);
        try {
          await leaseClient.releaseLease();
        } catch (error) {
          // A lease that expired or was lost is free already; anything else means it may still be held.
          if (statusOf(error) !== 409 && statusOf(error) !== 412)
            throw unavailable(`releasing lock '${name}'`, error);
        }
      },
    };
  }

  private async describeHolder(name: string): Promise<string> {
    try {
      const { metadata } = await this.container.getBlobClient(`locks/${name}`).getProperties();
      return `run ${metadata?.run_id ?? '?'} by ${metadata?.holder ?? '?'} since ${metadata?.since ?? '?'}`;
    } catch (error) {
      throw unavailable(`reading lock '${name}'`, error);
    }
  }
}
