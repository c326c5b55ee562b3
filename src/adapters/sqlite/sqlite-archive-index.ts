import { randomUUID } from 'node:crypto';
import type { StoredBytes } from '../../domain/cost-model.js';
import { PreconditionFailedError } from '../../domain/errors.js';
import type {
  ArchiveEntry,
  ArchiveIndex,
  ArchiveListQuery,
  MonthSummary,
  StoredEntry,
} from '../../ports/archive-index.js';
import { LOCATION_COLUMNS, locationColumns, locationOf, type LocationColumns } from './location-columns.js';
import { attempt } from './open-database.js';
import { SqliteAdapter } from './sqlite-file.js';

interface EntryRow extends LocationColumns {
  id: string;
  customer_id: string;
  created_at: string;
  sha256: string;
  size: number;
  archived_at: string;
  run_id: string;
  etag: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS archive_index (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  ${LOCATION_COLUMNS},
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  archived_at TEXT NOT NULL,
  run_id TEXT NOT NULL,
  etag TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS archive_index_by_customer ON archive_index (customer_id, id);
CREATE INDEX IF NOT EXISTS archive_index_by_blob ON archive_index (blob, id);
DROP INDEX IF EXISTS archive_index_by_created;
CREATE INDEX IF NOT EXISTS archive_index_by_creation ON archive_index (created_at, id);
CREATE INDEX IF NOT EXISTS archive_index_by_customer_creation ON archive_index (customer_id, created_at, id);
`;

/** ArchiveIndex on a SQLite file (shared with the garbage queue and the deletion notes, in tables of their own). */
export class SqliteArchiveIndex extends SqliteAdapter implements ArchiveIndex {
  constructor(path: string) {
    super(path, SCHEMA, 'SqliteArchiveIndex');
  }

  get(id: string): Promise<StoredEntry | undefined> {
    return attempt(() => {
      const row = this.selectEntry(id);
      return row && toEntry(row);
    });
  }

  getMany(ids: readonly string[]): Promise<(StoredEntry | undefined)[]> {
    return attempt(() => {
      const select = this.file.prepare<[string], EntryRow>('SELECT * FROM archive_index WHERE id = ?');
      // One read transaction: every entry as of the same instant.
      return this.file.db.transaction(() =>
        ids.map((id) => select.get(id)).map((row) => row && toEntry(row)),
      )();
    });
  }

  putMany(entries: readonly ArchiveEntry[]): Promise<StoredEntry[]> {
    return attempt(() =>
      this.file.db
        .transaction(() => {
          const upsert = this.file.prepare(
            `INSERT INTO archive_index
               (id, customer_id, created_at, layout, blob, offset, length, line_offset, line_length, sha256, size,
                archived_at, run_id, etag)
             VALUES (@id, @customer_id, @created_at, @layout, @blob, @offset, @length, @line_offset, @line_length,
                     @sha256, @size, @archived_at, @run_id, @etag)
             ON CONFLICT (id) DO UPDATE SET
               customer_id = excluded.customer_id, created_at = excluded.created_at, layout = excluded.layout,
               blob = excluded.blob, offset = excluded.offset, length = excluded.length,
               line_offset = excluded.line_offset, line_length = excluded.line_length, sha256 = excluded.sha256,
               size = excluded.size, archived_at = excluded.archived_at, run_id = excluded.run_id,
               etag = excluded.etag`,
          );
          return entries.map((entry) => {
            const stored: StoredEntry = { ...entry, etag: randomUUID() };
            upsert.run(toRow(stored));
            return stored;
          });
        })
        .immediate(),
    );
  }

  repoint(from: StoredEntry, to: ArchiveEntry): Promise<StoredEntry | undefined> {
    return attempt(() => {
      const stored: StoredEntry = { ...to, id: from.id, etag: randomUUID() };
      const { changes } = this.file
        .prepare(
          `UPDATE archive_index SET
             customer_id = @customer_id, created_at = @created_at, layout = @layout, blob = @blob,
             offset = @offset, length = @length, line_offset = @line_offset, line_length = @line_length,
             sha256 = @sha256, size = @size, archived_at = @archived_at, run_id = @run_id, etag = @etag
           WHERE id = @id AND etag = @from_etag`,
        )
        .run({ ...toRow(stored), from_etag: from.etag });
      return changes === 1 ? stored : undefined;
    });
  }

  withdraw(id: string, ifMatch?: string): Promise<StoredEntry | undefined> {
    return attempt(() =>
      this.file.db
        .transaction((): StoredEntry | undefined => {
          const row = this.selectEntry(id);
          if (!row) return undefined;
          if (ifMatch !== undefined && row.etag !== ifMatch) {
            throw new PreconditionFailedError(`archive entry '${id}' has changed since version ${ifMatch}`);
          }
          this.file.prepare('DELETE FROM archive_index WHERE id = ?').run(id);
          return toEntry(row);
        })
        .immediate(),
    );
  }

  list(query: ArchiveListQuery): Promise<StoredEntry[]> {
    const where: string[] = [];
    const { byCreation } = query;
    if (byCreation) {
      if (byCreation.after) where.push('(created_at, id) > (@afterCreatedAt, @afterId)');
    } else where.push('id > @afterId');
    if (query.customerId !== undefined) where.push('customer_id = @customerId');
    if (query.blob !== undefined) where.push('blob = @blob');
    if (query.createdFrom !== undefined) where.push('created_at >= @createdFrom');
    if (query.createdBefore !== undefined) where.push('created_at < @createdBefore');
    const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    return attempt(() =>
      this.file
        .prepare<Record<string, unknown>, EntryRow>(
          `SELECT * FROM archive_index ${filter} ORDER BY ${byCreation ? 'created_at, id' : 'id'} LIMIT @limit`,
        )
        .all({
          afterId: byCreation ? (byCreation.after?.id ?? '') : (query.afterId ?? ''),
          afterCreatedAt: byCreation?.after?.createdAt,
          customerId: query.customerId,
          blob: query.blob,
          createdFrom: query.createdFrom,
          createdBefore: query.createdBefore,
          limit: query.limit,
        })
        .map(toEntry),
    );
  }

  storage(): Promise<StoredBytes> {
    return attempt(() => ({ bytes: this.file.tableBytes('archive_index'), from: 'counted' as const }));
  }

  summary(): Promise<{ count: number; bytes: number }> {
    return attempt(() => {
      const row = this.file
        .prepare<[], { count: number; bytes: number | null }>(
          'SELECT COUNT(*) AS count, SUM(size) AS bytes FROM archive_index',
        )
        .get();
      return { count: row?.count ?? 0, bytes: row?.bytes ?? 0 };
    });
  }

  /** Entries keep creation times as UTC text, so the first seven characters are the month. */
  summaryByMonth(): Promise<MonthSummary[]> {
    return attempt(() =>
      this.file
        .prepare<[], MonthSummary>(
          `SELECT substr(created_at, 1, 7) AS month, COUNT(*) AS count, SUM(size) AS bytes
             FROM archive_index GROUP BY month ORDER BY month`,
        )
        .all(),
    );
  }

  private selectEntry(id: string): EntryRow | undefined {
    return this.file.prepare<[string], EntryRow>('SELECT * FROM archive_index WHERE id = ?').get(id);
  }
}

function toEntry(row: EntryRow): StoredEntry {
  return {
    id: row.id,
    customer_id: row.customer_id,
    created_at: row.created_at,
    location: locationOf(row),
    sha256: row.sha256,
    size: row.size,
    archived_at: row.archived_at,
    run_id: row.run_id,
    etag: row.etag,
  };
}

function toRow(entry: StoredEntry): EntryRow {
  return {
    id: entry.id,
    customer_id: entry.customer_id,
    created_at: entry.created_at,
    ...locationColumns(entry.location),
    sha256: entry.sha256,
    size: entry.size,
    archived_at: entry.archived_at,
    run_id: entry.run_id,
    etag: entry.etag,
  };
}
