import type { MeteredRequest } from '../domain/usage.js';

/**
 * Told of every request an adapter sends to a store that bills per request, so the services can
 * count what a piece of work cost. Counting never fails and never waits.
 */
export interface RequestMeter {
  count(request: MeteredRequest): void;
}
