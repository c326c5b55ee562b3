import type { DeletionNotes } from '../../ports/deletion-notes.js';
import { attempt } from './open-database.js';
import { SqliteAdapter } from './sqlite-file.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS archive_deletions (
  id TEXT PRIMARY KEY,
  deleted_at TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS archive_deletions_confirmed (
  id TEXT PRIMARY KEY,
  deleted_at TEXT NOT NULL
) STRICT;
`;

type Table = 'archive_deletions' | 'archive_deletions_confirmed';

/** DeletionNotes in two tables of the index's SQLite file (noted, confirmed), one row per record. */
export class SqliteDeletionNotes extends SqliteAdapter implements DeletionNotes {
  constructor(path: string) {
    super(path, SCHEMA, 'SqliteDeletionNotes');
  }

  note(id: string, at: string): Promise<void> {
    return this.keepLatest('archive_deletions', id, at);
  }

  deletedAt(id: string): Promise<string | undefined> {
    return this.latest('archive_deletions', id);
  }

  confirm(id: string, at: string): Promise<void> {
    return this.keepLatest('archive_deletions_confirmed', id, at);
  }

  confirmedAt(id: string): Promise<string | undefined> {
    return this.latest('archive_deletions_confirmed', id);
  }

  private keepLatest(table: Table, id: string, at: string): Promise<void> {
    return attempt(() => {
      this.file
        .prepare(
          `INSERT INTO ${table} (id, deleted_at) VALUES (?, ?)
           ON CONFLICT (id) DO UPDATE SET deleted_at = max(deleted_at, excluded.deleted_at)`,
        )
        .run(id, at);
    });
  }

  private latest(table: Table, id: string): Promise<string | undefined> {
    return attempt(
      () =>
        this.file
          .prepare<[string], { deleted_at: string }>(`SELECT deleted_at FROM ${table} WHERE id = ?`)
          .get(id)?.deleted_at,
    );
  }
}
