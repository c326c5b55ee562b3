import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import pMap from 'p-map';
import type { Logger } from 'pino';
import { ArchivedOfflineError, IntegrityError, ValidationError } from '../domain/errors.js';
import type { SegmentManifest } from '../domain/segment-manifest.js';
import { refuseWhileIndexRebuilt } from './index-rebuild-gate.js';
import { allEntriesIn, type ArchiveIndex, type StoredEntry } from '../ports/archive-index.js';
import type { Lock } from '../ports/lock.js';
import { acquireArchivalLocks, throwIfLost } from './archival-locks.js';
import type { Clock } from './clock.js';
import type { MigrationGate } from './migration-gate.js';
import type { SealedSegment, SegmentGatherer, SegmentLayout } from './layouts/segment-layout.js';

export interface CompactOptions {
  /** Rewrite segments at least this share of whose records no entry points to; default 0.5. */
  minDeadShare?: number;
  /** Say what would be rewritten; change nothing. */
  dryRun?: boolean;
  /** Called after each segment is examined, with the report so far (for a progress display). */
  onProgress?: (report: Readonly<CompactReport>) => void;
}

export interface CompactReport {
  dry_run: boolean;
  segments_examined: number;
  /** Segments whose dead share passed the threshold (rewritten unless a dry run). */
  segments_compacted: number;
  segments_written: number;
  records_moved: number;
  /** Stored bytes of the compacted segments, and of the segments that replaced them. */
  bytes_before: number;
  bytes_after: number;
  /** Segments left alone because they do not verify (see `verify`) or are offline. */
  skipped: { blob: string; reason: string }[];
}

export interface CompactorDeps {
  index: ArchiveIndex;
  layout: SegmentLayout;
  lock: Lock;
  clock: Clock;
  logger: Logger;
  slices: number;
  /** Keeps this work from changing the archive while an index migration is open. */
  migrationGate?: MigrationGate | undefined;
}

interface Candidate {
  segment: string;
  month: string;
  manifest: SegmentManifest;
  entries: StoredEntry[];
}

/**
 * Rewrites segments mostly made of dead records: the records entries still point to are copied,
 * verified, into new segments of the same month (several sparse segments merge into one), the
 * entries re-pointed, and the old segments deleted. Holds the archival locks; requests may withdraw
 * entries meanwhile, so each re-pointed record is checked again afterwards.
 */
export class Compactor {
  constructor(private readonly deps: CompactorDeps) {}

  async compact(options: CompactOptions = {}): Promise<CompactReport> {
    const minDeadShare = options.minDeadShare ?? 0.5;
    if (!(minDeadShare > 0 && minDeadShare <= 1))
      throw new ValidationError(`the dead share must be above 0 and at most 1 (got ${String(minDeadShare)})`);
    const { lock, slices, clock } = this.deps;
    const started = clock();
    const runId = `compact-${started.toISOString().replace(/[-:.]/g, '')}-${randomUUID().slice(0, 8)}`;
    const lease = await acquireArchivalLocks(lock, slices, undefined, {
      runId,
      description: `compact, pid ${process.pid} on ${hostname()}`,
    });
    this.deps.logger.info({ runId, minDeadShare, dryRun: options.dryRun ?? false }, 'compaction started');
    const report: CompactReport = {
      dry_run: options.dryRun ?? false,
      segments_examined: 0,
      segments_compacted: 0,
      segments_written: 0,
      records_moved: 0,
      bytes_before: 0,
      bytes_after: 0,
      skipped: [],
    };
    try {
      if (!report.dry_run) await this.deps.migrationGate?.refuseWhileOpen('compaction');
      await refuseWhileIndexRebuilt(this.deps.index, 'compaction');
      const pass = new CompactionPass(this.deps, report, runId, started, () => {
        throwIfLost(lease);
      });
      for await (const { name: segment, tier } of this.deps.layout.segments()) {
        report.segments_examined += 1;
        const candidate = await this.candidate(segment, minDeadShare);
        // Reading it would start a rehydration to Cool; rewriting it, an early deletion from Archive.
        if (candidate && tier === 'Archive')
          report.skipped.push({ blob: segment, reason: 'in the Archive tier' });
        else if (candidate) {
          report.segments_compacted += 1;
          report.bytes_before += candidate.manifest.bytes;
          if (!report.dry_run) await pass.take(candidate);
        }
        options.onProgress?.(report);
      }
      if (!report.dry_run) await pass.finish();
      this.deps.logger.info({ report }, 'compaction finished');
      return report;
    } finally {
      await lease.release();
    }
  }

