import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  ArchivedGoneError,
  ArchivedOfflineError,
  IntegrityError,
  ValidationError,
} from '../domain/errors.js';
import type { IndexRebuild } from '../domain/index-root.js';
import { sha256Hex } from '../domain/billing-record.js';
import { recordTimes } from '../domain/record-times.js';
import type { ManifestRecord, SegmentManifest } from '../domain/segment-manifest.js';
import {
  allEntriesIn,
  type ArchiveEntry,
  type ArchiveIndex,
  type IndexReadOptions,
  type StoredEntry,
} from '../ports/archive-index.js';
import type { DeletionNotes } from '../ports/deletion-notes.js';
import type { GarbageQueue } from '../ports/garbage-queue.js';
import type { LiveStore } from '../ports/live-store.js';
import type { Lock } from '../ports/lock.js';
import type { RunLog, VerificationProblem, VerificationRecord } from '../ports/run-log.js';
import { acquireArchivalLocks, throwIfLost } from './archival-locks.js';
import type { ArchiveReader } from './archive-reader.js';
import type { Clock } from './clock.js';
import type { MigrationGate } from './migration-gate.js';
import type { ArchiveLayout, ListedBlob } from './layouts/archive-layout.js';
import type { Layouts } from './layouts/layouts.js';
const PAGE = 500;
const UNREFERENCED_RECORD_BLOB = 'record blob no index entry points to';
/** Findings listed in full per kind; the counts are always complete. */
const LISTED = 50;
/** This pass judges what the index lacks, so it reads it as it stands, even while it is rebuilt. */
const AS_IT_STANDS: IndexReadOptions = { evenIfRebuilding: true };

export interface VerifyOptions {
  /** Rebuild missing index entries from manifests and remove orphans older than the grace period. */
  repair?: boolean;
  /** Orphans younger than this may belong to a run still in flight elsewhere; default 24 h. */
  graceMs?: number;
  /**
   * With `repair`, on an index kept as files: empty the index first, so the repair builds it again
   * whole from the manifests and record blobs (for an index damaged past reading). A rebuild a
   * crash interrupted is finished by any later repair.
   */
  rebuildIndex?: boolean;
  /**
   * Called as the pass goes, for a progress display: the index entries checked of those the index
   * counts (undefined while it is rebuilt), then the archive's blobs checked of those listed.
   */
  onProgress?: (part: 'index entries' | 'blobs', done: number, total: number | undefined) => void;
  /** Who started it, kept with the pass in the history (`cli:<user>@<host>`). */
  startedBy?: string;
}

/** A copy a repair chose to index, and the blob it is in. */
interface ChosenCopy {
  entry: ArchiveEntry;
  from: string;
}

export interface Finding {
  blob: string;
  id?: string;
  message: string;
}

/** A finding about a live record, which has no blob. */
export interface RecordFinding {
  id: string;
  message: string;
}

export interface FindingList<T = Finding> {
  count: number;
  /** The first findings, at most 50. */
  items: T[];
}

export interface VerifyReport {
  ok: boolean;
  checked: {
    entries: number;
    segments: number;
    segment_records: number;
    record_blobs: number;
    live_records: number;
  };
  /** Index entries whose blob or bytes are gone. */
  missing: FindingList;
  /** Bytes that fail their SHA-256, segments that contradict their manifest, entries pointing at the wrong place. */
  corrupt: FindingList;
  /** Records a manifest holds that are neither live, nor indexed, nor deleted: the index lost them. */
  unindexed: FindingList;
  /** Blobs nothing points to (left by crashed or superseded runs); reported, never a failure. */
  orphans: FindingList;
  /** Records in segments no entry points to any more, waiting for `compact`. */
  dead_records: number;
  /**
   * Records both live and indexed: copied by a keep-live run (a normal run finishes the move), or
   * left by a crash between two steps of a run (its next run heals it) or of a restore or update,
   * or by a move racing one (the record's next change heals those); reads serve the live copy.
   */
  live_and_archived: FindingList;
  /** Blobs in the Archive tier, which cannot be read without rehydration: not checked. */
  offline: FindingList;
  /**
   * Live records whose timestamps do not read as instants, which the archiver leaves live: a fault
   * of whatever wrote them, not of the archive, so never a failure.
   */
  not_archivable: FindingList<RecordFinding>;
  /**
   * Records a rebuild of the index indexed again though a delete of them was noted since they were
   * archived: the delete never confirmed it removed them (it failed, a legal hold kept the record
   * from expiring, or its process stopped first). Kept rather than lost; never a failure.
   */
  unconfirmed_deletes: FindingList;
  /**
   * `index_roots_pruned`: roots of a blob-native index superseded long enough ago;
   * `index_counts_recounted`: whether its entry counts were wrong, or by month not kept (a root
   * older than format 3), and were written again from a scan; `index_files_discarded`: the files
   * a rebuild emptied the index of; `index_rebuild_finished`: whether this repair ended a rebuild,
   * its own or one a crash interrupted (0 and false for other indexes).
   */
  repaired: {
    entries_rebuilt: number;
    orphans_removed: number;
    index_roots_pruned: number;
    index_counts_recounted: boolean;
    index_files_discarded: number;
    index_rebuild_finished: boolean;
  };
}

