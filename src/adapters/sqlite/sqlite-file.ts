import type Database from 'better-sqlite3';
import { attempt, openDatabase } from './open-database.js';

/** One SQLite file of an adapter: opened with its schema on init, closed on close. */
export class SqliteFile {
  private handle: Database.Database | undefined;
  /** Prepared once per connection: preparing costs more than running a small statement. */
  private readonly statements = new Map<string, Database.Statement>();

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
    this.statements.clear();
    this.handle?.close();
    this.handle = undefined;
  }

  ping(): void {
    this.db.prepare('SELECT 1').get();
  }

  /** Bytes of the pages a table and its indexes fill in the file (SQLite's `dbstat`). */
  tableBytes(table: string): number {
    const row = this.prepare<[string], { bytes: number | null }>(
      `SELECT SUM(d.pgsize) AS bytes FROM dbstat('main', 1) AS d
         JOIN sqlite_schema AS s ON s.name = d.name WHERE s.tbl_name = ?`,
    ).get(table);
    return row?.bytes ?? 0;
  }

  /** The statement for `sql`, prepared on first use. */
  prepare<P extends unknown[] | Record<string, unknown> = unknown[], R = unknown>(
    sql: string,
  ): Database.Statement<P, R> {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement as Database.Statement<P, R>;
  }

  get db(): Database.Database {
    if (!this.handle) throw new Error(`${this.owner} used before init()`);
    return this.handle;
  }
}

/** What every SQLite adapter does alike: open its file with its schema on init, close it, answer probes. */
export abstract class SqliteAdapter {
  protected readonly file: SqliteFile;

  protected constructor(path: string, schema: string, owner: string) {
    this.file = new SqliteFile(path, schema, owner);
  }

  init(): Promise<void> {
    return attempt(() => {
      this.file.open();
    });
  }

  close(): Promise<void> {
    this.file.close();
    return Promise.resolve();
  }

  ping(): Promise<void> {
    return attempt(() => {
      this.file.ping();
    });
  }
}
