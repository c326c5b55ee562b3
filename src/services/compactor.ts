import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { sha256Hex } from '../domain/billing-record.js';
import { ArchivedOfflineError, IntegrityError, ValidationError } from '../domain/errors.js';
import {
  isSegmentName,
  manifestNameOf,
  parseManifest,
  recordFromMember,
  SegmentBuilder,
  segmentName,
  monthOfSegment,
  type SegmentLimits,
  type SegmentManifest,
} from '../domain/segment-format.js';
import {
  allEntriesIn,
  type ArchiveEntry,
  type ArchiveIndex,
  type StoredEntry,
} from '../ports/archive-index.js';
import type { ArchiveStore } from '../ports/archive-store.js';
import type { DeletionNotes } from '../ports/deletion-notes.js';
import type { LiveStore } from '../ports/live-store.js';
import type { Lock } from '../ports/lock.js';
import { acquireArchivalLocks, throwIfLost } from './archival-locks.js';
import type { Clock } from './clock.js';
import { writeSegment } from './segment-layout.js';
import { withdrawIfTouchedSince } from './touched-since.js';

export interface CompactOptions {
  /** Rewrite segments at least this share of whose records no entry points to; default 0.5. */
  minDeadShare?: number;
  /** Say what would be rewritten; change nothing. */
  dryRun?: boolean;
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
  live: LiveStore;
  index: ArchiveIndex;
  deletions: DeletionNotes;
  store: ArchiveStore;
  lock: Lock;
  clock: Clock;
  logger: Logger;
  slices: number;
  limits: SegmentLimits;
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
      const pass = new CompactionPass(this.deps, report, runId, started, () => {
        throwIfLost(lease);
      });
      for await (const blob of this.deps.store.list('segments/')) {
        if (!isSegmentName(blob.name)) continue;
        report.segments_examined += 1;
        const candidate = await this.candidate(blob.name, minDeadShare);
        if (!candidate) continue;
        report.segments_compacted += 1;
        report.bytes_before += candidate.manifest.bytes;
        if (!report.dry_run) await pass.take(candidate);
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
      manifest = parseManifest(await this.deps.store.get(manifestNameOf(segment)), manifestNameOf(segment));
    } catch {
      return undefined;
    }
    if ((manifest.record_count - entries.length) / manifest.record_count < minDeadShare) return undefined;
    const month = monthOfSegment(segment);
    return { segment, month, manifest, entries };
  }
}

/** Gathers the surviving records of one month's candidates into new segments. */
class CompactionPass {
  private builder = new SegmentBuilder();
  private month: string | undefined;
  /** Entries of the records in the open builder, in the order added, and the old segments they leave. */
  private moving: StoredEntry[] = [];
  private leaving: Candidate[] = [];
  private written = 0;

  constructor(
    private readonly deps: CompactorDeps,
    private readonly report: CompactReport,
    private readonly runId: string,
    private readonly started: Date,
    private readonly checkLease: () => void,
  ) {}

  async take(candidate: Candidate): Promise<void> {
    let bytes: Buffer;
    try {
      bytes = await this.deps.store.get(candidate.segment);
    } catch (error) {
      if (!(error instanceof ArchivedOfflineError)) throw error;
      this.skip(candidate, 'in the Archive tier');
      return;
    }
    if (sha256Hex(bytes) !== candidate.manifest.sha256) {
      this.skip(candidate, 'does not match its manifest; run `verify`');
      return;
    }
    const records: { entry: StoredEntry; bytes: Buffer }[] = [];
    for (const entry of candidate.entries) {
      if (entry.location.layout !== 'segment') continue;
      const { offset, length, line } = entry.location;
      try {
        const found = recordFromMember(bytes.subarray(offset, offset + length), line, candidate.segment);
        if (sha256Hex(found) !== entry.sha256)
          throw new IntegrityError(`record '${entry.id}' does not verify`);
        records.push({ entry, bytes: found });
      } catch (error) {
        if (!(error instanceof IntegrityError)) throw error;
        this.skip(candidate, `${error.message}; run \`verify\``);
        return;
      }
    }
    if (this.month !== undefined && (candidate.month !== this.month || this.builder.isFull(this.deps.limits)))
      await this.seal();
    this.month = candidate.month;
    for (const { entry, bytes: recordBytes } of records) {
      this.builder.add(recordBytes, {
        id: entry.id,
        customer_id: entry.customer_id,
        created_at: entry.created_at,
        sha256: entry.sha256,
      });
      this.moving.push(entry);
    }
    this.leaving.push(candidate);
  }

  async finish(): Promise<void> {
    if (this.leaving.length > 0) await this.seal();
  }

  private async seal(): Promise<void> {
    const { builder, moving, leaving } = this;
    this.builder = new SegmentBuilder();
    this.moving = [];
    this.leaving = [];
    if (moving.length > 0) {
      this.written += 1;
      const name = segmentName(this.month ?? 'undated', this.runId, this.written);
      const context = { runId: this.runId, archivedAt: this.started.toISOString() };
      const { entries: fresh, bytes } = await writeSegment(this.deps.store, builder, name, context);
      this.report.segments_written += 1;
      this.report.bytes_after += bytes;
      // Entries keep when and by which run their record was archived; only the place changes.
      const repointed: ArchiveEntry[] = fresh.map((entry, i) => ({
        ...entry,
        archived_at: moving[i]?.archived_at ?? entry.archived_at,
        run_id: moving[i]?.run_id ?? entry.run_id,
      }));
      this.checkLease();
      const stored = await this.deps.index.putMany(repointed);
      for (const entry of stored) await withdrawIfTouchedSince(this.deps, entry, this.started.toISOString());
      this.report.records_moved += stored.length;
    }
    for (const old of leaving) {
      this.checkLease();
      if ((await this.deps.index.listAt(old.segment, { limit: 1 })).length > 0) continue;
      await this.deps.store.delete(manifestNameOf(old.segment));
      await this.deps.store.delete(old.segment);
    }
  }

  private skip(candidate: Candidate, reason: string): void {
    this.report.segments_compacted -= 1;
    this.report.bytes_before -= candidate.manifest.bytes;
    this.report.skipped.push({ blob: candidate.segment, reason });
  }
}