class Findings<T = Finding> {
  readonly list: FindingList<T> = { count: 0, items: [] };
  add(finding: T): void {
    this.list.count += 1;
    if (this.list.items.length < LISTED) this.list.items.push(finding);
  }
}

export interface VerifierDeps {
  live: LiveStore;
  index: ArchiveIndex;
  /** What index changes left behind: record blobs in it are garbage, not lost records. */
  garbage: GarbageQueue;
  deletions: DeletionNotes;
  layouts: Layouts;
  reader: ArchiveReader;
  lock: Lock;
  /** Where each pass is kept, for the console and `doctor` to show the last ones. */
  runLog: RunLog;
  clock: Clock;
  logger: Logger;
  slices: number;
  /** Keeps this work from changing the archive while an index migration is open. */
  migrationGate?: MigrationGate | undefined;
}

/**
 * Checks the archive against itself: every index entry against its blob, every segment against its
 * manifest, every manifest record against the index. Holds the archival locks, so no run changes the
 * archive meanwhile; requests may, and every judgement re-reads what they could have changed.
 */
export class Verifier {
  constructor(private readonly deps: VerifierDeps) {}

  async verify(options: VerifyOptions = {}): Promise<VerifyReport> {
    const { lock, clock, slices } = this.deps;
    const lease = await acquireArchivalLocks(lock, slices, undefined, {
      runId: `verify-${randomUUID().slice(0, 8)}`,
      description: `verify, pid ${process.pid} on ${hostname()}`,
    });
    try {
      if (options.rebuildIndex) {
        if (!options.repair)
          throw new ValidationError('--rebuild-index rebuilds as a repair does: add --repair');
        if (!this.deps.index.upkeep)
          throw new ValidationError(
            '--rebuild-index replaces an index kept as files (ARCHIVE_INDEX=blob); a Cosmos DB or SQLite index is mended entry by entry by --repair alone',
          );
      }
      if (options.repair) await this.deps.migrationGate?.refuseWhileOpen('a repair');
      const startedAt = clock();
      const pass = new VerifyPass(this.deps, options, startedAt, () => {
        throwIfLost(lease);
      });
      const kept = { startedAt, repair: options.repair ?? false, startedBy: options.startedBy ?? 'unknown' };
      let report: VerifyReport;
      try {
        report = await pass.run();
      } catch (error) {
        await this.keep(verificationOf(kept, clock(), { error }));
        throw error;
      }
      await this.keep(verificationOf(kept, clock(), { report }));
      return report;
    } finally {
      await lease.release();
    }
  }

  /** The passes kept, newest first. */
  history(limit: number): Promise<VerificationRecord[]> {
    return this.deps.runLog.listVerifications({ limit });
  }

  /**
   * A pass that could not be kept is logged, not failed: its report is what the caller asked for,
   * and the history only shows it.
   */
  private async keep(verification: VerificationRecord): Promise<void> {
    try {
      await this.deps.runLog.saveVerification(verification);
    } catch (error) {
      this.deps.logger.error(
        { err: error, verification_id: verification.verification_id },
        'could not keep the verify pass in the run history',
      );
    }
  }
}

/** Problems kept with a pass in the history; its full report lists up to LISTED of each kind. */
const PROBLEMS_KEPT = 10;

/** A pass as the history keeps it: counts, the first problems, or why it stopped. */
export function verificationOf(
  pass: { startedAt: Date; repair: boolean; startedBy: string },
  finishedAt: Date,
  ended: { report: VerifyReport } | { error: unknown },
): VerificationRecord {
  const base = {
    verification_id: `verify-${pass.startedAt.toISOString().replace(/[-:.]/g, '')}-${randomUUID().slice(0, 8)}`,
    started_at: pass.startedAt.toISOString(),
    finished_at: finishedAt.toISOString(),
    duration_ms: finishedAt.getTime() - pass.startedAt.getTime(),
    repair: pass.repair,
    started_by: pass.startedBy,
    host: hostname(),
  };
  if ('error' in ended)
    return {
      ...base,
      outcome: 'error',
      error: ended.error instanceof Error ? ended.error.message : String(ended.error),
    };
  const { report } = ended;
  const problems: VerificationProblem[] = (['missing', 'corrupt', 'unindexed'] as const)
    .flatMap((kind) => report[kind].items.map((finding) => ({ kind, ...finding })))
    .slice(0, PROBLEMS_KEPT);
  return {
    ...base,
    outcome: report.ok ? 'passed' : 'failed',
    checked: report.checked,
    findings: {
      missing: report.missing.count,
      corrupt: report.corrupt.count,
      unindexed: report.unindexed.count,
      orphans: report.orphans.count,
      dead_records: report.dead_records,
      live_and_archived: report.live_and_archived.count,
      offline: report.offline.count,
      not_archivable: report.not_archivable.count,
      unconfirmed_deletes: report.unconfirmed_deletes.count,
    },
    problems,
    ...(pass.repair && {
      repaired: {
        entries_rebuilt: report.repaired.entries_rebuilt,
        orphans_removed: report.repaired.orphans_removed,
      },
    }),
  };
}

