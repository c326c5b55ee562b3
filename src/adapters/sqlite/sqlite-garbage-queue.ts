import type { Garbage, GarbageQueue } from '../../ports/garbage-queue.js';
import { LOCATION_COLUMNS, locationColumns, locationOf, type LocationColumns } from './location-columns.js';
import { attempt } from './open-database.js';
import { SqliteAdapter } from './sqlite-file.js';

interface GarbageRow extends LocationColumns {
  seq: number;
  id: string;
}

// `since` (when the location was noted) is kept for an operator reading the file; nothing reads it.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS archive_garbage (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL,
  ${LOCATION_COLUMNS},
  since TEXT NOT NULL
) STRICT;
`;

/** GarbageQueue in a table of the index's SQLite file; AUTOINCREMENT keeps the noted order. */
export class SqliteGarbageQueue extends SqliteAdapter implements GarbageQueue {
  constructor(path: string) {
    super(path, SCHEMA, 'SqliteGarbageQueue');
  }

  add(items: readonly Omit<Garbage, 'seq'>[]): Promise<void> {
    return attempt(() => {
      const insert = this.file.prepare(
        `INSERT INTO archive_garbage (id, layout, blob, offset, length, line_offset, line_length, since)
         VALUES (@id, @layout, @blob, @offset, @length, @line_offset, @line_length, @since)`,
      );
      const since = new Date().toISOString();
      this.file.db.transaction(() => {
        for (const item of items) insert.run({ id: item.id, ...locationColumns(item.location), since });
      })();
    });
  }

  list(query: { limit: number; afterSeq?: string | undefined }): Promise<Garbage[]> {
    return attempt(() =>
      this.file
        .prepare<[number, number], GarbageRow>(
          'SELECT * FROM archive_garbage WHERE seq > ? ORDER BY seq LIMIT ?',
        )
        .all(Number(query.afterSeq ?? 0), query.limit)
        .map((row) => ({ seq: String(row.seq), id: row.id, location: locationOf(row) })),
    );
  }

  forget(seqs: readonly string[]): Promise<void> {
    return attempt(() => {
      const remove = this.file.prepare('DELETE FROM archive_garbage WHERE seq = ?');
      this.file.db.transaction(() => {
        for (const seq of seqs) remove.run(Number(seq));
      })();
    });
  }
}
