/** Who changed a hold, when, and why: all three stay in the audit trail. */
export interface HoldChange {
  by: string;
  reason: string;
  at: string;
}

/** A record under legal hold, and the change that placed it. */
export interface LegalHold {
  record_id: string;
  since: string;
  by: string;
  reason: string;
}

/** One entry of a record's hold audit trail. */
export interface HoldEvent {
  record_id: string;
  action: 'set' | 'cleared';
  at: string;
  by: string;
  reason: string;
}

/**
 * A delete's claim on a record: while it stands no hold can be placed, so a hold is never confirmed
 * on a record a delete already decided to remove. It stands until released or until `expiresAt`,
 * which frees the record when its holder crashed.
 */
export interface DeletionClaim {
  token: string;
  at: string;
  expiresAt: string;
}

/**
 * Legal holds, kept beside the records rather than in them, so placing a hold never alters the
 * evidence it protects (Cosmos DB container or SQLite table). A change and its audit event commit
 * together. A hold and a delete's claim exclude each other atomically.
 */
export interface LegalHolds {
  init(): Promise<void>;
  close(): Promise<void>;
  /** The record's hold, or undefined when it is not held. */
  get(recordId: string): Promise<LegalHold | undefined>;
  /**
   * Places a hold. When one is in place already nothing changes: that hold is returned, `changed`
   * false. Throws DeletionUnderWayError while a delete's claim stands at `change.at`.
   */
  set(recordId: string, change: HoldChange): Promise<{ hold: LegalHold; changed: boolean }>;
  /** Lifts the hold; `changed` is false when the record was not held. */
  clear(recordId: string, change: HoldChange): Promise<{ changed: boolean }>;
  /**
   * Claims the record for a delete unless it is held (`hold` is then returned) or another delete's
   * claim stands at `claim.at` (`claimed` false, no hold). An expired claim is taken over.
   */
  claimDeletion(recordId: string, claim: DeletionClaim): Promise<{ claimed: boolean; hold?: LegalHold }>;
  /** Ends the claim with this token; nothing when it has ended or been taken over already. */
  releaseDeletion(recordId: string, token: string): Promise<void>;
  /** Every set and clear of the record, oldest first. */
  history(recordId: string): Promise<HoldEvent[]>;
  /** Held records in id order, strictly after `afterId` when given. */
  list(query: { limit: number; afterId?: string | undefined }): Promise<LegalHold[]>;
  /** Readiness probe: resolves when the store answers, cheaply. */
  ping(): Promise<void>;
}

/** Every held record, page by page. */
export async function allHolds(holds: LegalHolds): Promise<LegalHold[]> {
  const PAGE = 500;
  const all: LegalHold[] = [];
  let afterId: string | undefined;
  for (;;) {
    const page = await holds.list({ limit: PAGE, afterId });
    all.push(...page);
    if (page.length < PAGE) return all;
    afterId = page.at(-1)?.record_id;
  }
}
