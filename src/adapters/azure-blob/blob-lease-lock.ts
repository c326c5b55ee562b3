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
/** How often the lease is looked after: renewed when due, reported lost when unconfirmed too long. */
const WATCH_EVERY_MS = 1_000;
/** A renewal not answered by then is given up and asked again. */
const RENEW_TIMEOUT_MS = 4_000;
/**
 * With no renewal confirmed for this long, the lease may have only 7 s left: report it lost now,
 * before it can expire under a step that waits on a slow or throttled store, so the holder stops
 * before its next change rather than overlap a run that took the lock after expiry.
 */
const UNCONFIRMED_LIMIT_MS = (LEASE_SECONDS - 7) * 1000;

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
    const askedAt = Date.now();
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
    let confirmedAt = askedAt;
    const giveUp = (error: unknown) => {
      clearInterval(timer);
      this.renewals.delete(timer);
      lost.abort(unavailable(`renewing the lease on lock '${name}'`, error));
    };
    let renewalAskedAt = askedAt;
    let asking = false;
    const timer = setInterval(() => {
      if (Date.now() - confirmedAt > UNCONFIRMED_LIMIT_MS) {
        giveUp(new Error(`no renewal confirmed for ${Math.round((Date.now() - confirmedAt) / 1000)} s`));
        return;
      }
      if (asking || Date.now() - renewalAskedAt < RENEW_EVERY_MS) return;
      asking = true;
      const asked = (renewalAskedAt = Date.now());
      leaseClient
        .renewLease({ abortSignal: AbortSignal.timeout(RENEW_TIMEOUT_MS) })
        .then(() => {
          // The lease runs from when the renewal was asked at the latest.
          confirmedAt = Math.max(confirmedAt, asked);
        })
        .catch((error: unknown) => {
          // One that timed out is asked again at the next turn, until the limit above.
          if ((error as { name?: unknown }).name !== 'AbortError') giveUp(error);
        })
        .finally(() => {
          asking = false;
        });
    }, WATCH_EVERY_MS);
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
