import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/**
 * Opens a SQLite file for a store: WAL so readers never wait for the archiver, synchronous=FULL so a
 * committed transaction survives power loss (billing records are legal evidence), and a busy timeout
 * so concurrent processes on the same DATA_DIR queue instead of failing.
 */
export function openDatabase(file: string): Database.Database {
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file, { timeout: 5_000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  return db;
}

/** Runs a synchronous SQLite step as a promise, so a throw becomes a rejection like any store's. */
export function attempt<T>(step: () => T): Promise<T> {
  try {
    return Promise.resolve(step());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
