/** How an attempt ended: done, refused by a rule (legal hold, conflict, bad input), denied by authorisation, failed. */
export const AUDIT_OUTCOMES = ['succeeded', 'refused', 'denied', 'unauthenticated', 'failed'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/**
 * One attempt to change something. Never a key, a token or a record body: only who, what, which
 * record, how it ended and where the request came from.
 */
export interface AuditEntry {
  /** When the attempt ended, ISO 8601 UTC with milliseconds. */
  at: string;
  /** Who: an API key's name, a token's `oid` (or `sub`), `system:scheduler`, `cli:<os user>`, or `anonymous`. */
  actor: string;
  /** A person's name where the credential carries one (a token's `name`). */
  actor_name?: string | undefined;
  /** What was attempted, e.g. `record.create`, `legal_hold.set`, `archive.run.end`, `auth.failed`. */
  action: string;
  outcome: AuditOutcome;
  /** The HTTP status answered, where the attempt came over HTTP. */
  status?: number | undefined;
  record_id?: string | undefined;
  run_id?: string | undefined;
  request_id?: string | undefined;
  /** The client's address as seen through TRUST_PROXY. */
  client?: string | undefined;
  /** One plain sentence: the error code and message, or a run's counts. */
  detail?: string | undefined;
}

export interface AuditQuery {
  recordId?: string | undefined;
  actor?: string | undefined;
  /** Inclusive lower bound on `at`, ISO 8601 UTC. */
  from?: string | undefined;
  /** Exclusive upper bound on `at`, ISO 8601 UTC. */
  to?: string | undefined;
  limit: number;
  /** Opaque: the `next_cursor` of the previous page. */
  cursor?: string | undefined;
}

export interface AuditPage {
  items: AuditEntry[];
  /** Undefined on the last page. */
  nextCursor: string | undefined;
}

/**
 * The audit trail: append-only. Entries are kept in day files (UTC day of `at`): on the embedded
 * backend an NDJSON file per day under DATA_DIR, on Azure an append blob per day, which no client
 * can rewrite, only extend.
 */
export interface AuditTrail {
  init(): Promise<void>;
  close(): Promise<void>;
  /** Appends one entry durably before resolving; nothing already written is ever changed. */
  append(entry: AuditEntry): Promise<void>;
  /** Matching entries, oldest day first and in append order within a day, one page at a time. */
  query(query: AuditQuery): Promise<AuditPage>;
  /** Readiness probe: resolves when the store answers, cheaply. */
  ping(): Promise<void>;
}
