import type Database from 'better-sqlite3';
import { openDatabase } from './open-database.js';

/** One SQLite file of an adapter: opened with its schema on init, closed on close. */
export class SqliteFile {
  private handle: Database.Database | undefined;

  constructor(
    private readonly path: string,
    private readonly schema: string,
    private readonly owner: string,
  ) {}

  open(): void {
    const db = openDatabase(this.path);
    db.exec(this.schema);
    this.handle = db;
  }

  close(): void {
    this.handle?.close();
    this.handle = undefined;
  }

  ping(): void {
    this.db.prepare('SELECT 1').get();
  }

  get db(): Database.Database {
    if (!this.handle) throw new Error(`${this.owner} used before init()`);
    return this.handle;
  }
}
