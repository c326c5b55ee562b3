import type { DeletionNotes } from '../../ports/deletion-notes.js';
import { attempt } from './open-database.js';
import { SqliteAdapter } from './sqlite-file.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS archive_deletions (
  id TEXT PRIMARY KEY,
  deleted_at TEXT NOT NULL
) STRICT;
`;

/** DeletionNotes in a table of the index's SQLite file, one row per record. */
export class SqliteDeletionNotes extends SqliteAdapter implements DeletionNotes {
  constructor(path: string) {
    super(path, SCHEMA, 'SqliteDeletionNotes');
  }

  note(id: string, at: string): Promise<void> {
    return attempt(() => {
      this.file
        .prepare(
          `INSERT INTO archive_deletions (id, deleted_at) VALUES (?, ?)
           ON CONFLICT (id) DO UPDATE SET deleted_at = max(deleted_at, excluded.deleted_at)`,
        )
        .run(id, at);
    });
  }

  deletedAt(id: string): Promise<string | undefined> {
    return attempt(
      () =>
        this.file
          .prepare<[string], { deleted_at: string }>('SELECT deleted_at FROM archive_deletions WHERE id = ?')
          .get(id)?.deleted_at,
    );
  }
}