class VerifyPass {
  private readonly missing = new Findings();
  private readonly corrupt = new Findings();
  private readonly unindexed = new Findings();
  private readonly orphans = new Findings();
  private readonly liveAndArchived = new Findings();
  private readonly offline = new Findings();
  private readonly notArchivable = new Findings<RecordFinding>();
  private readonly checked = {
    entries: 0,
    segments: 0,
    segment_records: 0,
    record_blobs: 0,
    live_records: 0,
  };
  private readonly repaired = {
    entries_rebuilt: 0,
    orphans_removed: 0,
    index_roots_pruned: 0,
    index_counts_recounted: false,
    index_files_discarded: 0,
    index_rebuild_finished: false,
  };
  private deadRecords = 0;
  /** Every blob of the layouts, with its tier where the store has tiers. */
  private blobs = new Map<string, ListedBlob>();
  /** Blobs of the record layout, each holding one record. */
  private readonly recordBlobs = new Set<string>();
  /** Record-layout blobs some entry points to; segments are checked entry by entry per blob. */
  private readonly referencedRecordBlobs = new Set<string>();
  /**
   * What this repair will index, per id: the newest copy found so far among segments and record
   * blobs, written once all are seen, so an older copy is never indexed over a newer one.
   */
  private readonly chosen = new Map<string, ChosenCopy>();
  /** Ids with a copy this pass could not judge (unreadable, or the Archive tier): none is indexed. */
  private readonly undecided = new Set<string>();
  /** Blobs the garbage queue holds, once a record blob needs judging. */
  private garbage: ReadonlySet<string> | undefined;
  /** Segments whose manifests could not be read: which records they hold is unknown. */
  private readonly unlisted = new Set<string>();
  /**
   * The rebuild of the index this pass takes part in, if any: while it stands, a delete counts
   * only once confirmed (see deletedSince), and no orphan is removed.
   */
  private rebuilding: IndexRebuild | undefined;
  private readonly unconfirmedDeletes = new Findings();
  /** Ids this rebuild found with a delete noted since the copy it judged, and never confirmed. */
  private readonly unconfirmed = new Map<string, string>();
  private readonly runId: string;

  constructor(
    private readonly deps: VerifierDeps,
    private readonly options: VerifyOptions,
    private readonly now: Date,
    private readonly checkLease: () => void,
  ) {
    this.runId = `repair-${now.toISOString().replace(/[-:.]/g, '')}-${randomUUID().slice(0, 8)}`;
  }

  async run(): Promise<VerifyReport> {
    const { record, segment } = this.deps.layouts;
    // Only layouts' blobs: `locks/` and `rehydrated/` hold no archived record of their own.
    for (const layout of this.deps.layouts.all)
      for await (const blob of layout.blobs()) {
        this.blobs.set(blob.name, blob);
        if (layout === record) this.recordBlobs.add(blob.name);
      }
    this.rebuilding = await this.rebuildUnderWay();
    await this.checkEntries(this.rebuilding ? undefined : (await this.deps.index.summary()).count);
    /** Record blobs no entry points to, by the id their names carry: judged after the segments. */
    const unreferenced = new Map<string, string[]>();
    const names = [...this.blobs.keys()];
    for (const [done, name] of names.entries()) {
      this.options.onProgress?.('blobs', done, names.length);
      if (segment.isSegment(name)) await this.checkSegment(name);
      else if (segment.isManifest(name) && !this.blobs.has(segment.segmentOf(name)))
        await this.noteOrphan(segment, name, 'manifest whose segment is gone');
      else if (this.recordBlobs.has(name) && !this.referencedRecordBlobs.has(name)) {
        const id = record.idOf(name);
        if (id === undefined) await this.noteOrphan(record, name, UNREFERENCED_RECORD_BLOB);
        else unreferenced.set(id, [...(unreferenced.get(id) ?? []), name]);
      }
    }
    this.options.onProgress?.('blobs', names.length, names.length);
    for (const [id, blobs] of unreferenced) await this.judgeRecordBlobs(id, blobs);
    await this.indexChosen();
    if (this.rebuilding) await this.endRebuild(this.rebuilding);
    await this.checkIndexFiles();
    await this.checkLive();
    return {
      ok: this.missing.list.count + this.corrupt.list.count + this.unindexed.list.count === 0,
      checked: this.checked,
      missing: this.missing.list,
      corrupt: this.corrupt.list,
      unindexed: this.unindexed.list,
      orphans: this.orphans.list,
      dead_records: this.deadRecords,
      live_and_archived: this.liveAndArchived.list,
      offline: this.offline.list,
      not_archivable: this.notArchivable.list,
      unconfirmed_deletes: this.unconfirmedDeletes.list,
      repaired: this.repaired,
    };
  }

