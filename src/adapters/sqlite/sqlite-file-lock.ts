import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { LockHeldError } from '../../domain/errors.js';
import type { Lock, LockLease, LockOwner } from '../../ports/lock.js';

/**
 * Locks held as an open exclusive SQLite transaction on one file per lock name. SQLite takes an OS
 * file lock for it, and the operating system drops that lock the instant the holding process dies,
 * however it dies: a SIGKILLed archiver never blocks the next run. Works across processes sharing a
 * DATA_DIR on one machine, and between connections inside one process.
 */
export class SqliteFileLock implements Lock {
  private readonly held = new Set<Database.Database>();

  constructor(private readonly directory: string) {}

  init(): Promise<void> {
    mkdirSync(this.directory, { recursive: true });
    return Promise.resolve();
  }

  async close(): Promise<void> {
    for (const db of this.held) {
      if (db.inTransaction) db.exec('ROLLBACK');
      db.close();
    }
    this.held.clear();
    await Promise.resolve();
  }

  acquire(name: string, owner: LockOwner): Promise<LockLease> {
    const file = join(this.directory, `${safeName(name)}.lock`);
    const db = new Database(file, { timeout: 0 });
    try {
      db.pragma('journal_mode = DELETE');
      db.exec('BEGIN EXCLUSIVE');
    } catch (error) {
      db.close();
      if (isBusy(error)) {
        return Promise.reject(
          new LockHeldError(`archival is already running (${describeHolder(file) ?? 'holder unknown'})`),
        );
      }
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    try {
      writeHolder(file, owner);
    } catch (error) {
      db.exec('ROLLBACK');
      db.close();
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    this.held.add(db);
    const lost = new AbortController();
    let released = false;
    return Promise.resolve({
      lost: lost.signal,
      release: () => {
        if (released) return Promise.resolve();
        released = true;
        this.held.delete(db);
        db.exec('ROLLBACK');
        db.close();
        return Promise.resolve();
      },
    });
  }
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

/** A side file naming the holder, for the "already running" message; informative only. */
function writeHolder(file: string, owner: LockOwner): void {
  const holder = { run_id: owner.runId, holder: owner.description, since: new Date().toISOString() };
  writeFileSync(`${file}.holder.json`, JSON.stringify(holder));
}

function describeHolder(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(`${file}.holder.json`, 'utf8');
  } catch (error) {
    // The holder may not have written its note yet.
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const holder = JSON.parse(text) as Record<string, string | undefined>;
    return `run ${holder.run_id ?? '?'} by ${holder.holder ?? '?'} since ${holder.since ?? '?'}`;
  } catch (error) {
    // A note caught half-written says nothing; the lock itself is still the truth.
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}
