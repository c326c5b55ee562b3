import { RestError } from '@azure/storage-blob';
import { StoreUnavailableError } from '../../domain/errors.js';

/** The storage error code (BlobNotFound, BlobArchived, …) of a failed request, if any. */
export function storageErrorCode(error: unknown): string | undefined {
  if (!(error instanceof RestError)) return undefined;
  return error.code ?? (error.details as { errorCode?: string } | undefined)?.errorCode;
}

export function statusOf(error: unknown): number | undefined {
  return error instanceof RestError ? error.statusCode : undefined;
}

/** A failure the caller cannot fix: the service is unreachable, refuses our credentials, or errs. */
export function unavailable(action: string, error: unknown): StoreUnavailableError {
  return StoreUnavailableError.failed('Blob Storage', action, error);
}

/**
 * A body cut off after its headers came, which the SDK's download stream reports as an
 * AbortError and does not retry (its pipeline retries requests that got no answer).
 */
export function bodyCutOff(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/** A request that broke on the way rather than being answered: no status, or a body cut off. */
export function brokeInTransit(error: unknown): boolean {
  return bodyCutOff(error) || (error instanceof RestError && error.statusCode === undefined);
}
