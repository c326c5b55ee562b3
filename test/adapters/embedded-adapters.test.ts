import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { FilesystemArchiveStore } from '../../src/adapters/filesystem/filesystem-archive-store.js';
import { FilesystemAuditTrail } from '../../src/adapters/filesystem/filesystem-audit-trail.js';
import { SqliteArchiveIndex } from '../../src/adapters/sqlite/sqlite-archive-index.js';
import { SqliteDeletionNotes } from '../../src/adapters/sqlite/sqlite-deletion-notes.js';
import { SqliteGarbageQueue } from '../../src/adapters/sqlite/sqlite-garbage-queue.js';
import { SqliteFileLock } from '../../src/adapters/sqlite/sqlite-file-lock.js';
import { SqliteLegalHolds } from '../../src/adapters/sqlite/sqlite-legal-holds.js';
import { SqliteLiveStore } from '../../src/adapters/sqlite/sqlite-live-store.js';
import { SqliteRunLog } from '../../src/adapters/sqlite/sqlite-run-log.js';
import { SqliteRestoreJobs } from '../../src/adapters/sqlite/sqlite-restore-jobs.js';
import { describeArchiveIndexContract } from '../contracts/archive-index-contract.js';
import { describeAuditTrailContract } from '../contracts/audit-trail-contract.js';
import { describeArchiveStoreContract } from '../contracts/archive-store-contract.js';
import { describeDeletionNotesContract } from '../contracts/deletion-notes-contract.js';
import { describeGarbageQueueContract } from '../contracts/garbage-queue-contract.js';
import { describeIndexFamilyContract, indexFamily } from '../contracts/index-family-contract.js';
import { describeLegalHoldsContract } from '../contracts/legal-holds-contract.js';
import { describeLiveStoreContract } from '../contracts/live-store-contract.js';
import { openedStore, type StoreFixture } from '../contracts/store-fixture.js';
import { describeLockContract } from '../contracts/lock-contract.js';
import { describeRunLogContract } from '../contracts/run-log-contract.js';
import { describeRestoreJobsContract } from '../contracts/restore-jobs-contract.js';
import type { StatusFilter } from '../../src/ports/live-store.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Opens an adapter in a fresh temp directory; disposing closes it and removes the directory. */
function inTempDir<T extends { init(): Promise<void>; close(): Promise<void> }>(
  build: (dir: string) => T,
): () => Promise<StoreFixture<T>> {
  return async () => {
    const dir = await tempDir();
    return openedStore(build(dir.path), dir.remove);
  };
}

describeLiveStoreContract(
  'SQLite',
  inTempDir((dir) => new SqliteLiveStore(join(dir, 'live.sqlite'))),
);
describeArchiveIndexContract(
  'SQLite',
  inTempDir((dir) => new SqliteArchiveIndex(join(dir, 'index.sqlite'))),
);
describeGarbageQueueContract(
  'SQLite',
  inTempDir((dir) => new SqliteGarbageQueue(join(dir, 'index.sqlite'))),
);
describeDeletionNotesContract(
  'SQLite',
  inTempDir((dir) => new SqliteDeletionNotes(join(dir, 'index.sqlite'))),
);
describeIndexFamilyContract(
  'SQLite, one file',
  inTempDir((dir) => {
    const path = join(dir, 'index.sqlite');
    return indexFamily({
      index: new SqliteArchiveIndex(path),
      garbage: new SqliteGarbageQueue(path),
      deletions: new SqliteDeletionNotes(path),
    });
  }),
);
describeArchiveStoreContract(
  'filesystem',
  inTempDir((dir) => new FilesystemArchiveStore(join(dir, 'archive'))),
  { tiers: false },
);
describeLockContract(
  'SQLite file lock',
  inTempDir((dir) => new SqliteFileLock(join(dir, 'locks'))),
);
describeRunLogContract(
  'SQLite',
  inTempDir((dir) => new SqliteRunLog(join(dir, 'runs.sqlite'))),
);
describeRestoreJobsContract(
  'SQLite',
  inTempDir((dir) => new SqliteRestoreJobs(join(dir, 'restore-jobs.sqlite'))),
);
describeLegalHoldsContract(
  'SQLite',
  inTempDir((dir) => new SqliteLegalHolds(join(dir, 'legal-holds.sqlite'))),
);
describeAuditTrailContract(
  'filesystem',
  inTempDir((dir) => new FilesystemAuditTrail(join(dir, 'audit'))),
);

