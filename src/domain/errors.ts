/**
 * Domain errors. They know nothing about HTTP: each carries a stable `code` that the edges map
 * to a status (HTTP) or an exit code (CLI). Adapters translate backend errors into these.
 */
export abstract class DomainError extends Error {
  abstract readonly code: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.details = options?.details;
  }
}

/** The caller's input breaks a rule; nothing was changed. */
export class ValidationError extends DomainError {
  readonly code = 'validation_error';
  /** One plain sentence per problem; the message joins them. */
  readonly problems: readonly string[];

  constructor(problems: string | readonly string[], options?: { cause?: unknown }) {
    const list = typeof problems === 'string' ? [problems] : [...problems];
    super(list.join('; '), { ...options, details: { problems: list } });
    this.problems = list;
  }
}

export class NotFoundError extends DomainError {
  readonly code = 'not_found';
}

/** The item exists already (duplicate id, record already live). */
export class ConflictError extends DomainError {
  readonly code: string;
  constructor(
    message: string,
    code = 'conflict',
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options);
    this.code = code;
  }
}

/** A delete of the record is under way: a hold cannot be placed until it ends. */
export class DeletionUnderWayError extends DomainError {
  readonly code = 'deletion_in_progress';
}

/** A conditional write found another version than the one the caller expected. */
export class PreconditionFailedError extends DomainError {
  readonly code = 'precondition_failed';
}

/** The archived copy's blob was removed (retention) while its index entry remains. */
export class ArchivedGoneError extends DomainError {
  readonly code = 'gone';
}

/** The archived copy is in an offline tier; reading it has to wait for rehydration. */
export class ArchivedOfflineError extends DomainError {
  readonly code = 'rehydrating';
  readonly retryAfterSeconds: number;
  /** Whether a rehydration is under way (false: a read that was told not to start one met none). */
  readonly rehydrating: boolean;
  constructor(
    message: string,
    retryAfterSeconds: number,
    options?: { cause?: unknown; rehydrating?: boolean },
  ) {
    super(message, options);
    this.retryAfterSeconds = retryAfterSeconds;
    this.rehydrating = options?.rehydrating ?? true;
  }
}

/** Stored bytes do not match their recorded SHA-256: never serve them. */
export class IntegrityError extends DomainError {
  readonly code = 'integrity_error';
}

/** Another archival run holds the lock. */
export class LockHeldError extends DomainError {
  readonly code = 'archival_running';
}

/** A backend did not answer or failed in a way the caller cannot fix. */
export class StoreUnavailableError extends DomainError {
  readonly code = 'store_unavailable';

  /** "<store>: <action> failed: <first line of the cause>", keeping the cause. */
  static failed(store: string, action: string, cause: unknown): StoreUnavailableError {
    const detail = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    return new StoreUnavailableError(`${store}: ${action} failed: ${detail ?? 'unknown error'}`, { cause });
  }
}

/**
 * The archive index is being rebuilt (`verify --repair --rebuild-index`) and lacks entries of
 * archived records until it ends: whether a record is archived cannot be told yet. Its message
 * names no internals, so clients see it.
 */
export class IndexRebuildingError extends DomainError {
  readonly code = 'index_rebuilding';
}

/** No credential, or one that does not identify anybody. The message never says which record exists. */
export class UnauthenticatedError extends DomainError {
  readonly code = 'unauthenticated';
}

/** The caller is known but lacks the role. */
export class ForbiddenError extends DomainError {
  readonly code = 'forbidden';
}

/** Too many requests from one identity or address. */
export class RateLimitedError extends DomainError {
  readonly code = 'rate_limited';
}