  /** The segment with its manifest and live entries, when enough of it is dead; undefined otherwise. */
  private async candidate(segment: string, minDeadShare: number): Promise<Candidate | undefined> {
    const entries = await allEntriesIn(this.deps.index, segment);
    // A segment nothing points into is the collector's (or verify's) to delete, not ours to copy.
    if (entries.length === 0) return undefined;
    let manifest: SegmentManifest;
    try {
      manifest = await this.deps.layout.manifestOf(segment);
    } catch {
      return undefined;
    }
    if ((manifest.record_count - entries.length) / manifest.record_count < minDeadShare) return undefined;
    const month = this.deps.layout.monthOf(segment);
    return { segment, month, manifest, entries };
  }
}

/** What the gatherer carries with each record: its entry now, and the segment it leaves. */
interface Moving {
  entry: StoredEntry;
  from: string;
}

/** Entry moves in flight at once: each is its own conditional write. */
const REPOINT_CONCURRENCY = 16;

/** Gathers the surviving records of one month's candidates into new segments, by the layout's seal rule. */
class CompactionPass {
  private readonly gatherer: SegmentGatherer<Moving>;

  constructor(
    private readonly deps: CompactorDeps,
    private readonly report: CompactReport,
    runId: string,
    started: Date,
    private readonly checkLease: () => void,
  ) {
    this.gatherer = deps.layout.gather<Moving>({ runId, archivedAt: started.toISOString() });
  }

  async take(candidate: Candidate): Promise<void> {
    let records: { entry: StoredEntry; bytes: Buffer }[];
    try {
      records = await this.deps.layout.recordsFor(candidate.segment, candidate.manifest, candidate.entries);
    } catch (error) {
      if (error instanceof ArchivedOfflineError) this.skip(candidate, 'in the Archive tier');
      else if (error instanceof IntegrityError) this.skip(candidate, `${error.message}; run \`verify\``);
      else throw error;
      return;
    }
    const sealed = await this.gatherer.add(
      candidate.month,
      records.map(({ entry, bytes }) => ({
        bytes,
        facts: {
          id: entry.id,
          customer_id: entry.customer_id,
          created_at: entry.created_at,
          sha256: entry.sha256,
        },
        tag: { entry, from: candidate.segment },
      })),
    );
    for (const segment of sealed) await this.repoint(segment);
  }

  async finish(): Promise<void> {
    for (const segment of await this.gatherer.finish()) await this.repoint(segment);
  }

  /** Points the moved records' entries at the new segment, then deletes the segments they left once nothing points into them. */
  private async repoint(sealed: SealedSegment<Moving>): Promise<void> {
    this.report.segments_written += 1;
    this.report.bytes_after += sealed.bytes;
    this.checkLease();
    // Each entry moves only while it is still the one read: a delete, restore or update meanwhile
    // wins, and its record's copy in the new segment is dead from the start. An entry whose record
    // a restore or update has just made live moves all the same: that request's conditional
    // withdrawal then fails, finds the same bytes moved, and withdraws the entry where it went
    // (withdrawing it here instead made the request take the move for a delete and drop its live
    // copy: the record was lost).
    const moved = await pMap(
      sealed.entries.map((entry, i) => ({ entry, from: sealed.tags[i]?.entry })),
      ({ entry, from }) =>
        from &&
        // Entries keep when and by which run their record was archived; only the place changes.
        this.deps.index.repoint(from, { ...entry, archived_at: from.archived_at, run_id: from.run_id }),
      { concurrency: REPOINT_CONCURRENCY },
    );
    this.report.records_moved += moved.filter((stored) => stored !== undefined).length;
    for (const old of new Set(sealed.tags.map((tag) => tag.from))) {
      this.checkLease();
      if ((await this.deps.index.list({ blob: old, limit: 1 })).length > 0) continue;
      await this.deps.layout.remove(old);
    }
  }

  private skip(candidate: Candidate, reason: string): void {
    this.report.segments_compacted -= 1;
    this.report.bytes_before -= candidate.manifest.bytes;
    this.report.skipped.push({ blob: candidate.segment, reason });
  }
}