  /**
   * The rebuild of the index this pass takes part in, if any: one `--rebuild-index` begins now
   * (emptying the index), or one a crash interrupted, which a repair finishes and a plain verify
   * reports.
   */
  private async rebuildUnderWay(): Promise<IndexRebuild | undefined> {
    const { upkeep } = this.deps.index;
    if (!upkeep) return undefined;
    const interrupted = await upkeep.rebuildUnderWay();
    if (interrupted) {
      if (this.options.repair) {
        this.deps.logger.warn(
          { ...interrupted, repair: this.runId },
          'finishing a rebuild of the archive index',
        );
        return interrupted;
      }
      this.corrupt.add({
        blob: 'index/roots/',
        message: `the archive index is being rebuilt (begun at ${interrupted.started_at} by ${interrupted.by}) and lacks entries until the rebuild ends: verify --repair finishes it`,
      });
      return undefined;
    }
    if (!this.options.rebuildIndex) return undefined;
    // Their records could be indexed again only once rehydrated, and read as unavailable until then.
    const offline = [...this.blobs.keys()].filter((name) => this.inArchiveTier(name));
    if (offline.length > 0)
      throw new ValidationError(
        `${offline.length} archived blobs are in the Archive tier (${offline[0] ?? ''} first): a rebuilt index could hold their records only once they are rehydrated; rehydrate them first, or repair without --rebuild-index`,
      );
    const unlisted = this.manifestless();
    if (unlisted.length > 0)
      throw new ValidationError(
        `${unlisted.length} segments have no manifest (${unlisted[0] ?? ''} first), so a rebuild could not tell which records they hold: restore their manifests, or remove those a run left when it died before writing one (\`verify --repair\` does once they are past the grace period and nothing points into them), then rebuild`,
      );
    const begun = { started_at: this.now.toISOString(), by: this.runId };
    this.checkLease();
    this.repaired.index_files_discarded = await upkeep.beginRebuild(begun);
    this.deps.logger.warn(
      { files: this.repaired.index_files_discarded, repair: this.runId },
      'archive index emptied for a rebuild',
    );
    return begun;
  }

  /** Segments without a manifest: which records they hold cannot be known. */
  private manifestless(): string[] {
    const { segment } = this.deps.layouts;
    return [...this.blobs.keys()].filter(
      (name) => segment.isSegment(name) && !segment.manifestNames(name).some((m) => this.blobs.has(m)),
    );
  }

  /**
   * Ends the rebuild once every copy was judged and the chosen ones indexed. While a record could
   * not be indexed again, or a segment's records not listed, the rebuild stays open: ended, the
   * index would answer "not archived" for such a record, and a create could then shadow it.
   */
  private async endRebuild(rebuild: IndexRebuild): Promise<void> {
    const unindexed = this.unindexed.list.count;
    for (const segment of this.manifestless()) this.unlisted.add(segment);
    if (unindexed > 0 || this.unlisted.size > 0) {
      this.corrupt.add({
        blob: 'index/roots/',
        message: `the rebuild of the archive index stays open: ${unindexed} records could not be indexed again and ${this.unlisted.size} segments' manifests are missing or could not be read (see unindexed, offline, corrupt and orphans); rehydrate or mend them, or remove segments a dead run left without a manifest, then run verify --repair again to finish it`,
      });
      return;
    }
    this.checkLease();
    await this.deps.index.upkeep?.endRebuild();
    this.repaired.index_rebuild_finished = true;
    this.deps.logger.warn(
      {
        ...rebuild,
        entries: this.repaired.entries_rebuilt,
        unindexed: this.unindexed.list.count,
        repair: this.runId,
      },
      'archive index rebuild finished',
    );
  }

  /** Every entry: its blob exists; record-layout bytes verify (segments are checked per segment). */
  private async checkEntries(total: number | undefined): Promise<void> {
    let afterId: string | undefined;
    for (;;) {
      const page = await this.deps.index.list({
        limit: PAGE,
        ...(afterId !== undefined && { afterId }),
        ...AS_IT_STANDS,
      });
      if (page.length === 0) {
        this.options.onProgress?.('index entries', this.checked.entries, total);
        return;
      }
      afterId = page.at(-1)?.id;
      for (const entry of page) {
        this.options.onProgress?.('index entries', this.checked.entries, total);
        this.checked.entries += 1;
        const { blob } = entry.location;
        if (await this.deps.live.get(entry.id))
          this.liveAndArchived.add({
            blob,
            id: entry.id,
            message: 'live and indexed; reads serve the live copy',
          });
        if (!this.blobs.has(blob)) {
          this.missing.add({ blob, id: entry.id, message: `index entry points to ${blob}, which is gone` });
        } else if (entry.location.layout === 'record') {
          this.referencedRecordBlobs.add(blob);
          if (this.inArchiveTier(blob)) {
            this.offline.add({ blob, id: entry.id, message: NOT_READ });
          } else {
            this.checked.record_blobs += 1;
            await this.readRecord(entry);
          }
        }
      }
    }
  }

  /**
   * A blob-native index's own files that no root names (left by commits that crashed or lost their
   * race), and the counts its root keeps against a scan; a repair also prunes its old roots, as
   * every archival run does, and writes wrong counts again from the scan.
   */
  private async checkIndexFiles(): Promise<void> {
    const { upkeep } = this.deps.index;
    if (!upkeep) return;
    if (this.options.repair) {
      this.checkLease();
      this.repaired.index_roots_pruned = await upkeep.pruneRoots();
    }
    for (const orphan of await upkeep.orphans())
      await this.judgeOrphan(orphan.name, orphan.lastModified, 'index file no index root names', () =>
        upkeep.removeOrphan(orphan.name),
      );
    if (this.options.repair) this.checkLease();
    const { kept, counted, months, repaired } = await upkeep.checkCounts({
      repair: this.options.repair ?? false,
    });
    if (repaired) {
      this.repaired.index_counts_recounted = true;
      this.deps.logger.warn({ kept, counted, months, repair: this.runId }, 'archive index counts recounted');
    } else if (kept.count !== counted.count || kept.bytes !== counted.bytes) {
      this.corrupt.add({
        blob: 'index/roots/',
        message: `the archive index counts ${kept.count} entries of ${kept.bytes} bytes, its files hold ${counted.count} of ${counted.bytes}: verify --repair counts them again`,
      });
    } else if (months === 'differ') {
      this.corrupt.add({
        blob: 'index/roots/',
        message: `the archive index's counts by creation month disagree with its files: verify --repair counts them again`,
      });
    }
  }

