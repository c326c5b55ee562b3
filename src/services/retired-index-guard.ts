import type { StoredBytes } from '../domain/cost-model.js';
import { StoreUnavailableError } from '../domain/errors.js';
import type {
  ArchiveEntry,
  ArchiveIndex,
  ArchiveListQuery,
  IndexReadOptions,
  IndexUpkeep,
  MonthSummary,
  StoredEntry,
} from '../ports/archive-index.js';

/** How long an answer that the index is still kept up stands before the checkpoints are asked again. */
export const RETIREMENT_RECHECK_MS = 5_000;

/**
 * The index of a process that an index migration left behind: the backend's own once a finish
 * began (the blob index is the archive's), the blob index once an abandon began (it is removed).
 * Such an index is no longer kept up: a withdrawal (a restore or a delete through this process)
 * would not reach the index everyone else reads, and a read could serve a record since deleted.
 * So every call, the readiness probe's included, fails from then on, which takes the process out
 * of a load balancer's rotation and tells its operator to switch it. Asking costs one listing of
 * the checkpoints, shared by every call for a few seconds; a retired index stays retired.
 */
export class RetiredIndexGuard implements ArchiveIndex {
  private retired: string | undefined;
  private asked: { at: number; answer: Promise<string | undefined> } | undefined;

  constructor(
    private readonly index: ArchiveIndex,
    /** Why the index is retired, or undefined while it is kept up (see MigrationGate.retiredBecause). */
    private readonly retiredBecause: () => Promise<string | undefined>,
    /** Milliseconds by the services' clock. */
    private readonly now: () => number,
  ) {}

  /** What the archival run and `verify` use, which the migration gate holds back on its own. */
  get upkeep(): IndexUpkeep | undefined {
    return this.index.upkeep;
  }

  init(): Promise<void> {
    return this.index.init();
  }

  close(): Promise<void> {
    return this.index.close();
  }

  async ping(): Promise<void> {
    await this.stillKept();
    return this.index.ping();
  }

  async get(id: string, options?: IndexReadOptions): Promise<StoredEntry | undefined> {
    await this.stillKept();
    return this.index.get(id, options);
  }

  async getMany(ids: readonly string[], options?: IndexReadOptions): Promise<(StoredEntry | undefined)[]> {
    await this.stillKept();
    return this.index.getMany(ids, options);
  }

  async putMany(entries: readonly ArchiveEntry[]): Promise<StoredEntry[]> {
    await this.stillKept();
    return this.index.putMany(entries);
  }

  async repoint(from: StoredEntry, to: ArchiveEntry): Promise<StoredEntry | undefined> {
    await this.stillKept();
    return this.index.repoint(from, to);
  }

  async withdraw(id: string, ifMatch?: string): Promise<StoredEntry | undefined> {
    await this.stillKept();
    return this.index.withdraw(id, ifMatch);
  }

  async list(query: ArchiveListQuery): Promise<StoredEntry[]> {
    await this.stillKept();
    return this.index.list(query);
  }

  async summary(): Promise<{ count: number; bytes: number }> {
    await this.stillKept();
    return this.index.summary();
  }

  async summaryByMonth(): Promise<MonthSummary[]> {
    await this.stillKept();
    return this.index.summaryByMonth();
  }

  async storage(): Promise<StoredBytes> {
    await this.stillKept();
    return this.index.storage();
  }

  private async stillKept(): Promise<void> {
    if (this.retired === undefined) {
      const now = this.now();
      // Either way: a clock stepped back must not keep an old answer.
      if (!this.asked || Math.abs(now - this.asked.at) >= RETIREMENT_RECHECK_MS)
        // A look that fails (the archive store not answering) lets calls through until the next:
        // that outage must not also stop an index kept elsewhere.
        this.asked = { at: now, answer: this.retiredBecause().catch(() => undefined) };
      this.retired = await this.asked.answer;
    }
    if (this.retired !== undefined) throw new StoreUnavailableError(this.retired);
  }
}
