/** What the CLI exits with, so scripts can tell "nothing to do now" from "broken". */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  locked: 3,
  notFound: 4,
  conflict: 5,
  /** The archived copy is being rehydrated from the Archive tier: try again later. */
  pending: 6,
} as const;

/**
 * Every stable error code, and what each edge answers for it: the HTTP status and the CLI exit
 * code. One table, so the two edges cannot disagree; a code missing here is a bug (500, exit 1).
 */
export const ERROR_CODES: Readonly<Record<string, { http: number; exit: number }>> = {
  validation_error: { http: 400, exit: EXIT.usage },
  unauthenticated: { http: 401, exit: EXIT.usage },
  forbidden: { http: 403, exit: EXIT.usage },
  not_found: { http: 404, exit: EXIT.notFound },
  duplicate_id: { http: 409, exit: EXIT.conflict },
  already_live: { http: 409, exit: EXIT.conflict },
  conflict: { http: 409, exit: EXIT.conflict },
  concurrent_modification: { http: 409, exit: EXIT.conflict },
  legal_hold: { http: 409, exit: EXIT.conflict },
  deletion_in_progress: { http: 409, exit: EXIT.conflict },
  archival_running: { http: 409, exit: EXIT.locked },
  run_not_running: { http: 409, exit: EXIT.conflict },
  job_finished: { http: 409, exit: EXIT.conflict },
  gone: { http: 410, exit: EXIT.notFound },
  precondition_failed: { http: 412, exit: EXIT.conflict },
  rate_limited: { http: 429, exit: EXIT.failed },
  rehydrating: { http: 202, exit: EXIT.pending },
  integrity_error: { http: 500, exit: EXIT.failed },
  store_unavailable: { http: 503, exit: EXIT.failed },
  index_rebuilding: { http: 503, exit: EXIT.pending },
};