  /** Every live record: whether the archiver can read its timestamps, whatever its age. */
  private async checkLive(): Promise<void> {
    let afterId: string | undefined;
    for (;;) {
      const page = await this.deps.live.list({ limit: PAGE, ...(afterId !== undefined && { afterId }) });
      if (page.length === 0) return;
      afterId = page.at(-1)?.doc.id;
      for (const { doc } of page) {
        this.checked.live_records += 1;
        const times = recordTimes(doc);
        if (!times.readable)
          this.notArchivable.add({ id: doc.id, message: `not archivable, stays live: ${times.problem}` });
      }
    }
  }

  private inArchiveTier(blob: string): boolean {
    return this.blobs.get(blob)?.tier === 'Archive';
  }

  /** Reads each entry's record to say which are damaged, unless its segment is in the Archive tier. */
  private async readEntriesOf(segment: string, entries: readonly StoredEntry[]): Promise<void> {
    if (this.inArchiveTier(segment)) {
      this.offline.add({ blob: segment, message: NOT_READ });
      return;
    }
    for (const entry of entries) await this.readRecord(entry);
  }

  private async readRecord(entry: StoredEntry): Promise<void> {
    const { blob } = entry.location;
    try {
      await this.deps.reader.read(entry);
    } catch (error) {
      if (error instanceof IntegrityError) this.corrupt.add({ blob, id: entry.id, message: error.message });
      else if (error instanceof ArchivedGoneError)
        this.missing.add({ blob, id: entry.id, message: error.message });
      else if (error instanceof ArchivedOfflineError)
        this.offline.add({ blob, id: entry.id, message: error.message });
      else throw error;
    }
  }

  private async checkSegment(segment: string): Promise<void> {
    const layout = this.deps.layouts.segment;
    const entries = await allEntriesIn(this.deps.index, segment, AS_IT_STANDS);
    if (!layout.manifestNames(segment).some((name) => this.blobs.has(name))) {
      if (entries.length === 0) {
        await this.noteOrphan(layout, segment, 'segment without a manifest, nothing points into it');
        return;
      }
      this.corrupt.add({
        blob: segment,
        message: `${entries.length} entries point into a segment whose manifest is gone`,
      });
      await this.readEntriesOf(segment, entries);
      return;
    }
    // A format 1 manifest went to Archive with its segment: reading it would start a rehydration.
    if (layout.manifestNames(segment).some((name) => this.inArchiveTier(name))) {
      this.unlisted.add(segment);
      this.offline.add({
        blob: segment,
        message:
          'in the Archive tier with its format 1 manifest: neither read, which would start a rehydration',
      });
      return;
    }
    let manifest: SegmentManifest;
    try {
      manifest = await layout.manifestOf(segment);
    } catch (error) {
      if (!(error instanceof ArchivedOfflineError) && !(error instanceof IntegrityError)) throw error;
      this.unlisted.add(segment);
      if (error instanceof ArchivedOfflineError) {
        this.offline.add({ blob: segment, message: error.message });
        return;
      }
      this.corrupt.add({ blob: segment, message: error.message });
      await this.readEntriesOf(segment, entries);
      return;
    }
    // The SHA-256 of each intact record by place. Undefined for a segment in the Archive tier, which
    // is not read (that would start a rehydration): the index is still checked against its manifest,
    // which stays online.
    let hashes: Map<string, string> | undefined;
    if (this.inArchiveTier(segment)) this.offline.add({ blob: segment, message: NOT_READ });
    else {
      try {
        hashes = this.checkAgainstManifest(segment, await layout.bytesOf(segment), manifest);
      } catch (error) {
        // Moved to Archive since it was listed.
        if (!(error instanceof ArchivedOfflineError)) throw error;
        this.offline.add({ blob: segment, message: error.message });
      }
    }
    const byPlace = new Map(manifest.records.map((record) => [layout.placeOf(manifest, record), record]));
    const pointedAt = new Set<string>();
    for (const entry of entries) {
      const place = layout.placeOfEntry(entry);
      const record = byPlace.get(place);
      const hash = hashes?.get(place);
      if (!record || record.id !== entry.id) {
        this.corrupt.add({
          blob: segment,
          id: entry.id,
          message: `index entry '${entry.id}' points to a place in ${segment} that holds ${record ? `'${record.id}'` : 'no record'}`,
        });
      } else if (!layout.sameRange(entry, manifest, record)) {
        this.corrupt.add({
          blob: segment,
          id: entry.id,
          message: `index entry '${entry.id}' gives lengths in ${segment} other than its manifest's`,
        });
      } else if (hashes && hash === undefined) {
        this.corrupt.add({
          blob: segment,
          id: entry.id,
          message: `record '${entry.id}' in ${segment} is damaged`,
        });
      } else if (hash !== undefined && hash !== entry.sha256) {
        this.corrupt.add({
          blob: segment,
          id: entry.id,
          message: `index entry '${entry.id}' has a SHA-256 other than its record's bytes in ${segment}`,
        });
      }
      pointedAt.add(place);
    }
    let stillUsed = entries.length > 0;
    const unpointed = manifest.records.filter((record) => !pointedAt.has(layout.placeOf(manifest, record)));
    // Where the index points the others, asked at once: a look-up per record would probe for a
    // newer index root each time, which a rebuild (every record unpointed) would pay per record.
    const ids = unpointed.map((record) => record.id);
    const found = await this.deps.index.getMany(ids, AS_IT_STANDS);
    const indexed = new Map(ids.map((id, i) => [id, found[i]]));
    for (const record of unpointed) {
      const place = layout.placeOf(manifest, record);
      const hash = hashes?.get(place);
      const elsewhere = indexed.get(record.id);
      if (hash === undefined && indexedEarlier(elsewhere, manifest)) {
        // Archived after the copy the index points to, and not readable here to compare: it may
        // be a later version whose entry was lost, so it is neither dead nor an orphan.
        stillUsed = true;
        this.unindexed.add({
          blob: segment,
          id: record.id,
          message: `record '${record.id}' is in ${segment}, archived after the copy the index points to, and cannot be read here to compare (the Archive tier, or damaged): nothing is changed; rehydrate or mend it, then verify`,
        });
        continue;
      }
      if (await this.isAccountedFor(record, manifest, elsewhere)) {
        this.deadRecords += 1;
        continue;
      }
      stillUsed = true;
      if (this.options.repair && hash !== undefined) {
        this.rebuild(manifest, record, hash);
      } else {
        // A copy not read here may be the newest: no other is indexed in its place.
        if (hash === undefined) this.undecide(record.id);
        this.unindexed.add({
          blob: segment,
          id: record.id,
          message: `record '${record.id}' is in ${segment} but neither live, nor indexed, nor deleted`,
        });
      }
    }
    if (!stillUsed) await this.noteOrphan(layout, segment, 'segment no index entry points into');
  }

