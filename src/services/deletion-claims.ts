import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pRetry from 'p-retry';
import { ConflictError, DeletionUnderWayError, StoreUnavailableError } from '../domain/errors.js';
import type { HoldChange, LegalHold, LegalHolds } from '../ports/legal-holds.js';
import type { Clock } from './clock.js';

/**
 * How long a delete's claim keeps holds off. It must outlast the delete: a delete stops at
 * CLAIM_DEADLINE_MS unless its destructive call has started, and that call (a lookup and a
 * conditional delete, each at most 5 attempts of 10 s plus the SDK's throttling waits) ends within
 * a few minutes even on a struggling store. A delete whose process dies leaves the record
 * unholdable (409 `deletion_in_progress`) for this long.
 */
export const CLAIM_LIFETIME_MS = 10 * 60_000;

/** A delete this long past its claim gives up before its destructive call (503, nothing removed). */
export const CLAIM_DEADLINE_MS = 30_000;

/**
 * How long before an archival a client delete may have been noted and still be landing: a
 * DELETE claims the record, notes, then deletes, giving up unless its destructive call starts
 * within 30 s of its claim; that call ends within a few minutes even on a struggling store.
 */
export const DELETE_IN_FLIGHT_MS = 5 * 60_000;

/**
 * How a request waits for another's claim to end: 1.6 to 3.2 s in all (jittered), longer than a
 * delete takes on a healthy store.
 */
const WAIT_FOR_CLAIM = { retries: 6, minTimeout: 25, factor: 2, randomize: true } as const;

/** A delete's standing claim on a record, taken by `claimForDeletion`. */
export interface HeldClaim {
  id: string;
  token: string;
  /** performance.now() when it was taken: a wall clock could jump. */
  takenAt: number;
}

/**
 * Claims the record for a delete, waiting briefly for another delete's claim to end. Refuses a held
 * record (409 `legal_hold`), and a record still claimed by another delete after the wait (409
 * `deletion_in_progress`).
 */
export async function claimForDeletion(holds: LegalHolds, id: string, clock: Clock): Promise<HeldClaim> {
  const token = randomUUID();
  const takenAt = performance.now();
  const outcome = await waitOutClaims(async () => {
    const now = clock();
    const at = now.toISOString();
    const expiresAt = new Date(now.getTime() + CLAIM_LIFETIME_MS).toISOString();
    const result = await holds.claimDeletion(id, { token, at, expiresAt });
    if (!result.claimed && !result.hold) throw new DeletionUnderWayError(`record '${id}' is being deleted`);
    return result;
  }).catch((error: unknown) => {
    if (!(error instanceof DeletionUnderWayError)) throw error;
    throw new DeletionUnderWayError(`record '${id}' is being deleted by another request; try again`);
  });
  if (outcome.hold) throw heldError(outcome.hold);
  return { id, token, takenAt };
}

/** Refuses to go on once the claim is too old to be sure it outlives the destructive step. */
export function assertClaimFresh(claim: HeldClaim): void {
  if (performance.now() - claim.takenAt > CLAIM_DEADLINE_MS) {
    throw new StoreUnavailableError(
      `deleting record '${claim.id}' took longer than ${CLAIM_DEADLINE_MS / 1000} s and was stopped before the record was removed; try again`,
    );
  }
}

/**
 * Places a hold, waiting briefly for a delete's claim to end. After the wait a claim that still
 * stands answers 409 `deletion_in_progress`: the caller looks again whether the record exists.
 */
export async function placeHoldBesideDeletes(
  holds: LegalHolds,
  id: string,
  change: HoldChange,
): Promise<{ hold: LegalHold; changed: boolean }> {
  return waitOutClaims(() => holds.set(id, change));
}

/** The 409 a delete of a held record answers. */
function heldError(hold: LegalHold): ConflictError {
  return new ConflictError(
    `record '${hold.record_id}' is under legal hold since ${hold.since}; lift the hold before deleting it`,
    'legal_hold',
    // Who placed it and why stay out: this answer goes to any writer.
    { details: { hold: { record_id: hold.record_id, since: hold.since } } },
  );
}

function waitOutClaims<T>(step: () => Promise<T>): Promise<T> {
  return pRetry(step, {
    ...WAIT_FOR_CLAIM,
    shouldRetry: ({ error }) => error instanceof DeletionUnderWayError,
  });
}
