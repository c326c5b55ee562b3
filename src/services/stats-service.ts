import type { CostReport } from '../domain/cost-model.js';
import type { ArchiveIndex, MonthSummary } from '../ports/archive-index.js';
import type { LiveStore } from '../ports/live-store.js';
import type { RunLog, RunRecord, RunTotals } from '../ports/run-log.js';
import { addUsage, emptyUsage, usagePerRecord, type Usage, type UsagePerRecord } from '../domain/usage.js';
import { DAY_MS, type Clock } from './clock.js';
import type { CostService } from './cost-service.js';

/** How many of the latest runs `archival_usage` sums. */
export const USAGE_RUNS = 100;

export interface Stats {
  live_records: number;
  archived_records: number;
  archived_bytes: number;
  /** Archived records and their bytes by creation month (YYYY-MM, UTC), oldest first. */
  archived_by_month: MonthSummary[];
  oldest_live_touched_at: string | null;
  oldest_live_age_days: number | null;
  archival_days_threshold: number;
  last_run: RunRecord | null;
  runs: RunTotals;
  /** What the latest runs that counted it asked of Cosmos DB and the archive store. */
  archival_usage: {
    runs_counted: number;
    archived: number;
    usage: Usage;
    per_archived_record: UsagePerRecord | null;
  };
  /** What is stored costs a month, what archiving saves, and what moving records cost. */
  cost: CostReport;
}

/** What is where, how archival runs went, and what the move saves. */
export class StatsService {
  constructor(
    private readonly live: LiveStore,
    private readonly index: ArchiveIndex,
    private readonly runLog: RunLog,
    private readonly clock: Clock,
    private readonly cost: CostService,
    private readonly settings: { olderThanDays: number },
  ) {}

  /** Live and archived record counts alone, for metrics: two scans, not the whole of `stats`. */
  async recordCounts(): Promise<{ live: number; archive: number }> {
    const [live, archived] = await Promise.all([this.live.summary(), this.index.summary()]);
    return { live: live.count, archive: archived.count };
  }

  async stats(): Promise<Stats> {
    const [live, archived, byMonth, runs, latest, cost] = await Promise.all([
      this.live.summary(),
      this.index.summary(),
      this.index.summaryByMonth(),
      this.runLog.totals(),
      this.runLog.list({ limit: USAGE_RUNS }),
      this.cost.report(),
    ]);
    const counted = latest.filter((run) => run.usage !== undefined);
    const usage = emptyUsage();
    for (const run of counted) if (run.usage) addUsage(usage, run.usage);
    const archivedByRuns = counted.reduce((sum, run) => sum + run.archived, 0);
    const oldest = live.oldestTouchedAt;
    return {
      live_records: live.count,
      archived_records: archived.count,
      archived_bytes: archived.bytes,
      archived_by_month: byMonth,
      oldest_live_touched_at: oldest ?? null,
      oldest_live_age_days:
        oldest === undefined ? null : round((this.clock().getTime() - Date.parse(oldest)) / DAY_MS, 2),
      archival_days_threshold: this.settings.olderThanDays,
      last_run: latest[0] ?? null,
      runs,
      archival_usage: {
        runs_counted: counted.length,
        archived: archivedByRuns,
        usage,
        per_archived_record: usagePerRecord(usage, archivedByRuns),
      },
      cost,
    };
  }
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
