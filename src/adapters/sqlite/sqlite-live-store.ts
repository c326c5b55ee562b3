import { randomUUID } from 'node:crypto';
import type { RecordDocument } from '../../domain/billing-record.js';
import type { StoredBytes } from '../../domain/cost-model.js';
import { ConflictError, NotFoundError, PreconditionFailedError } from '../../domain/errors.js';
import { recordTimes } from '../../domain/record-times.js';
import {
  judgeEligible,
  type EligiblePage,
  type LiveListQuery,
  type LiveStore,
  type LiveSummary,
  type StatusFilter,
  type StoredRecord,
} from '../../ports/live-store.js';
import { attempt } from './open-database.js';
import { SqliteAdapter } from './sqlite-file.js';

interface RecordRow {
  doc: string;
  etag: string;
}

/**
 * Sorts after every instant: `touched_ms` when no timestamp reads, `created_ms` when the record is
 * not archivable (some timestamp does not read), which puts such records last in a pass.
 */
const UNKNOWN_TOUCH = Number.MAX_SAFE_INTEGER;

/** The creation time as the document keeps it: listings in creation order sort on this text. */
const CREATED_AT = "json_extract(doc, '$.created_at')";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS records (
id TEXT PRIMARY KEY,
doc TEXT NOT NULL,
etag TEXT NOT NULL,
customer_id TEXT,
status TEXT,
touched_ms INTEGER NOT NULL,
created_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS records_by_touch ON records (touched_ms, id);
CREATE INDEX IF NOT EXISTS records_by_creation ON records (created_ms, id, touched_ms);
CREATE INDEX IF NOT EXISTS records_by_customer ON records (customer_id, id);
CREATE INDEX IF NOT EXISTS records_by_created_at ON records (${CREATED_AT}, id);
CREATE INDEX IF NOT EXISTS records_by_customer_created_at ON records (customer_id, ${CREATED_AT}, id);
`;

/** LiveStore on a SQLite file: the document as JSON text plus the columns queries need. */
export class SqliteLiveStore extends SqliteAdapter implements LiveStore {
  constructor(path: string) {
    super(path, SCHEMA, 'SqliteLiveStore');
  }

  get(id: string): Promise<StoredRecord | undefined> {
    return attempt(() => {
      const row = this.file
        .prepare<[string], RecordRow>('SELECT doc, etag FROM records WHERE id = ?')
        .get(id);
      return row && toStored(row);
    });
  }

  create(doc: RecordDocument): Promise<StoredRecord> {
    return attempt(() => {
      const etag = randomUUID();
      const result = this.file
        .prepare(
          `INSERT INTO records (id, doc, etag, customer_id, status, touched_ms, created_ms)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO NOTHING`,
        )
        .run(...columns(doc, etag));
      if (result.changes === 0)
        throw new ConflictError(`a record with id '${doc.id}' exists`, 'duplicate_id');
      return { doc, etag };
    });
  }

  replace(doc: RecordDocument, ifMatch?: string): Promise<StoredRecord> {
    return attempt(() => {
      const db = this.file.db;
      const etag = randomUUID();
      db.transaction(() => {
        const current = db
          .prepare<[string], { etag: string }>('SELECT etag FROM records WHERE id = ?')
          .get(doc.id);
        if (!current) throw new NotFoundError(`record '${doc.id}' not found`);
        if (ifMatch !== undefined && current.etag !== ifMatch) {
          throw new PreconditionFailedError(`record '${doc.id}' has changed since version ${ifMatch}`);
        }
        const [id, text, newEtag, customerId, status, touched, created] = columns(doc, etag);
        this.file
          .prepare(
            `UPDATE records SET doc = ?, etag = ?, customer_id = ?, status = ?, touched_ms = ?, created_ms = ?
           WHERE id = ?`,
          )
          .run(text, newEtag, customerId, status, touched, created, id);
      }).immediate();
      return { doc, etag };
    });
  }

  delete(id: string, ifMatch?: string): Promise<boolean> {
    return attempt(() => {
      const db = this.file.db;
      return db
        .transaction((): boolean => {
          const current = db
            .prepare<[string], { etag: string }>('SELECT etag FROM records WHERE id = ?')
            .get(id);
          if (!current) return false;
          if (ifMatch !== undefined && current.etag !== ifMatch) {
            throw new PreconditionFailedError(`record '${id}' has changed since version ${ifMatch}`);
          }
          this.file.prepare('DELETE FROM records WHERE id = ?').run(id);
          return true;
        })
        .immediate();
    });
  }

  /** One transaction for the whole set: one fsync instead of one per record. */
  deleteMany(items: readonly { id: string; etag: string }[]): Promise<boolean[]> {
    return attempt(() => {
      const remove = this.file.prepare('DELETE FROM records WHERE id = ? AND etag = ?');
      return this.file.db
        .transaction(() => items.map((item) => remove.run(item.id, item.etag).changes === 1))
        .immediate();
    });
  }

  /**
   * Pages in (creation, id) order, so a segment fills with one month at a time; the continuation is
   * the position of the page's last row. Creation never follows the last touch, so the cutoff
   * bounds the index range too. Records that are not archivable come last, to be reported. The
   * columns only pre-select (rows written before they were computed strictly may be off);
   * `judgeEligible` decides.
   */
  findEligible(query: {
    touchedBefore: Date;
    limit: number;
    continuation?: string | undefined;
    statuses?: StatusFilter | undefined;
  }): Promise<EligiblePage> {
    return attempt(() => {
      const after =
        query.continuation === undefined
          ? { t: Number.MIN_SAFE_INTEGER, id: '' }
          : parseCursor(query.continuation);
      const statuses = statusCondition(query.statuses);
      const rows = this.file
        .prepare<
          { cutoff: number; unknown: number; t: number; id: string; limit: number; statuses?: string },
          RecordRow & { created_ms: number; id: string }
        >(
          `SELECT id, doc, etag, created_ms FROM records
           WHERE created_ms < @cutoff AND touched_ms < @cutoff AND (created_ms, id) > (@t, @id)${statuses}
           UNION ALL
           SELECT id, doc, etag, created_ms FROM records
           WHERE created_ms = @unknown AND (touched_ms < @cutoff OR touched_ms = @unknown)
             AND (created_ms, id) > (@t, @id)${statuses}
           ORDER BY created_ms, id LIMIT @limit`,
        )
        .all({
          cutoff: query.touchedBefore.getTime(),
          unknown: UNKNOWN_TOUCH,
          t: after.t,
          id: after.id,
          limit: query.limit,
          // A JSON array, read by json_each: one statement whatever the statuses.
          ...(query.statuses && {
            statuses: JSON.stringify('only' in query.statuses ? query.statuses.only : query.statuses.exclude),
          }),
        });
      const last = rows.at(-1);
      return {
        ...judgeEligible(rows.map(toStored), query.touchedBefore, query.statuses),
        continuation:
          last && rows.length === query.limit
            ? JSON.stringify({ t: last.created_ms, id: last.id })
            : undefined,
      };
    });
  }

  list(query: LiveListQuery): Promise<StoredRecord[]> {
    const where: string[] = [];
    const { byCreation } = query;
    if (byCreation) {
      if (byCreation.after) where.push(`(${CREATED_AT}, id) > (@afterCreatedAt, @afterId)`);
    } else where.push('id > @afterId');
    if (byCreation || query.createdFrom !== undefined || query.createdBefore !== undefined)
      where.push(`json_type(doc, '$.created_at') = 'text'`);
    if (query.customerId !== undefined) where.push('customer_id = @customerId');
    if (query.status !== undefined) where.push('status = @status');
    if (query.createdFrom !== undefined) where.push(`${CREATED_AT} >= @createdFrom`);
    if (query.createdBefore !== undefined) where.push(`${CREATED_AT} < @createdBefore`);
    if (query.ids !== undefined) where.push('id IN (SELECT value FROM json_each(@ids))');
    const order = byCreation ? `${CREATED_AT}, id` : 'id';
    return attempt(() =>
      this.file
        .prepare<Record<string, unknown>, RecordRow>(
          `SELECT doc, etag FROM records WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT @limit`,
        )
        .all({
          afterId: byCreation ? (byCreation.after?.id ?? '') : (query.afterId ?? ''),
          afterCreatedAt: byCreation?.after?.createdAt,
          customerId: query.customerId,
          status: query.status,
          createdFrom: query.createdFrom,
          createdBefore: query.createdBefore,
          ids: query.ids && JSON.stringify(query.ids),
          limit: query.limit,
        })
        .map(toStored),
    );
  }

  storage(): Promise<StoredBytes> {
    return attempt(() => {
      const row = this.file
        .prepare<[], { bytes: number | null }>('SELECT SUM(LENGTH(CAST(doc AS BLOB))) AS bytes FROM records')
        .get();
      return { bytes: row?.bytes ?? 0, from: 'counted' as const };
    });
  }

  summary(): Promise<LiveSummary> {
    return attempt(() => {
      const row = this.file
        .prepare<[], { count: number; oldest: number | null }>(
          `SELECT COUNT(*) AS count, MIN(NULLIF(touched_ms, ${UNKNOWN_TOUCH})) AS oldest FROM records`,
        )
        .get();
      const oldest = row?.oldest ?? null;
      return {
        count: row?.count ?? 0,
        oldestTouchedAt: oldest === null ? undefined : new Date(oldest).toISOString(),
      };
    });
  }
}

function columns(
  doc: RecordDocument,
  etag: string,
): [string, string, string, string | null, string | null, number, number] {
  const customerId = typeof doc.customer_id === 'string' ? doc.customer_id : null;
  const status = typeof doc.status === 'string' ? doc.status : null;
  const times = recordTimes(doc);
  return [
    doc.id,
    JSON.stringify(doc),
    etag,
    customerId,
    status,
    times.lastTouchMs ?? UNKNOWN_TOUCH,
    times.readable ? times.createdMs : UNKNOWN_TOUCH,
  ];
}

function toStored(row: RecordRow): StoredRecord {
  return { doc: JSON.parse(row.doc) as RecordDocument, etag: row.etag };
}

function parseCursor(continuation: string): { t: number; id: string } {
  const cursor = JSON.parse(continuation) as { t?: unknown; id?: unknown };
  if (typeof cursor.t !== 'number' || typeof cursor.id !== 'string')
    throw new Error(`invalid continuation '${continuation}'`);
  return { t: cursor.t, id: cursor.id };
}

/**
 * The condition a status filter adds to a pass's query (`@statuses` is a JSON array), on the
 * document's own status: a row another writer left with a stale `status` column is judged right.
 */
function statusCondition(filter: StatusFilter | undefined): string {
  if (!filter) return '';
  const text = "json_type(doc, '$.status') IS 'text'";
  const listed = "json_extract(doc, '$.status') IN (SELECT value FROM json_each(@statuses))";
  return 'only' in filter ? ` AND ${text} AND ${listed}` : ` AND NOT (${text} AND ${listed})`;
}