  /** The SHA-256 of each record whose bytes match the manifest, by place; mismatches are reported. */
  private checkAgainstManifest(
    segment: string,
    bytes: Buffer,
    manifest: SegmentManifest,
  ): Map<string, string> {
    const layout = this.deps.layouts.segment;
    this.checked.segments += 1;
    if (!layout.matchesManifest(segment, bytes, manifest)) {
      this.corrupt.add({
        blob: segment,
        message: `segment ${segment} does not match its manifest (size or SHA-256)`,
      });
    }
    this.checked.segment_records += manifest.records.length;
    return layout.verifiedHashes(bytes, manifest);
  }

  private undecide(id: string): void {
    this.undecided.add(id);
    this.chosen.delete(id);
  }

  /**
   * Whether a manifest record nothing points to is superseded: live, indexed elsewhere (the entry
   * the index holds for its id, if any), or deleted after.
   */
  private async isAccountedFor(
    record: ManifestRecord,
    manifest: SegmentManifest,
    indexed: StoredEntry | undefined,
  ): Promise<boolean> {
    const chosen = this.chosen.get(record.id);
    if (chosen) return chosen.entry.archived_at >= manifest.archived_at;
    if (indexed) return true;
    if (await this.deps.live.get(record.id)) return true;
    return this.deletedSince(record.id, manifest.archived_at);
  }

  /**
   * Whether the record was deleted at or after `archivedAt`. A delete notes itself before it
   * withdraws the entry, and confirms once the record is gone; a note alone may belong to a delete
   * that failed, or to an expiry a legal hold undid, whose entries still stood. While the index is
   * rebuilt those entries are gone, so only a confirmed delete counts, and a record with a later
   * note unconfirmed is listed (`unconfirmed_deletes`): kept rather than lost.
   */
  private async deletedSince(id: string, archivedAt: string): Promise<boolean> {
    const { deletions } = this.deps;
    if (!this.rebuilding) {
      const deletedAt = await deletions.deletedAt(id);
      return deletedAt !== undefined && deletedAt >= archivedAt;
    }
    const confirmedAt = await deletions.confirmedAt(id);
    if (confirmedAt !== undefined && confirmedAt >= archivedAt) return true;
    const notedAt = await deletions.deletedAt(id);
    if (notedAt !== undefined && notedAt >= archivedAt) this.unconfirmed.set(id, notedAt);
    return false;
  }