describe('SqliteLiveStore', () => {
  it('judges statuses by the document, not by a status column another writer left stale', async () => {
    const dir = await tempDir();
    const path = join(dir.path, 'live.sqlite');
    const store = new SqliteLiveStore(path);
    await store.init();
    try {
      const old = '2020-01-01T00:00:00.000Z';
      for (const [id, status] of [
        ['now-paid', 'paid'],
        ['now-pending', 'pending'],
      ] as const)
        await store.create({ id, customer_id: 'c-1', amount: 1, status, created_at: old, updated_at: old });
      // Another writer changed the documents and not the column.
      const other = new Database(path);
      other.prepare("UPDATE records SET status = 'pending' WHERE id = 'now-paid'").run();
      other.prepare("UPDATE records SET status = 'paid' WHERE id = 'now-pending'").run();
      other.close();
      const ids = async (statuses: StatusFilter) =>
        (await store.findEligible({ touchedBefore: new Date(), limit: 10, statuses })).records.map(
          (record) => record.doc.id,
        );
      expect(await ids({ exclude: ['pending'] })).toEqual(['now-paid']);
      expect(await ids({ only: ['pending'] })).toEqual(['now-pending']);
    } finally {
      await store.close();
      await dir.remove();
    }
  });
});

describe('FilesystemAuditTrail', () => {
  const first = {
    at: '2026-03-01T08:00:00.000Z',
    actor: 'key:ops',
    action: 'record.create',
    outcome: 'succeeded',
    record_id: 'r1',
  } as const;

  it('writes one line per entry to the UTC day file, keys in a fixed order, undefined fields left out', async () => {
    const dir = await tempDir();
    try {
      const trail = new FilesystemAuditTrail(join(dir.path, 'audit'));
      await trail.init();
      await trail.append({
        record_id: 'r1',
        outcome: 'succeeded',
        detail: undefined,
        action: 'record.create',
        actor: 'key:ops',
        at: '2026-03-01T08:00:00.000Z',
      });
      await trail.append({ ...first, at: '2026-03-01T23:59:59.999Z' });
      expect(await readFile(join(dir.path, 'audit', '2026-03-01.ndjson'), 'utf8')).toBe(
        '{"at":"2026-03-01T08:00:00.000Z","actor":"key:ops","action":"record.create","outcome":"succeeded","record_id":"r1"}\n' +
          '{"at":"2026-03-01T23:59:59.999Z","actor":"key:ops","action":"record.create","outcome":"succeeded","record_id":"r1"}\n',
      );
    } finally {
      await dir.remove();
    }
  });

  it('skips a line torn by a crash, and the next append still reads back', async () => {
    const dir = await tempDir();
    try {
      const trail = new FilesystemAuditTrail(join(dir.path, 'audit'));
      await trail.init();
      await trail.append(first);
      const dayFile = join(dir.path, 'audit', '2026-03-01.ndjson');
      // What a crash mid-write leaves: the start of a line and no newline.
      await appendFile(dayFile, '{"at":"2026-03-01T09:00:00.000Z","act');
      expect(await trail.query({ limit: 10 })).toEqual({ items: [first], nextCursor: undefined });

      const next = { ...first, at: '2026-03-01T10:00:00.000Z', record_id: 'r2' };
      await trail.append(next);
      expect(await trail.query({ limit: 10 })).toEqual({ items: [first, next], nextCursor: undefined });
      // Paging steps over the torn line too.
      const page = await trail.query({ limit: 1 });
      expect(page.items).toEqual([first]);
      expect(await trail.query({ limit: 1, cursor: page.nextCursor })).toEqual({
        items: [next],
        nextCursor: undefined,
      });
    } finally {
      await dir.remove();
    }
  });
});
