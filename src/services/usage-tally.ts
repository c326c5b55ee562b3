import { AsyncLocalStorage } from 'node:async_hooks';
import { addRequest, emptyUsage, type MeteredRequest, type Usage } from '../domain/usage.js';
import type { RequestMeter } from '../ports/request-meter.js';

/**
 * Counts every metered request twice: into the process's totals (for `/metrics`) and into each
 * piece of work being measured that the request was made for. Which work a request belongs to
 * follows the async call chain (AsyncLocalStorage), so API requests served beside an archival run
 * never count against it.
 */
export class UsageTally implements RequestMeter {
  private readonly scopes = new AsyncLocalStorage<readonly Usage[]>();
  private readonly total = emptyUsage();

  count(request: MeteredRequest): void {
    addRequest(this.total, request);
    for (const usage of this.scopes.getStore() ?? []) addRequest(usage, request);
  }

  /**
   * Runs `work`, counting the requests it makes (and those of work it starts) into `usage`, which
   * it may read at any time; an enclosing measurement counts them too.
   */
  measure<T>(usage: Usage, work: () => Promise<T>): Promise<T> {
    return this.scopes.run([...(this.scopes.getStore() ?? []), usage], work);
  }

  /** Everything counted since the process started. */
  totals(): Usage {
    return structuredClone(this.total);
  }
}