  /**
   * The record-layout blobs of one id that no entry points to. Orphans when an index change noted
   * them as garbage (a restore, update, delete or expiry withdrew their entry), or the record is
   * live (a run died before indexing it) or indexed at another copy archived no earlier. Otherwise
   * the index lost the entry of what may be the record's only archived copy: never removed; with
   * no delete of the record ever noted, a repair chooses the newest copy (against one a segment
   * offered too), and with one, it is reported and left as it is, since a copy made before that
   * delete cannot be told here from one made after it.
   */
  private async judgeRecordBlobs(id: string, names: readonly string[]): Promise<void> {
    const layout = this.deps.layouts.record;
    const orphans = async (blobs: readonly string[]) => {
      for (const name of blobs) await this.noteOrphan(layout, name, UNREFERENCED_RECORD_BLOB);
    };
    const fromSegment = this.chosen.get(id);
    // While the index is rebuilt the garbage queue is no proof either: an expiry a hold undid
    // leaves the blob it put back queued until the run's collection, which checks the index.
    const garbage = this.rebuilding ? new Set<string>() : await this.garbageBlobs();
    await orphans(names.filter((name) => garbage.has(name)));
    const left = names.filter((name) => !garbage.has(name));
    const [first] = left;
    if (first === undefined) return;
    if (await this.deps.live.get(id)) return orphans(left);
    const unindexed = (blob: string, why: string) => {
      this.unindexed.add({
        blob,
        id,
        message: `record '${id}' is in ${blob} but neither live nor indexed${why}`,
      });
    };
    const elsewhere = await this.deps.index.get(id, AS_IT_STANDS);
    if (elsewhere) {
      // Superseded only by a copy that is there: an entry whose blob is gone is reported missing,
      // and these may then be the record's last bytes.
      if (!this.blobs.has(elsewhere.location.blob)) return;
      // Nor by an older copy: a blob archived after it (and never withdrawn, or the garbage queue
      // would say so) is a later version whose entry was lost, and a repair that indexed an
      // older copy from a segment must not delete it.
      const indexedAt = Date.parse(elsewhere.archived_at);
      const newer = left.filter((name) => (this.blobs.get(name)?.lastModified.getTime() ?? 0) > indexedAt);
      await orphans(left.filter((name) => !newer.includes(name)));
      for (const name of newer) {
        // The same bytes as the indexed copy are no later version: the place a held copy or a
        // repoint left, whose garbage note a crash cut off (the note follows the change).
        if (await this.sameBytes(name, elsewhere.sha256)) {
          await orphans([name]);
          continue;
        }
        this.unindexed.add({
          blob: name,
          id,
          message: `record '${id}' is in ${name}, archived after the copy the index points to (${elsewhere.location.blob}, archived at ${elsewhere.archived_at}): the index may have lost this later version and serve an older one; nothing is changed, look into it`,
        });
      }
      return;
    }
    // Each early way out leaves the id undecided: a segment's copy chosen for it is not indexed
    // either, since a copy here that could not be judged may be newer.
    // While the index is rebuilt, indexChosen judges deletes as the segments' copies are judged.
    const deletedAt = this.rebuilding ? undefined : await this.deps.deletions.deletedAt(id);
    if (deletedAt !== undefined) {
      this.undecide(id);
      unindexed(first, `, and a delete of it was noted at ${deletedAt}: nothing is changed, look into it`);
      return;
    }
    if (!this.options.repair) {
      unindexed(first, ', nor deleted');
      return;
    }
    const copies: { name: string; entry: ArchiveEntry; updatedAt: string }[] = [];
    for (const name of left) {
      const blob = this.blobs.get(name);
      if (!blob) continue;
      if (this.inArchiveTier(name)) {
        this.undecide(id);
        unindexed(name, ', nor deleted; in the Archive tier: rehydrate it, then repair');
        return;
      }
      const bytes = await layout.read({ layout: 'record', blob: name, offset: 0, length: blob.size });
      const copy = layout.entryOfBlob(name, bytes, blob.lastModified.toISOString(), this.runId);
      if (copy) copies.push({ name, ...copy });
      else
        this.corrupt.add({
          blob: name,
          id,
          message: `${name} does not hold record '${id}' as its name says`,
        });
    }
    // The newest version first (an update dates it; then the later write); of equal ones a held
    // copy, which the lifecycle policy never deletes.
    copies.sort(
      (a, b) =>
        Date.parse(b.updatedAt) - Date.parse(a.updatedAt) ||
        Date.parse(b.entry.archived_at) - Date.parse(a.entry.archived_at) ||
        Number(layout.isHeld(b.entry.location)) - Number(layout.isHeld(a.entry.location)),
    );
    const [newest, ...older] = copies;
    if (!newest) return;
    if (fromSegment) {
      let newer: boolean;
      try {
        newer = await this.newerThanChosen(newest, fromSegment);
      } catch (error) {
        // The segment's copy could not be read again (moved to Archive, gone, damaged): undecided.
        this.undecide(id);
        unindexed(
          newest.name,
          `; its copy in ${fromSegment.from} could not be compared (${error instanceof Error ? error.message : String(error)}): nothing is changed, verify again`,
        );
        return;
      }
      if (!newer) {
        await orphans(copies.map((copy) => copy.name));
        return;
      }
    }
    if (!this.undecided.has(id)) this.chosen.set(id, { entry: newest.entry, from: newest.name });
    await orphans(older.map((copy) => copy.name));
  }

  /** Whether a record blob holds exactly the bytes of `sha256`; one in the Archive tier is not read. */
  private async sameBytes(name: string, sha256: string): Promise<boolean> {
    const blob = this.blobs.get(name);
    if (!blob || this.inArchiveTier(name)) return false;
    try {
      const bytes = await this.deps.layouts.record.read({
        layout: 'record',
        blob: name,
        offset: 0,
        length: blob.size,
      });
      return sha256Hex(bytes) === sha256;
    } catch {
      // Unreadable (gone since the listing, damaged): not shown to be the same, so it is reported.
      return false;
    }
  }

