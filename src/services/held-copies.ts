import type { Logger } from 'pino';
import { ArchivedOfflineError } from '../domain/errors.js';
import { inSlice, type Slice } from '../domain/slices.js';
import type { ArchiveIndex, StoredEntry } from '../ports/archive-index.js';
import { allHolds, type LegalHolds } from '../ports/legal-holds.js';
import type { ArchiveReader } from './archive-reader.js';
import type { Clock } from './clock.js';
import type { RecordLayout } from './layouts/record-layout.js';

/** What became of a held record not yet under `held/`. */
export type HeldCopyOutcome = 'held_copied' | 'held_copy_pending';

export interface HeldCopiesDeps {
  index: ArchiveIndex;
  /** Held copies are record-layout blobs under `held/`, whatever layout the record was archived in. */
  layout: RecordLayout;
  reader: ArchiveReader;
  holds: LegalHolds;
  clock: Clock;
  logger: Logger;
}

/**
 * Copies each archived record under legal hold into a blob of its own under `held/` and points its
 * index entry there; the old place becomes garbage like any other. Runs inside an archival run,
 * under its lock, so no other run moves the same entries.
 */
export class HeldCopies {
  constructor(private readonly deps: HeldCopiesDeps) {}

  /** Copies the held records of `slice`, saying of each whether it was copied or has to wait. */
  async *keep(
    runId: string,
    checkLease: () => void,
    slice: Slice | undefined,
  ): AsyncGenerator<HeldCopyOutcome> {
    for (const hold of await allHolds(this.deps.holds)) {
      if (!inSlice(hold.record_id, slice)) continue;
      const entry = await this.deps.index.get(hold.record_id);
      if (!entry || this.deps.layout.isHeld(entry.location)) continue;
      checkLease();
      try {
        await this.copy(entry, runId);
      } catch (error) {
        if (!(error instanceof ArchivedOfflineError)) throw error;
        // The read started the rehydration; a later run copies it once it is online.
        this.deps.logger.warn(
          { runId, id: entry.id, blob: entry.location.blob },
          'held record is in the Archive tier; its copy waits for the rehydration',
        );
        yield 'held_copy_pending';
        continue;
      }
      yield 'held_copied';
    }
  }

  private async copy(entry: StoredEntry, runId: string): Promise<void> {
    const held = await this.deps.layout.writeHeld(entry, await this.deps.reader.readBytes(entry));
    // Only while the entry is still the one read: a delete or restore meanwhile wins.
    await this.deps.index.repoint(entry, held);
    this.deps.logger.info(
      { runId, id: entry.id, from: entry.location.blob, to: held.location.blob },
      'held record copied',
    );
  }
}