  /**
   * Whether a record blob's copy is a later version than the copy a segment offered for the same
   * id (by the record's own `updated_at`, then by when each was archived), or the same version held.
   */
  private async newerThanChosen(
    copy: { entry: ArchiveEntry; updatedAt: string },
    chosen: ChosenCopy,
  ): Promise<boolean> {
    const chosenUpdatedAt = (await this.deps.reader.read(chosen.entry)).updated_at;
    const byVersion = Date.parse(copy.updatedAt) - Date.parse(chosenUpdatedAt);
    if (byVersion !== 0) return byVersion > 0;
    const byArchival = Date.parse(copy.entry.archived_at) - Date.parse(chosen.entry.archived_at);
    if (byArchival !== 0) return byArchival > 0;
    return this.deps.layouts.record.isHeld(copy.entry.location);
  }

  /**
   * Indexes the copies chosen, a page at a time, each only while its record is still neither live,
   * nor deleted since the copy was archived, nor indexed: requests go on during a repair.
   */
  private async indexChosen(): Promise<void> {
    const chosen = [...this.chosen.values()];
    for (let i = 0; i < chosen.length; i += PAGE) {
      const page = chosen.slice(i, i + PAGE);
      const ids = page.map((copy) => copy.entry.id);
      const indexed = await this.deps.index.getMany(ids, AS_IT_STANDS);
      const writable: ChosenCopy[] = [];
      for (const [j, copy] of page.entries()) {
        if (indexed[j] || (await this.deps.live.get(copy.entry.id))) continue;
        if (await this.deletedSince(copy.entry.id, copy.entry.archived_at)) continue;
        writable.push(copy);
      }
      if (writable.length === 0) continue;
      this.checkLease();
      await this.deps.index.putMany(writable.map((copy) => copy.entry));
      this.repaired.entries_rebuilt += writable.length;
      for (const copy of writable) {
        this.deps.logger.warn(
          { id: copy.entry.id, blob: copy.from, repair: this.runId },
          'index entry rebuilt',
        );
        const notedAt = this.unconfirmed.get(copy.entry.id);
        if (notedAt !== undefined && notedAt >= copy.entry.archived_at)
          this.unconfirmedDeletes.add({
            blob: copy.from,
            id: copy.entry.id,
            message: `record '${copy.entry.id}' is indexed again though a delete of it was noted at ${notedAt}: that delete never confirmed it removed the record (it failed, a legal hold kept the record from expiring, or the process stopped first); delete it again if it was meant to go`,
          });
      }
    }
  }

  /** The blobs the garbage queue holds, read once a pass. */
  private async garbageBlobs(): Promise<ReadonlySet<string>> {
    if (this.garbage) return this.garbage;
    const blobs = new Set<string>();
    let afterSeq: string | undefined;
    for (;;) {
      const page = await this.deps.garbage.list({ limit: PAGE, afterSeq });
      for (const item of page) blobs.add(item.location.blob);
      if (page.length < PAGE) break;
      afterSeq = page.at(-1)?.seq;
    }
    this.garbage = blobs;
    return blobs;
  }

  /** Chooses a segment's copy for the repair to index, unless a newer one turns up. */
  private rebuild(manifest: SegmentManifest, record: ManifestRecord, sha256: string): void {
    if (this.undecided.has(record.id)) return;
    this.chosen.set(record.id, {
      entry: this.deps.layouts.segment.entryOf(manifest, record, sha256),
      from: manifest.segment,
    });
  }

  private async noteOrphan(layout: ArchiveLayout, blob: string, what: string): Promise<void> {
    await this.judgeOrphan(blob, this.blobs.get(blob)?.lastModified, what, () => layout.remove(blob));
  }

  /** Removes the orphan on a repair once older than the grace period; otherwise reports it. */
  private async judgeOrphan(
    blob: string,
    lastModified: Date | undefined,
    what: string,
    remove: () => Promise<void>,
  ): Promise<void> {
    const ageMs = lastModified ? this.now.getTime() - lastModified.getTime() : 0;
    const grace = this.options.graceMs ?? DEFAULT_GRACE_MS;
    // During a rebuild nothing points anywhere yet: what looks unreferenced may be all there is.
    if (this.options.repair && ageMs >= grace && !this.rebuilding) {
      this.checkLease();
      await remove();
      this.repaired.orphans_removed += 1;
      this.deps.logger.warn({ blob, repair: this.runId }, `orphan removed: ${what}`);
      return;
    }
    this.orphans.add({
      blob,
      message: `${what}${this.rebuilding ? ' (kept while the index is rebuilt)' : this.options.repair ? ' (younger than the grace period)' : ''}`,
    });
  }
}

/** Whether the index points a manifest record's id at a copy archived before this segment's. */
function indexedEarlier(indexed: StoredEntry | undefined, manifest: SegmentManifest): boolean {
  return indexed !== undefined && Date.parse(indexed.archived_at) < Date.parse(manifest.archived_at);
}

const DEFAULT_GRACE_MS = 24 * 60 * 60 * 1000;
/** Why a blob in the Archive tier is reported offline: reading it would start a rehydration. */
const NOT_READ = 'in the Archive tier: not read, which would start a rehydration';
